// --threads beyond what the address-space limit (ulimit -v) leaves room for:
// OpenBLAS reserves a buffer per thread when the count is set and retries a
// failed reservation forever, so 64 threads under 900 MB hung before any
// work. The count is fitted to the limit, with a warning, and the run ends.
#include <gtest/gtest.h>

#include "common/fixtures.h"
#include "common/run_cli.h"

using namespace llmq::test;

TEST(ThreadLimitsCli, ThreadsBeyondTheAddressSpaceLimitAreReducedAndTheRunEnds) {
  const std::string m = model_dir("tiny-llama");
  const CliResult r = run_cli("quality perplexity " + q(m) + " --data " + q(m + "/sample.txt") +
                                  " --chunks 2 --ctx 64 --threads 64 --format json",
                              "ulimit -v 900000; exec timeout 120");
  ASSERT_EQ(r.code, 0) << r.err;  // 124: the hang is back
  EXPECT_NE(r.err.find("warning: --threads 64: the address-space limit"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("\"perplexity\""), std::string::npos) << r.out;
}
