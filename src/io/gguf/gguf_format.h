#pragma once
// Fixed facts of the GGUF container format (ggml docs/gguf.md), shared by
// the reader and the writer so both agree on every byte.
#include <bit>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace llmq::gguf {

// GGUF stores every number little-endian; both sides copy numbers as raw
// bytes, which is only correct on a little-endian host.
static_assert(std::endian::native == std::endian::little, "GGUF I/O assumes a little-endian host");

inline constexpr char kMagic[4] = {'G', 'G', 'U', 'F'};
inline constexpr uint32_t kVersion = 3;            // what we write
inline constexpr uint32_t kOldestReadableVersion = 2;  // v2 has the same layout (64-bit counts)
inline constexpr uint32_t kDefaultAlignment = 32;
inline constexpr std::string_view kAlignmentKey = "general.alignment";
inline constexpr int kMaxDims = 4;                 // GGML_MAX_DIMS
// ggml keeps tensor names in a char[64] with a terminating zero, so llama.cpp
// rejects names of 64 bytes or more; the writer refuses them for that reason.
inline constexpr size_t kMaxTensorNameBytes = 63;

inline constexpr bool is_power_of_two(uint64_t x) { return x != 0 && (x & (x - 1)) == 0; }

inline constexpr uint64_t align_up(uint64_t x, uint64_t alignment) {
  return (x + alignment - 1) / alignment * alignment;
}

}  // namespace llmq::gguf
