#include "tokenizer/pre_tokenizer.h"

#include "tokenizer/byte_level_map.h"
#include "util/json_file.h"
#include "tokenizer/pcre_regex.h"
#include "util/error.h"

namespace llmq {

const char* const kGpt2SplitRegex = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

namespace {

constexpr const char* kMetaspace = "\xE2\x96\x81";  // U+2581 '▁'

// What happens to the parts of a word that the pattern matches
// (tokenizers' SplitDelimiterBehavior).
enum class Behavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

Behavior behavior_from_name(const std::string& name) {
  if (name == "Removed") return Behavior::Removed;
  if (name == "Isolated") return Behavior::Isolated;
  if (name == "MergedWithPrevious") return Behavior::MergedWithPrevious;
  if (name == "MergedWithNext") return Behavior::MergedWithNext;
  if (name == "Contiguous") return Behavior::Contiguous;
  fail("unknown Split behavior '{}'", name);
}

// Cuts text at the pattern's matches and regroups the parts according to
// behavior, with the same folding rules as tokenizers, emitting as it goes.
class SpanGrouper {
 public:
  SpanGrouper(std::string_view text, bool at_input_start, Behavior behavior, const WordSink& emit)
      : text_(text), at_input_start_(at_input_start), behavior_(behavior), emit_(emit) {}

  // Spans arrive in order and tile the text.
  void add(size_t begin, size_t end, bool is_match) {
    switch (behavior_) {
      case Behavior::Isolated:
        send(begin, end);
        return;
      case Behavior::Removed:
        if (!is_match) send(begin, end);
        return;
      case Behavior::MergedWithPrevious:
        // A match joins the part before it, unless that part is a match too.
        if (is_match && !previous_match_ && has_pending_) {
          pending_end_ = end;
        } else {
          replace_pending(begin, end);
        }
        break;
      case Behavior::MergedWithNext:
        // A match joins the part after it, unless that part is a match too.
        if (!is_match && previous_match_ && has_pending_) {
          pending_end_ = end;
          send(pending_begin_, pending_end_);
          has_pending_ = false;
        } else {
          replace_pending(begin, end);
        }
        break;
      case Behavior::Contiguous:
        if (is_match == previous_match_ && has_pending_) {
          pending_end_ = end;
        } else {
          replace_pending(begin, end);
        }
        break;
    }
    previous_match_ = is_match;
  }

  void finish() {
    if (has_pending_) send(pending_begin_, pending_end_);
    has_pending_ = false;
  }

 private:
  void replace_pending(size_t begin, size_t end) {
    if (has_pending_) send(pending_begin_, pending_end_);
    pending_begin_ = begin;
    pending_end_ = end;
    has_pending_ = true;
  }
  void send(size_t begin, size_t end) {
    if (end > begin) emit_(text_.substr(begin, end - begin), at_input_start_ && begin == 0);
  }

  std::string_view text_;
  bool at_input_start_;
  Behavior behavior_;
  const WordSink& emit_;
  bool previous_match_ = false;
  bool has_pending_ = false;
  size_t pending_begin_ = 0, pending_end_ = 0;
};

void split_by_regex(std::string_view text, bool at_input_start, const Pcre2Regex& regex, Behavior behavior,
                    bool invert, const WordSink& emit) {
  SpanGrouper grouper(text, at_input_start, behavior, emit);
  size_t last = 0;
  regex.for_each_match(text, [&](size_t b, size_t e) {
    if (b > last) grouper.add(last, b, invert);
    grouper.add(b, e, !invert);
    last = e;
  });
  if (last < text.size()) grouper.add(last, text.size(), invert);
  grouper.finish();
}

class SequencePreTokenizer final : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> steps) : steps_(std::move(steps)) {}
  void split(std::string_view text, bool at_input_start, const WordSink& emit) const override {
    run_from(0, text, at_input_start, emit);
  }
  std::string split_regex() const override {
    for (const auto& step : steps_) {
      if (auto r = step->split_regex(); !r.empty()) return r;
    }
    return {};
  }
  bool is_byte_level() const override {
    for (const auto& step : steps_) {
      if (step->is_byte_level()) return true;
    }
    return false;
  }

