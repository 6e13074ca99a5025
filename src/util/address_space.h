#pragma once
// How much address space the process may still map under RLIMIT_AS
// (`ulimit -v`). Thread pools reserve address space when they start; under a
// low limit a library that retries a failed reservation (OpenBLAS does,
// forever) hangs the process before any work, so the thread count is fitted
// to what is left instead.
#include <cstdint>
#include <optional>

namespace llmq {

// The limit minus the current mappings; nullopt when there is no limit.
std::optional<uint64_t> address_space_left();

}  // namespace llmq
