#include "tokenizer/utf8.h"

namespace llmq::utf8 {

bool decode(std::string_view text, size_t& pos, uint32_t& cp) {
  if (pos >= text.size()) return false;
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
  const uint8_t lead = byte(pos);
  if (lead < 0x80) {
    cp = lead;
    pos += 1;
    return true;
  }
  size_t len;
  uint32_t value;
  uint32_t min_value;
  if ((lead & 0xE0) == 0xC0) {
    len = 2, value = lead & 0x1F, min_value = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    len = 3, value = lead & 0x0F, min_value = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    len = 4, value = lead & 0x07, min_value = 0x10000;
  } else {
    return false;
  }
  if (pos + len > text.size()) return false;
  for (size_t i = 1; i < len; ++i) {
    const uint8_t b = byte(pos + i);
    if ((b & 0xC0) != 0x80) return false;
    value = (value << 6) | (b & 0x3F);
  }
  if (value < min_value || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) return false;
  cp = value;
  pos += len;
  return true;
}

size_t char_length(std::string_view text, size_t pos) {
  size_t end = pos;
  uint32_t cp;
  return decode(text, end, cp) ? end - pos : 0;
}

void append(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string encode(uint32_t cp) {
  std::string s;
  append(s, cp);
  return s;
}

bool is_valid(std::string_view text) {
  size_t pos = 0;
  uint32_t cp;
  while (pos < text.size()) {
    // Fast path over ASCII, which is nearly all real text.
    if (static_cast<uint8_t>(text[pos]) < 0x80) {
      ++pos;
      continue;
    }
    if (!decode(text, pos, cp)) return false;
  }
  return true;
}

std::string make_valid(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  uint32_t cp;
  while (pos < text.size()) {
    const size_t start = pos;
    if (decode(text, pos, cp)) {
      out.append(text.substr(start, pos - start));
    } else {
      append(out, kReplacementChar);
      ++pos;
    }
  }
  return out;
}

}  // namespace llmq::utf8
