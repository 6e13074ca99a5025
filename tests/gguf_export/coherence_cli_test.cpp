// quantize ... gguf --coherence-check through the CLI: a Q8_0 file passes;
// a deliberately broken file (every tensor, embeddings and output included,
// ternary) fails with exit code 3, keeps the file and says so.
#include <filesystem>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/run_cli.h"

using namespace llmq;
namespace fs = std::filesystem;

TEST(CoherenceCli, Q8_0Passes) {
  test::TempDir d;
  const std::string out = d / "q8.gguf";
  const auto r = test::run_cli("quantize " + test::q(test::model_dir("tiny-llama")) + " gguf -q Q8_0 -o " +
                               test::q(out) + " --coherence-check --format json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_TRUE(j["coherence"]["passed"].get<bool>());
  EXPECT_EQ(j["coherence"]["prompts"].size(), 5u);
  EXPECT_NEAR(j["coherence"]["ppl_quantized"].get<double>(), j["coherence"]["ppl_original"].get<double>(),
              0.01 * j["coherence"]["ppl_original"].get<double>());
}

TEST(CoherenceCli, BrokenFileFailsWithExitCode3AndIsKept) {
  test::TempDir d;
  const std::string out = d / "broken.gguf";
  const auto r = test::run_cli("quantize " + test::q(test::model_dir("tiny-llama")) + " gguf -q TERNARY --pure " +
                               "--output-tensor-type tq1_0 --token-embedding-type tq1_0 -o " + test::q(out) +
                               " --coherence-check");
  EXPECT_EQ(r.code, 3) << r.out << r.err;
  EXPECT_NE(r.err.find("coherence check failed"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("The quantized file was kept: " + out), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("DEGENERATE"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::exists(out));
}
