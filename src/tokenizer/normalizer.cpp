#include "tokenizer/normalizer.h"

#include <vector>

#include "util/json_file.h"
#include "tokenizer/pcre_regex.h"
#include "util/error.h"

namespace llmq {
namespace {

class SequenceNormalizer final : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> steps) : steps_(std::move(steps)) {}
  std::string normalize(std::string_view text) const override {
    std::string s(text);
    for (const auto& step : steps_) s = step->normalize(s);
    return s;
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> steps_;
};

class PrependNormalizer final : public Normalizer {
 public:
  explicit PrependNormalizer(std::string prefix) : prefix_(std::move(prefix)) {}
  std::string normalize(std::string_view text) const override {
    if (text.empty()) return {};  // tokenizers leaves empty strings alone
    std::string s;
    s.reserve(prefix_.size() + text.size());
    s += prefix_;
    s += text;
    return s;
  }

 private:
  std::string prefix_;
};

// Replace with a literal pattern or a regex; both go through PCRE2.
class ReplaceNormalizer final : public Normalizer {
 public:
  ReplaceNormalizer(const std::string& pattern, bool literal, std::string content)
      : regex_(pattern, literal), content_(std::move(content)) {}
  std::string normalize(std::string_view text) const override {
    std::string s;
    s.reserve(text.size() + text.size() / 4);
    size_t last = 0;
    for (const auto& [begin, end] : regex_.find_all(text)) {
      s.append(text.substr(last, begin - last));
      s += content_;
      last = end;
    }
    s.append(text.substr(last));
    return s;
  }

 private:
  Pcre2Regex regex_;
  std::string content_;
};

class StripNormalizer final : public Normalizer {
 public:
  StripNormalizer(bool left, bool right) : left_(left), right_(right) {}
  std::string normalize(std::string_view text) const override {
    const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; };
    size_t b = 0, e = text.size();
    if (left_) {
      while (b < e && space(text[b])) ++b;
    }
    if (right_) {
      while (e > b && space(text[e - 1])) --e;
    }
    return std::string(text.substr(b, e - b));
  }

 private:
  bool left_, right_;
};

class AsciiLowercaseNormalizer final : public Normalizer {
 public:
  std::string normalize(std::string_view text) const override {
    std::string s(text);
    for (char& c : s) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return s;
  }
};

// NFC is taken as the identity: nearly all text (and all of our data) is
// already in NFC, and composing the rest would need ICU. Qwen2-family
// tokenizer.json files declare NFC, so refusing it would refuse them.
class IdentityNormalizer final : public Normalizer {
 public:
  std::string normalize(std::string_view text) const override { return std::string(text); }
};

// The "pattern" of Replace and Split: {"String": "..."} or {"Regex": "..."}.
std::pair<std::string, bool> pattern_of(const nlohmann::json& spec) {
  const auto& p = spec.at("pattern");
  if (p.contains("String")) return {p.at("String").get<std::string>(), true};
  if (p.contains("Regex")) return {p.at("Regex").get<std::string>(), false};
  fail("pattern must have \"String\" or \"Regex\"");
}

}  // namespace

std::unique_ptr<Normalizer> make_normalizer(const nlohmann::json& spec) {
  if (spec.is_null()) return nullptr;
  const std::string type = spec.at("type").get<std::string>();
  if (type == "Sequence") {
    std::vector<std::unique_ptr<Normalizer>> steps;
    for (const auto& s : spec.at("normalizers")) {
      if (auto n = make_normalizer(s)) steps.push_back(std::move(n));
    }
    return std::make_unique<SequenceNormalizer>(std::move(steps));
  }
  if (type == "Prepend") return std::make_unique<PrependNormalizer>(spec.at("prepend").get<std::string>());
  if (type == "Replace") {
    auto [pattern, literal] = pattern_of(spec);
    return std::make_unique<ReplaceNormalizer>(pattern, literal, spec.at("content").get<std::string>());
  }
  if (type == "Strip") {
    return std::make_unique<StripNormalizer>(json_value<bool>(spec, "strip_left").value_or(true),
                                             json_value<bool>(spec, "strip_right").value_or(true));
  }
  if (type == "Lowercase") return std::make_unique<AsciiLowercaseNormalizer>();
  if (type == "NFC") return std::make_unique<IdentityNormalizer>();
  fail("unsupported normalizer type '{}'", type);
}

}  // namespace llmq
