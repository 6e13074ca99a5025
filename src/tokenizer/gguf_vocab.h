#pragma once
// Builds the GGUF vocabulary tables (GgufVocab) the way llama.cpp's
// convert_hf_to_gguf.py does, so an exported file tokenizes in llama.cpp as
// the checkpoint does in transformers.
#include <optional>
#include <string>
#include <vector>

#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe_model.h"
#include "tokenizer/tokenizer.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace llmq {

// From tokenizer.model (llama.cpp's _create_vocab_sentencepiece): pieces,
// scores and types from the model; then added_tokens.json and
// tokenizer_config.json's added_tokens_decoder override entries (score
// -1000, CONTROL if special, else USER_DEFINED with "▁" shown as " ");
// unused ids up to config_vocab_size become "[PAD<id>]" (score -10000, UNUSED).
GgufVocab gguf_vocab_from_sentencepiece(const sentencepiece::SentencePieceProcessor& sp, const std::string& model_dir,
                                        std::optional<int32_t> config_vocab_size);

// From tokenizer.json's BPE.
//  byte_level: llama.cpp's "gpt2" path: vocab strings as stored, added tokens
//    CONTROL if special (or named like "<|...|>"), else USER_DEFINED; no scores;
//    merges with spaces written as U+0120; pre from split_regex.
//  otherwise: llama.cpp's LlamaHfVocab ("llama") path for types (BYTE for
//    <0xXX>, CONTROL for special tokens). For scores llama.cpp writes a
//    placeholder -1000 for every token, which makes its SentencePiece merge
//    order meaningless; we write what SentencePiece itself stores for a BPE
//    model instead: 0 for special and byte tokens, and 0, -1, -2, ... for the
//    other tokens in id order (equal to tokenizer.model's scores on our fixtures).
GgufVocab gguf_vocab_from_bpe(const BpeModel& model, const std::vector<AddedToken>& added, bool byte_level,
                              const std::string& split_regex, std::optional<int32_t> config_vocab_size);

// Fills add_space_prefix and chat_template from model_dir's files.
void read_gguf_extras(GgufVocab& vocab, const std::string& model_dir);

// llama.cpp's tokenizer.ggml.pre name for a byte-level split regex, empty if unknown.
std::string llama_cpp_pre_name(const std::string& split_regex);

// llama.cpp's test for added tokens that should be CONTROL though not marked special.
bool looks_like_control_token(const std::string& token);

}  // namespace llmq
