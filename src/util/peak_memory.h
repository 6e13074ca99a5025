#pragma once
// Peak memory of this process, as the README's memory bounds count it:
// anonymous resident memory (heap, stacks: what the program allocated), apart
// from the pages of mmapped input files, which the kernel can drop and re-read.
// The kernel keeps a high-water mark only of the total (VmHWM), so a
// background thread samples the anonymous part every few milliseconds.
#include <cstddef>

namespace llmq {

struct MemoryPeak {
  size_t anonymous_bytes = 0;  // sampled peak of resident anonymous memory
  size_t resident_bytes = 0;   // kernel's peak resident set (VmHWM), mapped files included
};

// Starts the sampler once (later calls do nothing); it stops at exit.
void start_peak_memory_sampler();
// The peaks so far (takes one more sample first).
MemoryPeak peak_memory();
// Resident anonymous bytes right now.
size_t anonymous_resident_bytes();

}  // namespace llmq