 private:
  // Feeds each word of step i into step i + 1.
  void run_from(size_t i, std::string_view text, bool at_input_start, const WordSink& emit) const {
    if (i == steps_.size()) {
      if (!text.empty()) emit(text, at_input_start);
      return;
    }
    steps_[i]->split(text, at_input_start,
                     [&](std::string_view word, bool at_start) { run_from(i + 1, word, at_start, emit); });
  }

  std::vector<std::unique_ptr<PreTokenizer>> steps_;
};

class SplitPreTokenizer final : public PreTokenizer {
 public:
  // is_split_step: false for the fixed patterns of Digits and Whitespace, whose
  // regex is not "the Split regex" of the tokenizer.
  SplitPreTokenizer(const std::string& pattern, bool literal, Behavior behavior, bool invert, bool is_split_step)
      : regex_(pattern, literal), reports_regex_(is_split_step && !literal), behavior_(behavior), invert_(invert) {}
  void split(std::string_view text, bool at_input_start, const WordSink& emit) const override {
    split_by_regex(text, at_input_start, regex_, behavior_, invert_, emit);
  }
  std::string split_regex() const override { return reports_regex_ ? regex_.pattern() : std::string(); }

 private:
  Pcre2Regex regex_;
  bool reports_regex_;
  Behavior behavior_;
  bool invert_;
};

class ByteLevelPreTokenizer final : public PreTokenizer {
 public:
  ByteLevelPreTokenizer(bool add_prefix_space, bool use_regex) : add_prefix_space_(add_prefix_space) {
    if (use_regex) regex_ = std::make_unique<Pcre2Regex>(kGpt2SplitRegex);
  }
  void split(std::string_view text, bool at_input_start, const WordSink& emit) const override {
    std::string prefixed;
    if (add_prefix_space_ && (text.empty() || text[0] != ' ')) {
      prefixed = " ";
      prefixed += text;
      text = prefixed;
    }
    const auto map_bytes = [&](std::string_view word, bool at_start) { emit(byte_level::encode(word), at_start); };
    if (regex_) {
      split_by_regex(text, at_input_start, *regex_, Behavior::Isolated, false, map_bytes);
    } else if (!text.empty()) {
      map_bytes(text, at_input_start);
    }
  }
  std::string split_regex() const override { return regex_ ? regex_->pattern() : std::string(); }
  bool is_byte_level() const override { return true; }

 private:
  bool add_prefix_space_;
  std::unique_ptr<Pcre2Regex> regex_;
};

// SentencePiece's whitespace handling: spaces become the replacement
// character, optionally prepended, and each word starts at a replacement.
class MetaspacePreTokenizer final : public PreTokenizer {
 public:
  enum class Prepend { Always, First, Never };
  MetaspacePreTokenizer(std::string replacement, Prepend prepend, bool split)
      : replacement_(std::move(replacement)), prepend_(prepend), split_(split), replacement_regex_(replacement_, true) {}
  void split(std::string_view text, bool at_input_start, const WordSink& emit) const override {
    std::string s;
    s.reserve(text.size() + replacement_.size());
    for (char c : text) {
      if (c == ' ') {
        s += replacement_;
      } else {
        s.push_back(c);
      }
    }
    const bool starts_with_replacement = s.compare(0, replacement_.size(), replacement_) == 0;
    const bool prepend = !starts_with_replacement &&
                         (prepend_ == Prepend::Always || (prepend_ == Prepend::First && at_input_start));
    if (prepend) s.insert(0, replacement_);
    if (split_) {
      split_by_regex(s, at_input_start, replacement_regex_, Behavior::MergedWithNext, false, emit);
    } else if (!s.empty()) {
      emit(s, at_input_start);
    }
  }

