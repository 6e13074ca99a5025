#include "tokenizer/gguf_vocab.h"

#include <sentencepiece_processor.h>

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <unordered_map>

#include "util/json_file.h"
#include "tokenizer/pre_tokenizer.h"

namespace llmq {
namespace {

constexpr const char* kMetaspace = "\xE2\x96\x81";  // U+2581 '▁'

std::string replace_all(const std::string& s, std::string_view from, std::string_view to) {
  std::string out;
  out.reserve(s.size());
  size_t last = 0, hit;
  while ((hit = s.find(from, last)) != std::string::npos) {
    out.append(s, last, hit - last);
    out.append(to);
    last = hit + from.size();
  }
  out.append(s, last);
  return out;
}

bool is_byte_token(const std::string& t) {
  const auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f'); };
  return t.size() == 6 && t.compare(0, 3, "<0x") == 0 && hex(t[3]) && hex(t[4]) && t[5] == '>';
}

// Grows the tables to n ids, new ones being "[PAD<id>]" of type UNUSED.
void pad_to(GgufVocab& v, size_t n, bool with_scores, float pad_score) {
  for (size_t id = v.tokens.size(); id < n; ++id) {
    v.tokens.push_back(fmt::format("[PAD{}]", id));
    v.types.push_back(TokenType::Unused);
    if (with_scores) v.scores.push_back(pad_score);
  }
}

}  // namespace

bool looks_like_control_token(const std::string& t) {
  const auto wrapped = [&](std::string_view open, std::string_view close) {
    return t.size() >= open.size() + close.size() && t.compare(0, open.size(), open) == 0 &&
           t.compare(t.size() - close.size(), close.size(), close) == 0;
  };
  return t == "<pad>" || t == "<mask>" || t == "<2mass>" || t == "[@BOS@]" || wrapped("<|", "|>") ||
         wrapped("<\xEF\xBD\x9C", "\xEF\xBD\x9C>") /* <｜...｜> */ || wrapped("<unused", ">");
}

std::string llama_cpp_pre_name(const std::string& regex) {
  // The regexes as tokenizer.json files spell them; llama.cpp keys the same
  // splitting by these names.
  static const std::unordered_map<std::string, std::string> known = {
      {R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)",
       "qwen2"},
      {R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)",
       "llama-bpe"},
      {kGpt2SplitRegex, "gpt-2"},
  };
  auto it = known.find(regex);
  return it == known.end() ? std::string() : it->second;
}

void read_gguf_extras(GgufVocab& vocab, const std::string& model_dir) {
  if (auto config = read_json_file_if_present(model_dir + "/tokenizer_config.json")) {
    vocab.add_space_prefix = json_value<bool>(*config, "add_prefix_space");
    vocab.chat_template = json_value<std::string>(*config, "chat_template");
  }
  if (!vocab.chat_template) {
    std::ifstream jinja(model_dir + "/chat_template.jinja", std::ios::binary);
    if (jinja) vocab.chat_template = std::string(std::istreambuf_iterator<char>(jinja), {});
  }
}

