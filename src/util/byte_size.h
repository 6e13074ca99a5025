#pragma once
// Sizes given on the command line or in a profile: "3.0GB" (10^9), "2.5GiB"
// (2^30), "800MB", "512KiB", "123456" (bytes).
#include <cstdint>
#include <string>

namespace llmq {

// Decimal units as transformers' max_shard_size (KB, MB, GB, TB, or K, M, G),
// binary ones (KiB, MiB, GiB, TiB), case-insensitive. Throws llmq::Error naming `option`.
uint64_t parse_byte_size(const std::string& s, const std::string& option);

}  // namespace llmq
