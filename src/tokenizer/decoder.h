#pragma once
// tokenizer.json "decoder": turns the token strings of a sequence back into
// text. As in tokenizers, each step maps a list of strings to a list of
// strings and the final list is concatenated.
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace llmq {

class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual void decode_chain(std::vector<std::string>& tokens) const = 0;
};

// Builds the decoder described by spec; nullptr for JSON null. Supported:
// Sequence, ByteLevel, Replace (String pattern), ByteFallback, Fuse, Strip,
// Metaspace. Throws llmq::Error naming the type for anything else.
std::unique_ptr<Decoder> make_decoder(const nlohmann::json& spec);

// Runs decoder over tokens and joins the result. Without a decoder tokens
// are joined with spaces, as tokenizers does.
std::string run_decoder(const Decoder* decoder, std::vector<std::string> tokens);

}  // namespace llmq
