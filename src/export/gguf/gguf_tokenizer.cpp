#include "export/gguf/gguf_tokenizer.h"

#include <algorithm>
#include <tuple>
#include <unordered_map>

#include "io/gguf/gguf_reader.h"
#include "tokenizer/hf_bpe_tokenizer.h"
#include "tokenizer/pre_tokenizer.h"
#include "util/error.h"

namespace llmq {

namespace {

using nlohmann::json;

constexpr const char* kMetaspace = "\xE2\x96\x81";  // U+2581 '▁'

// Split regexes of the tokenizer.ggml.pre names llama.cpp's converter writes
// for the byte-level tokenizers we export (the inverse of llama_cpp_pre_name).
std::string split_regex_for_pre(const std::string& pre) {
  if (pre == "qwen2")
    return R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  if (pre == "llama-bpe" || pre == "llama3" || pre == "llama-v3")
    return R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  return {};  // "gpt-2", "default" and unknown names: GPT-2's regex, as llama.cpp falls back to
}

bool is_padding(const GgufVocab& v, size_t id) {
  return v.types[id] == TokenType::Unused && v.tokens[id].rfind("[PAD", 0) == 0;
}

bool is_added(TokenType t) {
  return t == TokenType::Control || t == TokenType::Unknown || t == TokenType::UserDefined;
}

// Byte offsets of the UTF-8 character boundaries inside s (excluding 0 and size).
std::vector<size_t> char_boundaries(const std::string& s) {
  std::vector<size_t> out;
  for (size_t i = 1; i < s.size(); ++i)
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) out.push_back(i);
  return out;
}

// transformers' SentencePieceExtractor: every split of a piece into two
// pieces is a merge; merges are ranked by the piece's score (highest first),
// then piece id, then the ids of the two parts.
json merges_from_scores(const GgufVocab& v, const std::unordered_map<std::string, int32_t>& ids) {
  std::vector<std::tuple<float, int32_t, int32_t, int32_t>> found;  // score, piece, left, right
  for (size_t id = 0; id < v.tokens.size(); ++id) {
    if (is_padding(v, id)) continue;
    const std::string& piece = v.tokens[id];
    for (size_t cut : char_boundaries(piece)) {
      auto l = ids.find(piece.substr(0, cut)), r = ids.find(piece.substr(cut));
      if (l != ids.end() && r != ids.end()) found.emplace_back(v.scores[id], int32_t(id), l->second, r->second);
    }
  }
  std::stable_sort(found.begin(), found.end(), [](const auto& a, const auto& b) {
    if (std::get<0>(a) != std::get<0>(b)) return std::get<0>(a) > std::get<0>(b);
    return std::make_tuple(std::get<1>(a), std::get<2>(a), std::get<3>(a)) <
           std::make_tuple(std::get<1>(b), std::get<2>(b), std::get<3>(b));
  });
  json merges = json::array();
  for (const auto& [score, piece, left, right] : found) merges.push_back({v.tokens[left], v.tokens[right]});
  return merges;
}

// Wraps the tokenizer.json pipeline and carries the GGUF's own tables and
// special-token settings.
class GgufTokenizer final : public Tokenizer {
 public:
  GgufTokenizer(GgufVocab vocab, std::unique_ptr<Tokenizer> pipeline) : pipeline_(std::move(pipeline)) {
    vocab_ = std::move(vocab);
    special_.assign(vocab_.tokens.size(), false);
    padding_.assign(vocab_.tokens.size(), false);
    for (size_t id = 0; id < vocab_.tokens.size(); ++id) {
      special_[id] = vocab_.types[id] == TokenType::Control || vocab_.types[id] == TokenType::Unknown;
      padding_[id] = is_padding(vocab_, id);
    }
  }
  void set_special(std::optional<int32_t> bos, std::optional<int32_t> eos, std::optional<int32_t> unk,
                   std::optional<int32_t> pad, bool add_bos, bool add_eos) {
    bos_id_ = bos, eos_id_ = eos, unk_id_ = unk, pad_id_ = pad;
    prefix_ids_.clear();
    suffix_ids_.clear();
    if (add_bos && bos) prefix_ids_.push_back(*bos);
    if (add_eos && eos) suffix_ids_.push_back(*eos);
  }
  void set_split_regex(std::string regex) { pre_tokenizer_regex_ = std::move(regex); }

  TokenizerKind kind() const override { return pipeline_->kind(); }
  std::optional<int32_t> token_to_id(std::string_view token) const override { return pipeline_->token_to_id(token); }

 protected:
  std::vector<int32_t> encode_text(std::string_view text) const override { return pipeline_->encode(text, false); }
  std::string decode_ids(std::span<const int32_t> ids) const override { return pipeline_->decode(ids, false); }

 private:
  std::unique_ptr<Tokenizer> pipeline_;
};

GgufVocab read_vocab(const GgufReader& g) {
  GgufVocab v;
  v.model = g.get<std::string>("tokenizer.ggml.model");
  v.pre = g.get_optional<std::string>("tokenizer.ggml.pre").value_or("default");
  v.tokens = g.get<std::vector<std::string>>("tokenizer.ggml.tokens");
  if (auto s = g.get_optional<std::vector<float>>("tokenizer.ggml.scores")) v.scores = *s;
  if (auto t = g.get_optional<std::vector<int32_t>>("tokenizer.ggml.token_type")) {
    for (int32_t x : *t) v.types.push_back(TokenType(x));
  } else {
    v.types.assign(v.tokens.size(), TokenType::Normal);
  }
  if (auto m = g.get_optional<std::vector<std::string>>("tokenizer.ggml.merges")) v.merges = *m;
  v.add_space_prefix = g.get_optional<bool>("tokenizer.ggml.add_space_prefix");
  v.chat_template = g.get_optional<std::string>("tokenizer.chat_template");
  if (v.types.size() != v.tokens.size() || (!v.scores.empty() && v.scores.size() != v.tokens.size()))
    throw file_error(g.path(), "tokenizer.ggml.tokens, scores and token_type have different lengths");
  return v;
}

}  // namespace

