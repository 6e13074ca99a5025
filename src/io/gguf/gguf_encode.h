#pragma once
// Serialises GGUF header pieces into a byte buffer: little-endian numbers,
// strings as u64 length + bytes (no terminator), values as type id + payload.
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "io/gguf/gguf_format.h"
#include "io/gguf/gguf_value.h"

namespace llmq::gguf {

using Bytes = std::vector<uint8_t>;

template <typename T>
  requires std::is_trivially_copyable_v<T>
void append_pod(Bytes& out, T v) {
  const size_t at = out.size();
  out.resize(at + sizeof(T));
  std::memcpy(out.data() + at, &v, sizeof(T));
}

inline void append_bytes(Bytes& out, const void* data, size_t n) {
  const size_t at = out.size();
  out.resize(at + n);
  if (n) std::memcpy(out.data() + at, data, n);
}

void append_string(Bytes& out, std::string_view s);

// A whole key/value entry: key, value type, value.
void append_key_value(Bytes& out, std::string_view key, const GgufValue& value);

}  // namespace llmq::gguf
