#include "util/finite_check.h"

#include <atomic>
#include <cmath>

#include "util/error.h"

namespace llmq {

namespace {
std::atomic<bool> g_allow{false};
}  // namespace

void set_allow_nonfinite(bool allow) { g_allow = allow; }
bool allow_nonfinite() { return g_allow; }

void check_finite(const float* v, size_t n, const std::string& file, const std::string& tensor) {
  if (g_allow) return;
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < n; ++i)
    if (!std::isfinite(v[i]) && bad++ == 0) first = i;
  if (bad)
    throw file_error(file, fmt::format("tensor {} holds {} non-finite value(s) (first at element {}: {}); "
                                       "--allow-nonfinite quantizes it anyway",
                                       tensor, bad, first, v[first]));
}

}  // namespace llmq
