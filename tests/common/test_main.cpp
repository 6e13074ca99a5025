// The tests' main(): the same process setup as the CLI (tuned OpenBLAS
// kernels, an OpenMP wait policy), then Google Test.
#include <gtest/gtest.h>

#include "runtime/process_setup.h"

int main(int argc, char** argv) {
  llmq::restart_with_tuned_math_libraries(argv);
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
