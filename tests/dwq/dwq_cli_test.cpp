// `llm-quantize quantize MODEL dwq` as a user runs it: JSON report, the MLX
// output read by our evaluation path, and one-line errors.
#include <filesystem>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/fixtures.h"
#include "common/run_cli.h"

namespace fs = std::filesystem;

namespace llmq::test {
namespace {

TEST(DwqCli, TrainsWritesMlxAndTheOutputEvaluates) {
  TempDir tmp;
  const std::string out = tmp / "dwq";
  const CliResult r = run_cli("quantize " + q(model_dir("tiny-llama")) + " dwq --q-bits 3 --num-samples 8 --valid-samples 2 "
                              "--max-seq-length 64 --iters 2 --steps-per-eval 1 --data " + q(data_file("calibration.txt")) +
                              " --targets-dir " + q(tmp / "cache") + " -o " + q(out) + " --format json");
  ASSERT_EQ(r.code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["output"], out);
  EXPECT_EQ(j["steps_done"], 2);
  EXPECT_EQ(j["train_sequences"], 8);
  EXPECT_EQ(j["valid_curve"].size(), 3u);  // step 0, 1, 2
  EXPECT_GT(j["tokens_per_second"].get<double>(), 0.0);
  const nlohmann::json cfg = nlohmann::json::parse(read_file(out + "/config.json"));
  EXPECT_EQ(cfg["quantization"]["bits"], 3);
  EXPECT_EQ(cfg["quantization"]["group_size"], 64);  // MLX's default group for dwq
  const CliResult p = run_cli("quality perplexity " + q(out) + " --data " + q(data_file("wikitext2_test.txt")) +
                              " --ctx 64 --chunks 4 --format json");
  ASSERT_EQ(p.code, 0) << p.err;
  EXPECT_GT(nlohmann::json::parse(p.out)["perplexity"].get<double>(), 1.0);
}

TEST(DwqCli, OtherLayoutsAreRefused) {
  TempDir tmp;
  const CliResult r = run_cli("quantize " + q(model_dir("tiny-llama")) + " dwq --format-out gptq -o " + q(tmp / "x"));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("dwq writes MLX checkpoints"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(tmp / "x"));
}

}  // namespace
}  // namespace llmq::test