json tokenizer_json_from_gguf_vocab(const GgufVocab& v, bool add_space_prefix) {
  const bool byte_level = v.model == "gpt2";
  if (!byte_level && v.model != "llama")
    fail("tokenizer.ggml.model '{}' is not supported (supported: llama, gpt2)", v.model);

  std::unordered_map<std::string, int32_t> ids;
  json vocab = json::object();
  json added = json::array();
  bool has_bytes = false;
  std::optional<std::string> unk;
  for (size_t id = 0; id < v.tokens.size(); ++id) {
    if (is_padding(v, id)) continue;
    const std::string& t = v.tokens[id];
    ids.emplace(t, int32_t(id));
    vocab[t] = id;
    has_bytes |= v.types[id] == TokenType::Byte;
    if (v.types[id] == TokenType::Unknown && !unk) unk = t;
    if (is_added(v.types[id])) {
      const bool special = v.types[id] != TokenType::UserDefined;
      added.push_back({{"id", id}, {"content", t}, {"special", special}, {"normalized", false}, {"lstrip", false},
                       {"rstrip", false}, {"single_word", false}});
    }
  }

  json j;
  j["added_tokens"] = added;
  json model = {{"type", "BPE"}, {"vocab", vocab}, {"fuse_unk", !byte_level}, {"byte_fallback", has_bytes}};
  model["unk_token"] = unk ? json(*unk) : json();
  if (byte_level) {
    json merges = json::array();
    for (const std::string& m : v.merges) {
      const size_t space = m.find(' ');
      if (space == std::string::npos || m.find(' ', space + 1) != std::string::npos)
        fail("tokenizer.ggml.merges entry '{}' is not two tokens separated by one space", m);
      merges.push_back({m.substr(0, space), m.substr(space + 1)});
    }
    model["merges"] = merges;
    const std::string regex = split_regex_for_pre(v.pre);
    if (regex.empty()) {
      j["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}};
    } else {
      j["pre_tokenizer"] = {{"type", "Sequence"},
                            {"pretokenizers",
                             {{{"type", "Split"}, {"pattern", {{"Regex", regex}}}, {"behavior", "Isolated"},
                               {"invert", false}},
                              {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}};
    }
    j["normalizer"] = nullptr;
    j["decoder"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}};
  } else {
    if (v.scores.size() != v.tokens.size()) fail("a \"llama\" vocabulary needs tokenizer.ggml.scores");
    model["merges"] = merges_from_scores(v, ids);
    json normalizers = json::array();
    if (add_space_prefix) normalizers.push_back({{"type", "Prepend"}, {"prepend", kMetaspace}});
    normalizers.push_back({{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", kMetaspace}});
    j["normalizer"] = {{"type", "Sequence"}, {"normalizers", normalizers}};
    j["pre_tokenizer"] = nullptr;
    json decoders = json::array();
    decoders.push_back({{"type", "Replace"}, {"pattern", {{"String", kMetaspace}}}, {"content", " "}});
    decoders.push_back({{"type", "ByteFallback"}});
    decoders.push_back({{"type", "Fuse"}});
    if (add_space_prefix) decoders.push_back({{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}});
    j["decoder"] = {{"type", "Sequence"}, {"decoders", decoders}};
  }
  j["model"] = model;
  j["post_processor"] = nullptr;
  return j;
}

std::unique_ptr<Tokenizer> load_gguf_tokenizer(const GgufReader& g) {
  GgufVocab vocab = read_vocab(g);
  const bool spm = vocab.model == "llama";
  const bool add_space_prefix = vocab.add_space_prefix.value_or(true);
  json spec;
  try {
    spec = tokenizer_json_from_gguf_vocab(vocab, add_space_prefix);
  } catch (const Error& e) {
    throw file_error(g.path(), e.what());
  }
  // The pipeline reads special-token settings from files beside a
  // tokenizer.json; a directory path that cannot exist makes it find none,
  // and the GGUF keys below decide instead.
  auto pipeline = std::make_unique<HfBpeTokenizer>(spec, g.path(), g.path() + "/.no-such-directory");
  const std::string regex = pipeline->pre_tokenizer_regex();
  auto tok = std::make_unique<GgufTokenizer>(std::move(vocab), std::move(pipeline));
  auto id = [&](const char* key) -> std::optional<int32_t> {
    if (auto v = g.get_int_optional(key)) return int32_t(*v);
    return std::nullopt;
  };
  // llama.cpp's defaults when the keys are absent: SentencePiece vocabularies add BOS.
  tok->set_special(id("tokenizer.ggml.bos_token_id"), id("tokenizer.ggml.eos_token_id"),
                   id("tokenizer.ggml.unknown_token_id"), id("tokenizer.ggml.padding_token_id"),
                   g.get_optional<bool>("tokenizer.ggml.add_bos_token").value_or(spm),
                   g.get_optional<bool>("tokenizer.ggml.add_eos_token").value_or(false));
  tok->set_split_regex(regex);
  return tok;
}

}  // namespace llmq