 private:
  std::string replacement_;
  Prepend prepend_;
  bool split_;
  Pcre2Regex replacement_regex_;
};

// Parses Metaspace's prepend setting in both spellings: "prepend_scheme"
// (tokenizers >= 0.14) and the older boolean "add_prefix_space" (also seen
// as "add_dummy_prefix", SentencePiece's name for it).
MetaspacePreTokenizer::Prepend metaspace_prepend(const nlohmann::json& spec) {
  if (auto scheme = json_value<std::string>(spec, "prepend_scheme")) {
    if (*scheme == "always") return MetaspacePreTokenizer::Prepend::Always;
    if (*scheme == "first") return MetaspacePreTokenizer::Prepend::First;
    if (*scheme == "never") return MetaspacePreTokenizer::Prepend::Never;
    fail("unknown Metaspace prepend_scheme '{}'", *scheme);
  }
  auto add = json_value<bool>(spec, "add_prefix_space");
  if (!add) add = json_value<bool>(spec, "add_dummy_prefix");
  return add.value_or(true) ? MetaspacePreTokenizer::Prepend::Always : MetaspacePreTokenizer::Prepend::Never;
}

std::string metaspace_replacement(const nlohmann::json& spec) {
  if (auto r = json_value<std::string>(spec, "replacement")) return *r;
  if (auto r = json_value<std::string>(spec, "str_rep")) return *r;
  return kMetaspace;
}

std::pair<std::string, bool> split_pattern(const nlohmann::json& spec) {
  const auto& p = spec.at("pattern");
  if (p.contains("String")) return {p.at("String").get<std::string>(), true};
  if (p.contains("Regex")) return {p.at("Regex").get<std::string>(), false};
  fail("Split pattern must have \"String\" or \"Regex\"");
}

}  // namespace

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const nlohmann::json& spec) {
  if (spec.is_null()) return nullptr;
  const std::string type = spec.at("type").get<std::string>();
  if (type == "Sequence") {
    std::vector<std::unique_ptr<PreTokenizer>> steps;
    for (const auto& s : spec.at("pretokenizers")) {
      if (auto p = make_pre_tokenizer(s)) steps.push_back(std::move(p));
    }
    return std::make_unique<SequencePreTokenizer>(std::move(steps));
  }
  if (type == "Split") {
    auto [pattern, literal] = split_pattern(spec);
    return std::make_unique<SplitPreTokenizer>(pattern, literal,
                                               behavior_from_name(spec.at("behavior").get<std::string>()),
                                               json_value<bool>(spec, "invert").value_or(false), true);
  }
  if (type == "ByteLevel") {
    return std::make_unique<ByteLevelPreTokenizer>(json_value<bool>(spec, "add_prefix_space").value_or(true),
                                                   json_value<bool>(spec, "use_regex").value_or(true));
  }
  if (type == "Metaspace") {
    return std::make_unique<MetaspacePreTokenizer>(metaspace_replacement(spec), metaspace_prepend(spec),
                                                   json_value<bool>(spec, "split").value_or(true));
  }
  if (type == "Digits") {
    const bool individual = json_value<bool>(spec, "individual_digits").value_or(false);
    return std::make_unique<SplitPreTokenizer>(individual ? R"(\p{N})" : R"(\p{N}+)", false,
                                               individual ? Behavior::Isolated : Behavior::Contiguous, false, false);
  }
  if (type == "Whitespace") {
    return std::make_unique<SplitPreTokenizer>(R"(\w+|[^\w\s]+)", false, Behavior::Removed, true, false);
  }
  if (type == "WhitespaceSplit") {
    return std::make_unique<SplitPreTokenizer>(R"(\s+)", false, Behavior::Removed, false, false);
  }
  fail("unsupported pre_tokenizer type '{}'", type);
}

}  // namespace llmq
