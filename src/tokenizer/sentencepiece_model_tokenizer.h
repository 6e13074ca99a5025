#pragma once
// Tokenizer for a checkpoint that ships only tokenizer.model: encoding and
// decoding are libsentencepiece's own. Control and user-defined pieces written
// in the text (e.g. "</s>") are cut out first and map to their ids, as the
// transformers tokenizers do, and each piece of text in between is encoded
// on its own.
#include <memory>
#include <string>

#include "tokenizer/added_tokens.h"
#include "tokenizer/tokenizer.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace llmq {

class SentencePieceModelTokenizer final : public Tokenizer {
 public:
  // Throws llmq::Error naming model_path if it cannot be loaded.
  SentencePieceModelTokenizer(const std::string& model_path, const std::string& model_dir);
  ~SentencePieceModelTokenizer() override;

  TokenizerKind kind() const override { return TokenizerKind::SentencePieceModel; }
  std::optional<int32_t> token_to_id(std::string_view token) const override;

 protected:
  std::vector<int32_t> encode_text(std::string_view text) const override;
  std::string decode_ids(std::span<const int32_t> ids) const override;

 private:
  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
  AddedTokenMatcher matcher_;
};

}  // namespace llmq
