#pragma once
// Tokenizer for a tokenizer.json whose model is BPE: the pipeline of
// tokenizers (added tokens -> normalizer -> pre-tokenizer -> BPE -> decoder).
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe_model.h"
#include "tokenizer/decoder.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/tokenizer.h"

namespace llmq {

class HfBpeTokenizer final : public Tokenizer {
 public:
  // tokenizer_json is the parsed content of tokenizer_json_path (named in
  // errors); model_dir supplies the config files and, for SentencePiece-style
  // BPE, the tokenizer.model whose scores llama.cpp's converter would use.
  HfBpeTokenizer(const nlohmann::json& tokenizer_json, const std::string& tokenizer_json_path,
                 const std::string& model_dir);

  TokenizerKind kind() const override { return kind_; }
  std::optional<int32_t> token_to_id(std::string_view token) const override;

 protected:
  std::vector<int32_t> encode_text(std::string_view text) const override;
  std::string decode_ids(std::span<const int32_t> ids) const override;

 private:
  void load_pipeline(const nlohmann::json& j);
  void encode_plain(std::string_view text, bool at_input_start, std::vector<int32_t>& out,
                    BpeModel::WordCache& cache) const;
  void encode_normalized(std::string_view text, bool at_input_start, std::vector<int32_t>& out,
                         BpeModel::WordCache& cache) const;

  TokenizerKind kind_ = TokenizerKind::SentencePieceBpe;
  std::unique_ptr<BpeModel> model_;
  std::vector<AddedToken> added_tokens_;
  std::unordered_map<std::string, int32_t> added_ids_;
  std::vector<std::string> added_content_by_id_;  // "" where an id has no added token
  AddedTokenMatcher raw_matcher_;         // added tokens with normalized=false
  AddedTokenMatcher normalized_matcher_;  // added tokens with normalized=true, as normalized
  std::unique_ptr<Normalizer> normalizer_;
  std::unique_ptr<PreTokenizer> pre_tokenizer_;
  std::unique_ptr<Decoder> decoder_;
};

}  // namespace llmq
