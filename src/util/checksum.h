#pragma once
// A 64-bit checksum for our own resume files: it catches flipped bytes and
// truncations (not tampering). Word-wise, several GB/s.
#include <cstddef>
#include <cstdint>
#include <string>

namespace llmq {

class Checksum {
 public:
  void add(const void* data, size_t n);
  uint64_t value() const;
  std::string hex() const;  // 16 hex digits

 private:
  uint64_t h_ = 0x9E3779B97F4A7C15ull;
  uint64_t len_ = 0;
};

}  // namespace llmq
