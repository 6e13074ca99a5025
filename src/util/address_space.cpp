#include "util/address_space.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>

namespace llmq {

std::optional<uint64_t> address_space_left() {
  rlimit lim{};
  if (getrlimit(RLIMIT_AS, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY) return std::nullopt;
  unsigned long pages = 0;
  if (std::FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%lu", &pages) != 1) pages = 0;
    std::fclose(f);
  }
  const uint64_t used = uint64_t(pages) * uint64_t(sysconf(_SC_PAGESIZE));
  return lim.rlim_cur > used ? uint64_t(lim.rlim_cur) - used : 0;
}

}  // namespace llmq
