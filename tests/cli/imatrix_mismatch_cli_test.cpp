// An importance matrix made for another model is refused when its entries
// have other widths than the tensors they would weigh (tiny-llama's imatrix,
// hidden 256, given for small-llama, hidden 512), not ignored or read past.
#include <filesystem>

#include <gtest/gtest.h>

#include "common/fixtures.h"
#include "common/run_cli.h"

using namespace llmq::test;
namespace fs = std::filesystem;

namespace {

TEST(ImatrixMismatchCli, AnotherModelsImatrixIsRefused) {
  TempDir d;
  const std::string imatrix = d / "tiny.imatrix";
  const CliResult a = run_cli("analyze " + q(model_dir("tiny-llama")) + " --calibration-samples 2 --ctx 32 -o " + q(imatrix) + " --quiet");
  ASSERT_EQ(a.code, 0) << a.err;
  const std::string out = d / "small.gguf";
  const CliResult r = run_cli("quantize " + q(model_dir("small-llama")) + " gguf -q Q4_K_M --imatrix " + q(imatrix) + " -o " + q(out) + " --quiet");
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("made for another model"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_FALSE(fs::exists(out));
}

}  // namespace
