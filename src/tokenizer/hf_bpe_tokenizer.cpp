#include "tokenizer/hf_bpe_tokenizer.h"

#include <sentencepiece_processor.h>

#include <algorithm>
#include <filesystem>

#include "tokenizer/gguf_vocab.h"
#include "util/json_file.h"
#include "tokenizer/special_tokens.h"
#include "util/error.h"

namespace llmq {
namespace {

using nlohmann::json;

// "merges" is ["a b", ...] (older files) or [["a", "b"], ...] (tokenizers >= 0.20).
std::vector<std::pair<std::string, std::string>> parse_merges(const json& merges) {
  std::vector<std::pair<std::string, std::string>> out;
  if (merges.is_null()) return out;
  out.reserve(merges.size());
  for (const auto& m : merges) {
    if (m.is_string()) {
      const std::string s = m.get<std::string>();
      const size_t space = s.find(' ');
      if (space == std::string::npos || s.find(' ', space + 1) != std::string::npos) {
        fail("merge '{}' is not two tokens separated by one space", s);
      }
      out.emplace_back(s.substr(0, space), s.substr(space + 1));
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      out.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
    } else {
      fail("merge {} is neither \"a b\" nor [\"a\", \"b\"]", m.dump());
    }
  }
  return out;
}

std::vector<AddedToken> parse_added_tokens(const json& list) {
  std::vector<AddedToken> out;
  if (list.is_null()) return out;
  for (const auto& t : list) {
    AddedToken a;
    a.id = t.at("id").get<int32_t>();
    a.content = t.at("content").get<std::string>();
    a.special = json_value<bool>(t, "special").value_or(false);
    a.lstrip = json_value<bool>(t, "lstrip").value_or(false);
    a.rstrip = json_value<bool>(t, "rstrip").value_or(false);
    a.single_word = json_value<bool>(t, "single_word").value_or(false);
    a.normalized = json_value<bool>(t, "normalized").value_or(!a.special);
    if (a.id < 0) fail("added token '{}' has negative id {}", a.content, a.id);
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace

HfBpeTokenizer::HfBpeTokenizer(const json& j, const std::string& path, const std::string& model_dir) {
  try {
    load_pipeline(j);
  } catch (const nlohmann::json::exception& e) {
    throw file_error(path, std::string("unexpected content: ") + e.what());
  } catch (const Error& e) {
    throw file_error(path, e.what());
  }

  SpecialTokenDefaults defaults;
  defaults.unk_id = model_->unk_id();
  const SpecialTokens special = read_special_tokens(
      model_dir, j.value("post_processor", json()), path, [this](std::string_view t) { return token_to_id(t); },
      defaults);
  bos_id_ = special.bos_id;
  eos_id_ = special.eos_id;
  unk_id_ = special.unk_id;
  pad_id_ = special.pad_id;
  prefix_ids_ = special.prefix_ids;
  suffix_ids_ = special.suffix_ids;

  // Ids the tokenizer itself can produce; the tables must cover them.
  int32_t id_count = model_->id_count();
  for (const AddedToken& t : added_tokens_) id_count = std::max(id_count, t.id + 1);

  const auto config_vocab_size = read_config_vocab_size(model_dir);
  const std::string sp_model_path = model_dir + "/tokenizer.model";
  if (kind_ == TokenizerKind::SentencePieceBpe && std::filesystem::exists(sp_model_path)) {
    // llama.cpp's converter takes a Llama vocab from tokenizer.model when there is one.
    sentencepiece::SentencePieceProcessor sp;
    if (auto status = sp.Load(sp_model_path); !status.ok()) throw file_error(sp_model_path, status.ToString());
    vocab_ = gguf_vocab_from_sentencepiece(sp, model_dir, config_vocab_size);
  }
  // Without tokenizer.model, or when tokenizer.json has ids beyond it.
  if (vocab_size() < id_count) {
    vocab_ = gguf_vocab_from_bpe(*model_, added_tokens_, kind_ == TokenizerKind::ByteLevelBpe, pre_tokenizer_regex_,
                                 config_vocab_size);
  }

  read_gguf_extras(vocab_, model_dir);
  special_.assign(vocab_size(), false);
  padding_.assign(vocab_size(), false);
  for (const AddedToken& t : added_tokens_) special_[t.id] = t.special;
  for (int32_t id = 0; id < vocab_size(); ++id) {
    padding_[id] = (id >= model_->id_count() || model_->id_to_token(id).empty()) &&
                   (id >= static_cast<int32_t>(added_content_by_id_.size()) || added_content_by_id_[id].empty());
  }
}

void HfBpeTokenizer::load_pipeline(const json& j) {
  const json& model = j.at("model");
  const std::string type = model.value("type", "BPE");  // tokenizers omits "type" for BPE in some versions
  if (type != "BPE") fail("unsupported tokenizer model type '{}' (only BPE is supported)", type);
  if (json_value<std::string>(model, "continuing_subword_prefix") || json_value<std::string>(model, "end_of_word_suffix")) {
    fail("BPE continuing_subword_prefix / end_of_word_suffix are not supported");
  }

  BpeOptions options;
  options.unk_token = json_value<std::string>(model, "unk_token");
  options.fuse_unk = json_value<bool>(model, "fuse_unk").value_or(false);
  options.byte_fallback = json_value<bool>(model, "byte_fallback").value_or(false);
  options.ignore_merges = json_value<bool>(model, "ignore_merges").value_or(false);
  model_ = std::make_unique<BpeModel>(model.at("vocab").get<std::unordered_map<std::string, int32_t>>(),
                                      parse_merges(model.value("merges", json())), options);

  added_tokens_ = parse_added_tokens(j.value("added_tokens", json()));
  normalizer_ = make_normalizer(j.value("normalizer", json()));
  pre_tokenizer_ = make_pre_tokenizer(j.value("pre_tokenizer", json()));
  decoder_ = make_decoder(j.value("decoder", json()));
  if (pre_tokenizer_) pre_tokenizer_regex_ = pre_tokenizer_->split_regex();
  kind_ = pre_tokenizer_ && pre_tokenizer_->is_byte_level() ? TokenizerKind::ByteLevelBpe
                                                            : TokenizerKind::SentencePieceBpe;

  std::vector<AddedToken> raw, normalized;
  for (const AddedToken& t : added_tokens_) {
    added_ids_[t.content] = t.id;
    if (t.id < 0 || t.id > (1 << 24)) fail("added token '{}' has id {}, beyond any vocabulary", t.content, t.id);
    if (static_cast<size_t>(t.id) >= added_content_by_id_.size()) added_content_by_id_.resize(t.id + 1);
    added_content_by_id_[t.id] = t.content;
    if (t.normalized && normalizer_) {
      AddedToken n = t;
      n.content = normalizer_->normalize(t.content);
      normalized.push_back(std::move(n));
    } else if (t.normalized) {
      normalized.push_back(t);
    } else {
      raw.push_back(t);
    }
  }
  raw_matcher_ = AddedTokenMatcher(std::move(raw));
  normalized_matcher_ = AddedTokenMatcher(std::move(normalized));
}

std::optional<int32_t> HfBpeTokenizer::token_to_id(std::string_view token) const {
  if (auto it = added_ids_.find(std::string(token)); it != added_ids_.end()) return it->second;
  return model_->token_to_id(token);
}

std::vector<int32_t> HfBpeTokenizer::encode_text(std::string_view text) const {
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3);
  BpeModel::WordCache cache;
  for (const TextSegment& segment : raw_matcher_.split(text)) {
    if (segment.token_id) {
      ids.push_back(*segment.token_id);
    } else {
      encode_plain(segment.text, segment.offset == 0, ids, cache);
    }
  }
  return ids;
}

void HfBpeTokenizer::encode_plain(std::string_view text, bool at_input_start, std::vector<int32_t>& out,
                                  BpeModel::WordCache& cache) const {
  if (!normalizer_) {
    encode_normalized(text, at_input_start, out, cache);
    return;
  }
  const std::string normalized = normalizer_->normalize(text);
  encode_normalized(normalized, at_input_start, out, cache);
}

void HfBpeTokenizer::encode_normalized(std::string_view text, bool at_input_start, std::vector<int32_t>& out,
                                       BpeModel::WordCache& cache) const {
  const WordSink encode_word = [&](std::string_view word, bool) { model_->encode_word(word, out, &cache); };
  const auto encode_piece = [&](std::string_view piece, bool at_start) {
    if (pre_tokenizer_) {
      pre_tokenizer_->split(piece, at_start, encode_word);
    } else {
      model_->encode_word(piece, out, &cache);
    }
  };
  if (normalized_matcher_.empty()) {
    encode_piece(text, at_input_start);
    return;
  }
  for (const TextSegment& segment : normalized_matcher_.split(text)) {
    if (segment.token_id) {
      out.push_back(*segment.token_id);
    } else {
      encode_piece(segment.text, at_input_start && segment.offset == 0);
    }
  }
}

std::string HfBpeTokenizer::decode_ids(std::span<const int32_t> ids) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids) {
    if (static_cast<size_t>(id) < added_content_by_id_.size() && !added_content_by_id_[id].empty()) {
      tokens.push_back(added_content_by_id_[id]);
    } else {
      tokens.push_back(model_->id_to_token(id));
    }
  }
  return run_decoder(decoder_.get(), std::move(tokens));
}

}  // namespace llmq
