// scripts/inject_outlier_channels.py, used for the SmoothQuant measurement in
// docs/lowbit.md: the copy it writes computes exactly what the original does
// (power-of-two factors), yet its q/k/v and gate/up inputs now carry outlier
// channels, which the smoothquant report sees and smoothing removes.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdlib>

#include "common/fixtures.h"
#include "common/run_cli.h"
#include "lowbit_test_support.h"

namespace llmq {
namespace {

using test::q;

bool have_python3() { return std::system("python3 -c 'import sys' >/dev/null 2>&1") == 0; }

int run_script(const std::string& args) {
  const std::string cmd = "python3 " + q(std::string(LLMQ_SOURCE_DIR) + "/scripts/inject_outlier_channels.py") + " " +
                          args + " >/dev/null 2>&1";
  const int status = std::system(cmd.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(OutlierInjection, SameFunctionWithOutlierChannels) {
  if (!have_python3()) GTEST_SKIP() << "python3 not installed";
  test::TempDir tmp;
  const std::string out = tmp / "outliers";
  ASSERT_EQ(run_script(q(test::model_dir("tiny-llama")) + " " + q(out) + " --channels 7,100,201 --factor 64"), 0);

  // Bit-identical logits: x * 64 and w / 64 are exact in bf16 and fp32.
  const LoadedModel& base = test::cached_model("tiny-llama");
  const LoadedModel injected = load_model(out);
  const std::vector<int32_t> tokens(test::wiki_tokens(*base.tokenizer).begin(),
                                    test::wiki_tokens(*base.tokenizer).begin() + 48);
  EXPECT_EQ(test::logits_of(injected.weights, tokens), test::logits_of(base.weights, tokens));
  EXPECT_NE(injected.weights->layers[0].attn_norm.data[7], base.weights->layers[0].attn_norm.data[7]);

  // The report sees the outliers (~64 x a typical channel) and smoothing removes them.
  const auto r = test::run_cli("quantize " + q(out) + " smoothquant -o " + q(tmp / "sq") +
                               " --samples 2 --ctx 64 --calibration " + q(test::data_file("calibration.txt")) +
                               " --format json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto o = nlohmann::json::parse(r.out)["activation_outliers"];
  EXPECT_GT(o["qkv_gate_up_max_over_median"].get<double>(), 20.0);
  EXPECT_LT(o["qkv_gate_up_smoothed"].get<double>(), 5.0);
}

TEST(OutlierInjection, RefusesInexactFactorAndExistingOutput) {
  if (!have_python3()) GTEST_SKIP() << "python3 not installed";
  test::TempDir tmp;
  EXPECT_EQ(run_script(q(test::model_dir("tiny-llama")) + " " + q(tmp / "x") + " --factor 40"), 1);
  EXPECT_EQ(run_script(q(test::model_dir("tiny-llama")) + " " + q(tmp.path.string()) + " --factor 64"), 1);  // exists
  EXPECT_EQ(run_script(q(test::model_dir("tiny-llama")) + " " + q(tmp / "y") + " --channels 100000"), 1);
}

}  // namespace
}  // namespace llmq
