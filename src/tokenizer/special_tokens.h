#pragma once
// Which ids are BOS/EOS/UNK/PAD and what encode(..., add_special=true) adds,
// gathered from the files of a HF checkpoint the way transformers and
// llama.cpp's converter read them.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace llmq {

struct SpecialTokens {
  std::optional<int32_t> bos_id, eos_id, unk_id, pad_id;
  std::vector<int32_t> prefix_ids;  // put before the text by encode(add_special=true)
  std::vector<int32_t> suffix_ids;  // put after it
};

using TokenLookup = std::function<std::optional<int32_t>(std::string_view)>;

// What the tokenizer file itself says, used where no config file does.
struct SpecialTokenDefaults {
  std::optional<int32_t> bos_id, eos_id, unk_id, pad_id;
  bool add_bos = false;  // SentencePiece models: the Llama default of adding BOS
};

// Reads tokenizer_config.json, config.json and generation_config.json from
// model_dir (each optional; malformed ones throw llmq::Error naming the file).
//
// Ids: tokenizer_config's bos_token/eos_token/unk_token/pad_token strings
// (looked up with lookup) win, then config.json's *_token_id, then
// generation_config.json's (first element when a list), then defaults.
//
// Added tokens: tokenizer_config's add_bos_token/add_eos_token, when given,
// decide (as transformers' Llama tokenizers rebuild the post-processor from
// them); otherwise post_processor (tokenizer.json's; TemplateProcessing,
// Bert/RobertaProcessing, or a Sequence holding one) decides; with neither,
// BOS is added iff defaults.add_bos.
// post_processor_file names the file post_processor came from, for errors.
SpecialTokens read_special_tokens(const std::string& model_dir, const nlohmann::json& post_processor,
                                  const std::string& post_processor_file, const TokenLookup& lookup,
                                  const SpecialTokenDefaults& defaults);

// config.json's vocab_size (or text_config.vocab_size), if any: the number of
// embedding rows, which GGUF token lists are padded to.
std::optional<int32_t> read_config_vocab_size(const std::string& model_dir);

}  // namespace llmq