GgufVocab gguf_vocab_from_sentencepiece(const sentencepiece::SentencePieceProcessor& sp, const std::string& model_dir,
                                        std::optional<int32_t> config_vocab_size) {
  GgufVocab v;
  v.model = "llama";
  v.pre = "default";
  const int n_pieces = sp.GetPieceSize();
  const size_t n = std::max<size_t>(n_pieces, config_vocab_size.value_or(0));
  for (int id = 0; id < n_pieces; ++id) {
    TokenType type = TokenType::Normal;
    if (sp.IsUnknown(id)) {
      type = TokenType::Unknown;
    } else if (sp.IsControl(id)) {
      type = TokenType::Control;
    } else if (sp.IsUnused(id)) {
      type = TokenType::Unused;
    } else if (sp.IsByte(id)) {
      type = TokenType::Byte;
    }
    v.tokens.push_back(sp.IdToPiece(id));
    v.scores.push_back(sp.GetScore(id));
    v.types.push_back(type);
  }
  // Ids inside vocab_size that the model lacks: llama.cpp pre-fills them with -10000.
  pad_to(v, n, true, -10000.0f);

  const auto override_token = [&](int64_t id, std::string token, bool control) {
    if (id < 0 || static_cast<size_t>(id) >= n) return;  // llama.cpp skips these with a warning
    if (!control) token = replace_all(token, kMetaspace, " ");
    v.tokens[id] = std::move(token);
    v.scores[id] = -1000.0f;
    v.types[id] = control ? TokenType::Control : TokenType::UserDefined;
  };
  const std::string added_path = model_dir + "/added_tokens.json";
  if (auto added = read_json_file_if_present(added_path)) {
    for (const auto& [token, id] : added->items()) {
      if (id.is_number_integer()) override_token(id.get<int64_t>(), token, false);
    }
  }
  if (auto config = read_json_file_if_present(model_dir + "/tokenizer_config.json")) {
    if (auto decoder = config->find("added_tokens_decoder"); decoder != config->end() && decoder->is_object()) {
      for (const auto& [key, data] : decoder->items()) {
        const auto content = json_value<std::string>(data, "content");
        if (!content) continue;
        const bool control = json_value<bool>(data, "special").value_or(false) || looks_like_control_token(*content);
        override_token(std::stoll(key), *content, control);
      }
    }
  }
  return v;
}

GgufVocab gguf_vocab_from_bpe(const BpeModel& model, const std::vector<AddedToken>& added, bool byte_level,
                              const std::string& split_regex, std::optional<int32_t> config_vocab_size) {
  GgufVocab v;
  int32_t n_ids = model.id_count();
  for (const AddedToken& t : added) n_ids = std::max(n_ids, t.id + 1);
  const size_t n = std::max<size_t>(n_ids, config_vocab_size.value_or(0));

  std::vector<const AddedToken*> added_by_id(n, nullptr);
  for (const AddedToken& t : added) added_by_id[t.id] = &t;

  v.model = byte_level ? "gpt2" : "llama";
  v.pre = byte_level ? llama_cpp_pre_name(split_regex) : "default";
  float next_normal_score = 0.0f;
  for (size_t id = 0; id < n; ++id) {
    const AddedToken* a = added_by_id[id];
    const std::string* vocab_token =
        static_cast<int32_t>(id) < model.id_count() && !model.id_to_token(id).empty() ? &model.id_to_token(id) : nullptr;
    if (!a && !vocab_token) {
      v.tokens.push_back(fmt::format("[PAD{}]", id));
      v.types.push_back(TokenType::Unused);
      if (!byte_level) v.scores.push_back(-1000.0f);
      continue;
    }
    float score = 0.0f;
    TokenType type;
    std::string token = a ? a->content : *vocab_token;
    if (a && (a->special || (byte_level && looks_like_control_token(token)))) {
      type = TokenType::Control;
    } else if (a && (byte_level || !vocab_token)) {
      // Added tokens outside the SentencePiece vocab, or any non-special added
      // token of a byte-level one, are matched as written.
      type = TokenType::UserDefined;
      token = replace_all(token, kMetaspace, " ");
      score = -1000.0f;
    } else if (!byte_level && is_byte_token(token)) {
      type = TokenType::Byte;
    } else {
      type = TokenType::Normal;
      score = next_normal_score;
      next_normal_score -= 1.0f;
    }
    v.tokens.push_back(std::move(token));
    v.types.push_back(type);
    if (!byte_level) v.scores.push_back(score);
  }

  v.merges.reserve(model.merges().size());
  for (const auto& [left, right] : model.merges()) {
    // A space inside a merge part would break the "a b" form; llama.cpp
    // writes it as U+0120, the byte-level stand-in for ' '.
    v.merges.push_back(replace_all(left, " ", "\xC4\xA0") + " " + replace_all(right, " ", "\xC4\xA0"));
  }
  return v;
}

}  // namespace llmq
