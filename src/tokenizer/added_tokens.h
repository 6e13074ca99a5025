#pragma once
// Added tokens (tokenizer.json "added_tokens"): strings such as "<|im_start|>"
// or "</s>" that are cut out of the input before normalisation and BPE and map
// straight to their ids.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llmq {

struct AddedToken {
  std::string content;
  int32_t id = -1;
  bool special = false;      // skipped by decode(skip_special=true)
  bool lstrip = false;       // swallows whitespace on its left
  bool rstrip = false;       // swallows whitespace on its right
  bool normalized = false;   // matched in normalized text rather than raw input
  bool single_word = false;  // matches only where not glued to word characters
};

// A run of input: plain text, or (when token_id is set) an added token.
struct TextSegment {
  std::string_view text;
  std::optional<int32_t> token_id;
  size_t offset = 0;  // byte offset of text within the string that was split
};

// Finds added tokens leftmost-longest, as tokenizers' Aho-Corasick matcher does.
class AddedTokenMatcher {
 public:
  AddedTokenMatcher() = default;
  explicit AddedTokenMatcher(std::vector<AddedToken> tokens);

  bool empty() const { return tokens_.empty(); }
  // Cuts text into plain segments and token segments, in order. Empty plain
  // segments are left out; whitespace absorbed by lstrip/rstrip disappears.
  std::vector<TextSegment> split(std::string_view text) const;

 private:
  std::vector<AddedToken> tokens_;
  // Candidate tokens by first byte, longest first, so a scan tests few.
  std::array<std::vector<uint32_t>, 256> by_first_byte_;
};

}  // namespace llmq
