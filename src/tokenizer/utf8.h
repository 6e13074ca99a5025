#pragma once
// Minimal UTF-8 helpers for the tokenizers. Text reaching the BPE models is
// processed one code point at a time, and PCRE2 in UTF mode must only ever see
// valid UTF-8, so input is checked (and repaired) once up front.
#include <cstdint>
#include <string>
#include <string_view>

namespace llmq::utf8 {

inline constexpr uint32_t kReplacementChar = 0xFFFD;

// Decodes the code point starting at text[pos]. On success stores it in cp,
// advances pos past it and returns true; on a malformed sequence (bad lead or
// continuation byte, overlong form, surrogate, > U+10FFFF, truncated) returns
// false and leaves pos unchanged.
bool decode(std::string_view text, size_t& pos, uint32_t& cp);

// Byte length of the well-formed code point at text[pos], 0 if malformed.
size_t char_length(std::string_view text, size_t pos);

void append(std::string& out, uint32_t cp);
std::string encode(uint32_t cp);

bool is_valid(std::string_view text);

// Copy of text in which every byte that does not start a well-formed sequence
// becomes U+FFFD (as Python's errors="replace" and Rust's from_utf8_lossy do).
std::string make_valid(std::string_view text);

}  // namespace llmq::utf8
