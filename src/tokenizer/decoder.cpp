#include "tokenizer/decoder.h"

#include <optional>

#include "tokenizer/byte_level_map.h"
#include "util/json_file.h"
#include "tokenizer/utf8.h"
#include "util/error.h"

namespace llmq {
namespace {

class SequenceDecoder final : public Decoder {
 public:
  explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> steps) : steps_(std::move(steps)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (const auto& step : steps_) step->decode_chain(tokens);
  }

 private:
  std::vector<std::unique_ptr<Decoder>> steps_;
};

// Maps byte stand-in characters back to bytes and joins everything into one
// string; invalid UTF-8 becomes U+FFFD. A token with a character outside the
// mapping (an added token such as "<|im_start|>" with a space, say) keeps its
// own bytes.
class ByteLevelDecoder final : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string bytes;
    for (const std::string& t : tokens) {
      if (auto raw = byte_level::decode(t)) {
        bytes += *raw;
      } else {
        bytes += t;
      }
    }
    tokens.assign(1, utf8::make_valid(bytes));
  }
};

class ReplaceDecoder final : public Decoder {
 public:
  ReplaceDecoder(std::string pattern, std::string content) : pattern_(std::move(pattern)), content_(std::move(content)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    if (pattern_.empty()) return;
    for (std::string& t : tokens) {
      if (t.find(pattern_) == std::string::npos) continue;
      std::string s;
      size_t last = 0, hit;
      while ((hit = t.find(pattern_, last)) != std::string::npos) {
        s.append(t, last, hit - last);
        s += content_;
        last = hit + pattern_.size();
      }
      s.append(t, last);
      t = std::move(s);
    }
  }

 private:
  std::string pattern_, content_;
};

// "<0xXX>" tokens become bytes; each run of them becomes one string if it is
// valid UTF-8, else one U+FFFD per byte (tokenizers' rule).
class ByteFallbackDecoder final : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::vector<std::string> out;
    out.reserve(tokens.size());
    std::string run;
    const auto flush = [&] {
      if (run.empty()) return;
      if (utf8::is_valid(run)) {
        out.push_back(run);
      } else {
        for (size_t i = 0; i < run.size(); ++i) out.push_back(utf8::encode(utf8::kReplacementChar));
      }
      run.clear();
    };
    for (std::string& t : tokens) {
      if (auto b = byte_of(t)) {
        run.push_back(static_cast<char>(*b));
      } else {
        flush();
        out.push_back(std::move(t));
      }
    }
    flush();
    tokens = std::move(out);
  }

 private:
  static std::optional<uint8_t> byte_of(const std::string& t) {
    if (t.size() != 6 || t.compare(0, 3, "<0x") != 0 || t[5] != '>') return std::nullopt;
    const auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      return -1;
    };
    const int hi = hex(t[3]), lo = hex(t[4]);
    if (hi < 0 || lo < 0) return std::nullopt;
    return static_cast<uint8_t>(hi * 16 + lo);
  }
};

class FuseDecoder final : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string joined;
    for (const std::string& t : tokens) joined += t;
    tokens.assign(1, std::move(joined));
  }
};

// Removes up to `start` leading and `stop` trailing copies of content from
// every token (after Fuse there is one token: the whole text).
class StripDecoder final : public Decoder {
 public:
  StripDecoder(std::string content, size_t start, size_t stop)
      : content_(std::move(content)), start_(start), stop_(stop) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    if (content_.empty()) return;
    for (std::string& t : tokens) {
      size_t b = 0, e = t.size();
      for (size_t i = 0; i < start_ && e - b >= content_.size() && t.compare(b, content_.size(), content_) == 0; ++i) {
        b += content_.size();
      }
      for (size_t i = 0; i < stop_ && e - b >= content_.size() &&
                         t.compare(e - content_.size(), content_.size(), content_) == 0;
           ++i) {
        e -= content_.size();
      }
      t = t.substr(b, e - b);
    }
  }

 private:
  std::string content_;
  size_t start_, stop_;
};

// Replacement characters become spaces, except that in the first token they
// are dropped when a prefix was prepended (tokenizers drops them all there).
class MetaspaceDecoder final : public Decoder {
 public:
  MetaspaceDecoder(std::string replacement, bool drop_in_first)
      : replacement_(std::move(replacement)), drop_in_first_(drop_in_first) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string& t = tokens[i];
      std::string s;
      size_t last = 0, hit;
      while ((hit = t.find(replacement_, last)) != std::string::npos) {
        s.append(t, last, hit - last);
        if (!(i == 0 && drop_in_first_)) s += ' ';
        last = hit + replacement_.size();
      }
      s.append(t, last);
      t = std::move(s);
    }
  }

 private:
  std::string replacement_;
  bool drop_in_first_;
};

}  // namespace

std::unique_ptr<Decoder> make_decoder(const nlohmann::json& spec) {
  if (spec.is_null()) return nullptr;
  const std::string type = spec.at("type").get<std::string>();
  if (type == "Sequence") {
    std::vector<std::unique_ptr<Decoder>> steps;
    for (const auto& s : spec.at("decoders")) {
      if (auto d = make_decoder(s)) steps.push_back(std::move(d));
    }
    return std::make_unique<SequenceDecoder>(std::move(steps));
  }
  if (type == "ByteLevel") return std::make_unique<ByteLevelDecoder>();
  if (type == "Replace") {
    const auto& p = spec.at("pattern");
    if (!p.contains("String")) fail("Replace decoder supports only a String pattern");
    return std::make_unique<ReplaceDecoder>(p.at("String").get<std::string>(), spec.at("content").get<std::string>());
  }
  if (type == "ByteFallback") return std::make_unique<ByteFallbackDecoder>();
  if (type == "Fuse") return std::make_unique<FuseDecoder>();
  if (type == "Strip") {
    return std::make_unique<StripDecoder>(spec.at("content").get<std::string>(),
                                          json_value<size_t>(spec, "start").value_or(0),
                                          json_value<size_t>(spec, "stop").value_or(0));
  }
  if (type == "Metaspace") {
    std::string replacement = json_value<std::string>(spec, "replacement").value_or("\xE2\x96\x81");
    bool prepends = true;
    if (auto scheme = json_value<std::string>(spec, "prepend_scheme")) {
      prepends = *scheme != "never";
    } else if (auto add = json_value<bool>(spec, "add_prefix_space")) {
      prepends = *add;
    } else if (auto add_dummy = json_value<bool>(spec, "add_dummy_prefix")) {
      prepends = *add_dummy;
    }
    return std::make_unique<MetaspaceDecoder>(std::move(replacement), prepends);
  }
  fail("unsupported decoder type '{}'", type);
}

std::string run_decoder(const Decoder* decoder, std::vector<std::string> tokens) {
  if (!decoder) {
    std::string joined;
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (i) joined += ' ';
      joined += tokens[i];
    }
    return joined;
  }
  decoder->decode_chain(tokens);
  std::string joined;
  for (const std::string& t : tokens) joined += t;
  return joined;
}

}  // namespace llmq
