#pragma once
// GPT-2's reversible byte <-> Unicode mapping used by byte-level BPE
// (GPT-2, Llama 3, Qwen): every byte becomes a printable code point so that
// vocab entries are valid text. Printable Latin-1 bytes map to themselves;
// the other 68 bytes (controls, space, 0x7F-0xA0, 0xAD) map in byte order to
// U+0100, U+0101, ... (so ' ' -> U+0120 'Ġ', '\n' -> U+010A 'Ċ').
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace llmq::byte_level {

// Code point that stands for byte b.
uint32_t byte_to_char(uint8_t b);

// Byte that code point cp stands for, or nullopt if cp is not in the image.
std::optional<uint8_t> char_to_byte(uint32_t cp);

// Maps every byte of raw to its stand-in character, as UTF-8.
std::string encode(std::string_view raw);

// Inverse of encode for a single token. Returns nullopt if some character is
// not a byte stand-in (then callers use the token's own bytes, as HF does).
std::optional<std::string> decode(std::string_view mapped);

}  // namespace llmq::byte_level
