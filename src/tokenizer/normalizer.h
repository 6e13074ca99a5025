#pragma once
// tokenizer.json "normalizer": string rewrites applied to each plain-text
// segment (between added tokens) before pre-tokenization.
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace llmq {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual std::string normalize(std::string_view text) const = 0;
};

// Builds the normalizer described by spec; nullptr for JSON null.
// Supported: Sequence, Prepend, Replace (String or Regex pattern), Strip,
// Lowercase (ASCII letters only), NFC (see .cpp). Throws llmq::Error naming
// the type for anything else.
std::unique_ptr<Normalizer> make_normalizer(const nlohmann::json& spec);

}  // namespace llmq
