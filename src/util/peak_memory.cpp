#include "util/peak_memory.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

namespace llmq {

namespace {

std::atomic<size_t> g_peak_anon{0};

void note(size_t v) {
  size_t cur = g_peak_anon.load(std::memory_order_relaxed);
  while (v > cur && !g_peak_anon.compare_exchange_weak(cur, v, std::memory_order_relaxed)) {
  }
}

// "VmHWM:   123456 kB" from /proc/self/status.
size_t kernel_peak_resident() {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return 0;
  char line[256];
  size_t kb = 0;
  while (std::fgets(line, sizeof line, f))
    if (std::strncmp(line, "VmHWM:", 6) == 0) {
      std::sscanf(line + 6, "%zu", &kb);
      break;
    }
  std::fclose(f);
  return kb * 1024;
}

}  // namespace

size_t anonymous_resident_bytes() {
  // statm: size resident shared(file-backed) ... in pages; anonymous = resident - shared.
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  unsigned long size = 0, resident = 0, shared = 0;
  const int n = std::fscanf(f, "%lu %lu %lu", &size, &resident, &shared);
  std::fclose(f);
  if (n != 3 || shared > resident) return 0;
  return size_t(resident - shared) * size_t(::sysconf(_SC_PAGESIZE));
}

void start_peak_memory_sampler() {
  static std::atomic<bool> started{false};
  if (started.exchange(true)) return;
  std::thread([] {
    for (;;) {
      note(anonymous_resident_bytes());
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }).detach();
}

MemoryPeak peak_memory() {
  note(anonymous_resident_bytes());
  return {g_peak_anon.load(), kernel_peak_resident()};
}

}  // namespace llmq
