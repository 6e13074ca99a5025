#pragma once
// Tokenizers of Hugging Face checkpoints, exact to the reference tokenizers:
//   - tokenizer.json with a BPE model, byte-level (GPT-2, Llama 3, Qwen) or
//     SentencePiece-style (Llama 2, Mistral: "▁" for spaces, <0xXX> byte fallback);
//   - tokenizer.model alone, through libsentencepiece.
// Besides encode/decode for a forward pass, a Tokenizer carries the vocabulary
// tables that llama.cpp's converter writes as tokenizer.ggml.* GGUF keys.
//
// Tokenizers are immutable after load; encode and decode may run concurrently.
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace llmq {

enum class TokenizerKind { SentencePieceBpe, ByteLevelBpe, SentencePieceModel };
const char* to_string(TokenizerKind kind);

// llama.cpp's token types (tokenizer.ggml.token_type).
enum class TokenType : int32_t { Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6 };

// The vocabulary as llama.cpp's convert_hf_to_gguf.py would write it.
struct GgufVocab {
  std::string model;                // tokenizer.ggml.model: "llama" (SentencePiece) or "gpt2" (byte-level BPE)
  std::string pre;                  // tokenizer.ggml.pre; empty if the byte-level split regex is not one llama.cpp knows
  std::vector<std::string> tokens;  // per id, padded to config.json's vocab_size with "[PAD<id>]"
  std::vector<float> scores;        // per id for "llama"; empty for "gpt2" (llama.cpp writes no scores then)
  std::vector<TokenType> types;     // per id
  std::vector<std::string> merges;  // "a b" per merge rank: tokenizer.ggml.merges for "gpt2" (empty for tokenizer.model)
  // tokenizer_config.json's add_prefix_space, which llama.cpp's Llama
  // converter writes as tokenizer.ggml.add_space_prefix; unset if absent.
  std::optional<bool> add_space_prefix;
  // tokenizer.chat_template: tokenizer_config.json's chat_template string,
  // else chat_template.jinja; unset if neither.
  std::optional<std::string> chat_template;
};

class Tokenizer {
 public:
  // Loads model_dir/tokenizer.json, or model_dir/tokenizer.model if there is
  // no tokenizer.json (or its model is not BPE), plus tokenizer_config.json,
  // config.json and generation_config.json for special tokens. Throws
  // llmq::Error naming the file on missing or bad input.
  static std::unique_ptr<Tokenizer> load(const std::string& model_dir);

  virtual ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // Token ids of text. Added/special tokens written in the text (e.g.
  // "<|im_start|>", "</s>") map to their ids. add_special adds what the
  // checkpoint asks for (see add_bos/add_eos). Invalid UTF-8 bytes are read
  // as U+FFFD.
  std::vector<int32_t> encode(std::string_view text, bool add_special = false) const;

  // Text of ids. skip_special drops special tokens (BOS, EOS, ...). Ids that
  // only pad the vocab decode to nothing; ids outside [0, vocab_size())
  // throw llmq::Error.
  std::string decode(std::span<const int32_t> ids, bool skip_special = true) const;

  virtual TokenizerKind kind() const = 0;

  // Number of ids, including padding up to config.json's vocab_size.
  int32_t vocab_size() const { return static_cast<int32_t>(vocab_.tokens.size()); }
  // Id of a vocab entry or added token written as stored (e.g. "▁the", "Ġthe", "</s>").
  virtual std::optional<int32_t> token_to_id(std::string_view token) const = 0;
  bool is_special(int32_t id) const;

  std::optional<int32_t> bos_id() const { return bos_id_; }
  std::optional<int32_t> eos_id() const { return eos_id_; }
  std::optional<int32_t> unk_id() const { return unk_id_; }
  std::optional<int32_t> pad_id() const { return pad_id_; }
  // Whether encode(..., add_special=true) puts BOS first / EOS last.
  bool add_bos() const { return !prefix_ids_.empty(); }
  bool add_eos() const { return !suffix_ids_.empty(); }
  const std::vector<int32_t>& special_prefix_ids() const { return prefix_ids_; }
  const std::vector<int32_t>& special_suffix_ids() const { return suffix_ids_; }

  // For GGUF export (llama.cpp's tokenizer.ggml.* keys).
  const GgufVocab& gguf_vocab() const { return vocab_; }
  const std::vector<std::string>& tokens() const { return vocab_.tokens; }
  const std::vector<float>& scores() const { return vocab_.scores; }
  const std::vector<TokenType>& token_types() const { return vocab_.types; }
  const std::vector<std::string>& merges() const { return vocab_.merges; }
  // The pre-tokenizer's split regex (Split step, or GPT-2's for ByteLevel
  // with use_regex); empty if none.
  const std::string& pre_tokenizer_regex() const { return pre_tokenizer_regex_; }

 protected:
  Tokenizer() = default;

  // Ids of text without special prefix/suffix; text is valid UTF-8.
  virtual std::vector<int32_t> encode_text(std::string_view text) const = 0;
  // Text of ids, all of which are real (non-padding) vocab ids.
  virtual std::string decode_ids(std::span<const int32_t> ids) const = 0;

  // Filled by the subclass constructors.
  GgufVocab vocab_;
  std::vector<bool> special_;  // per id: dropped by decode(skip_special=true)
  std::vector<bool> padding_;  // per id: no real token behind it
  std::optional<int32_t> bos_id_, eos_id_, unk_id_, pad_id_;
  std::vector<int32_t> prefix_ids_, suffix_ids_;
  std::string pre_tokenizer_regex_;
};

}  // namespace llmq
