// The test programs start through restart_with_tuned_math_libraries (see
// tests/common/test_main.cpp), so these check the restarted process.
#include <gtest/gtest.h>

#include <cctype>
#include <cstdlib>
#include <initializer_list>
#include <string>

#include "runtime/process_setup.h"

#include <cblas.h>

// A short spin where OpenBLAS shares our OpenMP threads; passive waiting
// where it keeps its own pool (spinning OpenMP threads would starve it).
TEST(ProcessSetup, OpenMpWaitPolicySuitsTheOpenBlasBuild) {
  if (openblas_get_parallel() == 2) {
    EXPECT_TRUE(std::getenv("GOMP_SPINCOUNT") || std::getenv("OMP_WAIT_POLICY"));
  } else {
    const char* policy = std::getenv("OMP_WAIT_POLICY");
    ASSERT_NE(policy, nullptr);
  }
}

TEST(ProcessSetup, OpenBlasUsesTheRequestedKernels) {
  const char* requested = std::getenv("OPENBLAS_CORETYPE");
  if (!requested) GTEST_SKIP() << "OpenBLAS recognised this CPU; kernels: " << llmq::blas_core_name();
  // OpenBLAS may name a family by its own spelling; compare case-insensitively.
  std::string got = llmq::blas_core_name(), want = requested;
  for (std::string* s : {&got, &want})
    for (char& c : *s) c = char(std::tolower(static_cast<unsigned char>(c)));
  EXPECT_EQ(got, want);
}

TEST(ProcessSetup, BestCoreMatchesTheInstructionSet) {
  const char* best = llmq::best_blas_core_for_this_cpu();
#if defined(__x86_64__)
  if (__builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512f"))
    EXPECT_STREQ(best, "Cooperlake");
  else if (__builtin_cpu_supports("avx2") && !__builtin_cpu_supports("avx512f"))
    EXPECT_STREQ(best, "Haswell");
#else
  EXPECT_EQ(best, nullptr);
#endif
}
