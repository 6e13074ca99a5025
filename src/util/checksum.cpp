#include "util/checksum.h"

#include <cstring>

#include <fmt/format.h>

namespace llmq {

namespace {

inline uint64_t mix(uint64_t h, uint64_t w) {
  h ^= w * 0xC2B2AE3D27D4EB4Full;
  h = (h << 31) | (h >> 33);
  return h * 0x9E3779B185EBCA87ull;
}

}  // namespace

void Checksum::add(const void* data, size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    h_ = mix(h_, w);
  }
  uint64_t tail = 0;
  std::memcpy(&tail, p + i, n - i);
  h_ = mix(h_, tail ^ (uint64_t(n - i) << 56));
  len_ += n;
}

uint64_t Checksum::value() const {
  uint64_t h = mix(h_, len_);
  h ^= h >> 29;
  return h;
}

std::string Checksum::hex() const { return fmt::format("{:016x}", value()); }

}  // namespace llmq
