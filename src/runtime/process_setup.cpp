#include "runtime/process_setup.h"

#include <cblas.h>
#include <malloc.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <initializer_list>

namespace llmq {

const char* blas_core_name() { return openblas_get_corename(); }

const char* best_blas_core_for_this_cpu() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  // Cooperlake adds the bf16 GEMM kernels to SkylakeX's AVX-512 ones; both
  // need the AVX-512 subsets OpenBLAS's kernels use.
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
  if (avx512 && __builtin_cpu_supports("avx512bf16")) return "Cooperlake";
  if (avx512) return "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
#endif
  return nullptr;
}

namespace {

// Kernel families OpenBLAS falls back to when it does not know the CPU model;
// on a CPU with AVX2 or AVX-512 they run SGEMM 5-7x slower (measured: 17 vs
// 115 GFLOP/s per core on a Sapphire Rapids VM).
bool is_generic_core(const char* name) {
  for (const char* generic : {"Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Atom", "Katmai", "Coppermine",
                              "Northwood", "Banias", "Barcelona", "Opteron", "Opteron(SSE3)"})
    if (std::strcmp(name, generic) == 0) return true;
  return false;
}

}  // namespace

// Activation buffers of a few MB are allocated and freed per layer. Past
// glibc's default thresholds each one is a fresh mmap (or the heap top is
// trimmed and regrown) whose pages fault in zeroed every time: half of a
// perplexity run's system time. Up to 32 MB they now come from the heap and
// up to 128 MB of free heap top is kept for reuse. GLIBC_TUNABLES that set
// malloc parameters take precedence.
static void keep_activation_buffers_mapped() {
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if (tunables && std::strstr(tunables, "glibc.malloc.")) return;
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 128 << 20);
}

void restart_with_tuned_math_libraries(char** argv) {
  keep_activation_buffers_mapped();
  if (std::getenv("LLMQ_NO_REEXEC")) return;
  bool changed = false;
  if (!std::getenv("OMP_WAIT_POLICY") && !std::getenv("GOMP_SPINCOUNT")) {
    if (openblas_get_parallel() == 2) {
      // OpenBLAS runs on our OpenMP threads: a short spin before sleeping
      // saves a futex wake-up per parallel loop, dozens per decoded token
      // (about 20% of decode time on 2 cores with threads that sleep at once).
      setenv("GOMP_SPINCOUNT", "30000", 0);
    } else {
      // OpenBLAS has a pool of its own: idle OpenMP threads that spin starve
      // it on machines with few cores (10x slower GEMM on 2 cores).
      setenv("OMP_WAIT_POLICY", "passive", 0);
    }
    changed = true;
  }
  const char* best = best_blas_core_for_this_cpu();
  if (!std::getenv("OPENBLAS_CORETYPE") && best && is_generic_core(blas_core_name())) {
    setenv("OPENBLAS_CORETYPE", best, 0);
    changed = true;
  }
  if (!changed) return;
  setenv("LLMQ_NO_REEXEC", "1", 1);  // one restart at most
  execv("/proc/self/exe", argv);
  // execv returned: the restart failed; go on with the libraries as loaded.
}

}  // namespace llmq
