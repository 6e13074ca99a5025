#pragma once
// tokenizer.json "pre_tokenizer": splits normalized text into words that the
// BPE model encodes one at a time (and byte-level ones also remap bytes).
//
// Words are streamed to a callback rather than collected: a 1 MB input makes
// hundreds of thousands of words, and building vectors of them per step
// costs more than the BPE itself.
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace llmq {

// Receives each word; at_input_start: the word begins at offset 0 of the
// original input (what Metaspace's prepend_scheme "first" looks at).
using WordSink = std::function<void(std::string_view word, bool at_input_start)>;

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Emits the non-empty words of text, in order.
  virtual void split(std::string_view text, bool at_input_start, const WordSink& emit) const = 0;
  // The regex of the first Split step (or GPT-2's for ByteLevel with
  // use_regex), empty if none; for GGUF export.
  virtual std::string split_regex() const { return {}; }
  // True if a ByteLevel step remaps bytes (byte-level BPE).
  virtual bool is_byte_level() const { return false; }
};

// Builds the pre-tokenizer described by spec; nullptr for JSON null.
// Supported: Sequence, Split, ByteLevel, Metaspace, Digits, Whitespace,
// WhitespaceSplit. Throws llmq::Error naming the type for anything else.
std::unique_ptr<PreTokenizer> make_pre_tokenizer(const nlohmann::json& spec);

// GPT-2's word regex, which ByteLevel applies when use_regex is true.
extern const char* const kGpt2SplitRegex;

}  // namespace llmq
