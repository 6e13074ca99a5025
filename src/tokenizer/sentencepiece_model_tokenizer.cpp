#include "tokenizer/sentencepiece_model_tokenizer.h"

#include <sentencepiece_processor.h>

#include "tokenizer/gguf_vocab.h"
#include "tokenizer/special_tokens.h"
#include "util/error.h"

namespace llmq {

SentencePieceModelTokenizer::SentencePieceModelTokenizer(const std::string& model_path, const std::string& model_dir)
    : sp_(std::make_unique<sentencepiece::SentencePieceProcessor>()) {
  if (auto status = sp_->Load(model_path); !status.ok()) {
    throw file_error(model_path, "not a SentencePiece model: " + status.ToString());
  }
  const int n_pieces = sp_->GetPieceSize();

  std::vector<AddedToken> specials;
  for (int id = 0; id < n_pieces; ++id) {
    if (sp_->IsControl(id) || sp_->IsUnknown(id)) {
      specials.push_back({.content = sp_->IdToPiece(id), .id = id, .special = true});
    }
  }
  matcher_ = AddedTokenMatcher(specials);

  const auto own_id = [](int id) { return id >= 0 ? std::optional<int32_t>(id) : std::nullopt; };
  const SpecialTokenDefaults defaults{.bos_id = own_id(sp_->bos_id()),
                                      .eos_id = own_id(sp_->eos_id()),
                                      .unk_id = own_id(sp_->unk_id()),
                                      .pad_id = own_id(sp_->pad_id()),
                                      .add_bos = true};
  const SpecialTokens special = read_special_tokens(
      model_dir, nlohmann::json(), model_path, [this](std::string_view t) { return token_to_id(t); }, defaults);
  bos_id_ = special.bos_id;
  eos_id_ = special.eos_id;
  unk_id_ = special.unk_id;
  pad_id_ = special.pad_id;
  prefix_ids_ = special.prefix_ids;
  suffix_ids_ = special.suffix_ids;

  vocab_ = gguf_vocab_from_sentencepiece(*sp_, model_dir, read_config_vocab_size(model_dir));
  read_gguf_extras(vocab_, model_dir);
  special_.assign(vocab_size(), false);
  padding_.assign(vocab_size(), false);
  for (int32_t id = 0; id < vocab_size(); ++id) {
    if (id >= n_pieces) {
      padding_[id] = true;
    } else {
      special_[id] = sp_->IsControl(id) || sp_->IsUnknown(id);
    }
  }
}

SentencePieceModelTokenizer::~SentencePieceModelTokenizer() = default;

std::optional<int32_t> SentencePieceModelTokenizer::token_to_id(std::string_view token) const {
  const int id = sp_->PieceToId(token);
  // PieceToId answers unk_id for unknown pieces; only a real match counts.
  if (id < 0 || (id == sp_->unk_id() && sp_->IdToPiece(id) != token)) return std::nullopt;
  return id;
}

std::vector<int32_t> SentencePieceModelTokenizer::encode_text(std::string_view text) const {
  std::vector<int32_t> ids;
  std::vector<int> piece_ids;
  for (const TextSegment& segment : matcher_.split(text)) {
    if (segment.token_id) {
      ids.push_back(*segment.token_id);
      continue;
    }
    if (auto status = sp_->Encode(segment.text, &piece_ids); !status.ok()) {
      fail("sentencepiece could not encode text: {}", status.ToString());
    }
    ids.insert(ids.end(), piece_ids.begin(), piece_ids.end());
  }
  return ids;
}

std::string SentencePieceModelTokenizer::decode_ids(std::span<const int32_t> ids) const {
  // SentencePiece renders control pieces as nothing; when they are kept
  // (skip_special=false) they are written out by name between decoded runs.
  std::string text;
  std::vector<int> run;
  const auto flush = [&] {
    if (run.empty()) return;
    std::string piece_text;
    if (auto status = sp_->Decode(run, &piece_text); !status.ok()) {
      fail("sentencepiece could not decode ids: {}", status.ToString());
    }
    text += piece_text;
    run.clear();
  };
  for (int32_t id : ids) {
    if (sp_->IsControl(id)) {
      flush();
      text += sp_->IdToPiece(id);
    } else {
      run.push_back(id);
    }
  }
  flush();
  return text;
}

}  // namespace llmq
