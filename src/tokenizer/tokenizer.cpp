#include "tokenizer/tokenizer.h"

#include <filesystem>

#include "tokenizer/hf_bpe_tokenizer.h"
#include "util/json_file.h"
#include "tokenizer/sentencepiece_model_tokenizer.h"
#include "tokenizer/utf8.h"
#include "util/error.h"

namespace llmq {

const char* to_string(TokenizerKind kind) {
  switch (kind) {
    case TokenizerKind::SentencePieceBpe: return "sentencepiece-bpe";
    case TokenizerKind::ByteLevelBpe: return "byte-level-bpe";
    case TokenizerKind::SentencePieceModel: return "sentencepiece-model";
  }
  return "unknown";
}

Tokenizer::~Tokenizer() = default;

std::unique_ptr<Tokenizer> Tokenizer::load(const std::string& model_dir) {
  namespace fs = std::filesystem;
  if (!fs::is_directory(model_dir)) throw file_error(model_dir, "not a directory");
  const std::string json_path = model_dir + "/tokenizer.json";
  const std::string sp_path = model_dir + "/tokenizer.model";
  const bool has_sp = fs::exists(sp_path);
  if (fs::exists(json_path)) {
    const nlohmann::json j = read_json_file(json_path);
    const auto* model = j.is_object() && j.contains("model") ? &j.at("model") : nullptr;
    const bool is_bpe = model && model->is_object() && model->value("type", "BPE") == "BPE";
    // A Unigram or WordPiece tokenizer.json next to a tokenizer.model: the
    // SentencePiece model describes the same tokenizer and we can run it.
    if (is_bpe || !has_sp) return std::make_unique<HfBpeTokenizer>(j, json_path, model_dir);
  }
  if (has_sp) return std::make_unique<SentencePieceModelTokenizer>(sp_path, model_dir);
  throw file_error(model_dir, "has neither tokenizer.json nor tokenizer.model");
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special) const {
  std::vector<int32_t> ids;
  if (add_special) ids = prefix_ids_;
  std::vector<int32_t> body;
  if (utf8::is_valid(text)) {
    body = encode_text(text);
  } else {
    body = encode_text(utf8::make_valid(text));
  }
  if (ids.empty()) {
    ids = std::move(body);
  } else {
    ids.insert(ids.end(), body.begin(), body.end());
  }
  if (add_special) ids.insert(ids.end(), suffix_ids_.begin(), suffix_ids_.end());
  return ids;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special) const {
  std::vector<int32_t> kept;
  kept.reserve(ids.size());
  for (int32_t id : ids) {
    if (id < 0 || id >= vocab_size()) fail("token id {} is outside the vocabulary (size {})", id, vocab_size());
    if (padding_[id] || (skip_special && special_[id])) continue;
    kept.push_back(id);
  }
  return decode_ids(kept);
}

bool Tokenizer::is_special(int32_t id) const { return id >= 0 && id < vocab_size() && special_[id]; }

}  // namespace llmq
