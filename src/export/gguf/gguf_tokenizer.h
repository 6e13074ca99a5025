#pragma once
// A Tokenizer rebuilt from a GGUF file's tokenizer.ggml.* keys, so a GGUF
// model can be evaluated without its original checkpoint directory.
//
// The vocabulary is turned back into a tokenizer.json pipeline and run by the
// tokenizer module's HfBpeTokenizer:
//   - "gpt2" (byte-level BPE): vocab and merges as stored; the split regex
//     of tokenizer.ggml.pre ("qwen2", "llama-bpe", GPT-2's otherwise); byte-level
//     decoding;
//   - "llama" (SentencePiece BPE): merges recovered from the scores as
//     transformers' SentencePiece converter does (for each piece, in order of
//     decreasing score, every split into two pieces of the vocab); "▁" for
//     spaces with a leading one unless add_space_prefix is false; byte
//     fallback to <0xXX> pieces.
// CONTROL, UNKNOWN and USER_DEFINED tokens are matched in the raw text as
// added tokens. Special ids and add_bos/add_eos come from the GGUF keys.
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "tokenizer/tokenizer.h"

namespace llmq {

class GgufReader;

// Throws llmq::Error naming the file for a vocabulary it cannot run
// (another tokenizer.ggml.model, merges naming unknown tokens, ...).
std::unique_ptr<Tokenizer> load_gguf_tokenizer(const GgufReader& gguf);

// The tokenizer.json content equivalent to a GGUF vocabulary (exposed for tests).
nlohmann::json tokenizer_json_from_gguf_vocab(const GgufVocab& vocab, bool add_space_prefix);

}  // namespace llmq
