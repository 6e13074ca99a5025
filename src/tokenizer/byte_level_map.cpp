#include "tokenizer/byte_level_map.h"

#include "tokenizer/utf8.h"

namespace llmq::byte_level {
namespace {

struct Tables {
  std::array<uint32_t, 256> to_char{};
  std::array<std::string, 256> to_char_utf8;
  std::array<int16_t, 512> to_byte{};  // every image code point is < 0x144

  Tables() {
    to_byte.fill(-1);
    const auto printable = [](int b) {
      return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    };
    uint32_t next_extra = 256;
    for (int b = 0; b < 256; ++b) {
      to_char[b] = printable(b) ? static_cast<uint32_t>(b) : next_extra++;
      to_char_utf8[b] = utf8::encode(to_char[b]);
      to_byte[to_char[b]] = static_cast<int16_t>(b);
    }
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

}  // namespace

uint32_t byte_to_char(uint8_t b) { return tables().to_char[b]; }

std::optional<uint8_t> char_to_byte(uint32_t cp) {
  if (cp >= tables().to_byte.size() || tables().to_byte[cp] < 0) return std::nullopt;
  return static_cast<uint8_t>(tables().to_byte[cp]);
}

std::string encode(std::string_view raw) {
  const Tables& t = tables();
  std::string out;
  out.reserve(raw.size() * 2);
  for (char c : raw) out += t.to_char_utf8[static_cast<uint8_t>(c)];
  return out;
}

std::optional<std::string> decode(std::string_view mapped) {
  std::string out;
  out.reserve(mapped.size());
  size_t pos = 0;
  uint32_t cp;
  while (pos < mapped.size()) {
    if (!utf8::decode(mapped, pos, cp)) return std::nullopt;
    const auto b = char_to_byte(cp);
    if (!b) return std::nullopt;
    out.push_back(static_cast<char>(*b));
  }
  return out;
}

}  // namespace llmq::byte_level
