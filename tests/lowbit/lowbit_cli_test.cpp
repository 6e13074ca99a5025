// The CLI end to end: quantize to a scheme, then perplexity and generation
// run on the checkpoint (with its activation quantization simulated); the
// seed contract's SmoothQuant spelling; bad options fail without output.
#include <gtest/gtest.h>

#include <filesystem>
#include <tuple>

#include "common/fixtures.h"
#include "common/run_cli.h"
#include "io/safetensors.h"
#include "util/json_file.h"

namespace llmq {
namespace {

namespace fs = std::filesystem;
using test::q;
using test::run_cli;

const std::string kCalib = " --samples 2 --ctx 64 --calibration " + q(test::data_file("calibration.txt"));

TEST(LowbitCli, Fp8CheckpointEvaluatesAndGenerates) {
  test::TempDir tmp;
  const std::string out = tmp / "fp8";
  auto r = run_cli("quantize " + q(test::model_dir("tiny-llama")) + " fp8 -o " + q(out) + " --format json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["scheme"], "fp8-dynamic-channel");
  EXPECT_EQ(j["quantized_linears"], 28);
  EXPECT_EQ(j["calibration_windows"], 0);  // dynamic FP8 needs no calibration
  r = run_cli("quality perplexity " + q(out) + " --data " + q(test::data_file("wikitext2_test.txt")) +
              " --ctx 128 --chunks 2 --format json");
  ASSERT_EQ(r.code, 0) << r.err;
  const double ppl = nlohmann::json::parse(r.out)["perplexity"].get<double>();
  EXPECT_GT(ppl, 1.0);
  EXPECT_LT(ppl, 200.0);
  r = run_cli("generate " + q(out) + " --prompt 'The kernel' -n 4 --format json");
  ASSERT_EQ(r.code, 0) << r.err;
  r = run_cli("inspect " + q(out) + " --format json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("fp8 per-token activations"), std::string::npos) << r.out;
}

// Tensors left in floating point keep the source's 16-bit type: an f16
// checkpoint's FP8 output stays f16 (bf16 would drop 3 mantissa bits), a bf16 one bf16.
TEST(LowbitCli, Fp8KeepsTheSourceFloatType) {
  test::TempDir tmp;
  auto r = run_cli("synth -o " + q(tmp / "f16") + " --hidden 128 --layers 1 --ffn 256 --heads 2 --kv-heads 1 --vocab 8192 "
                   "--dtype f16 --tokenizer-from " + q(test::model_dir("tiny-llama")) + " --quiet");
  ASSERT_EQ(r.code, 0) << r.err;
  for (const auto& [src, want, dtype] : {std::tuple{tmp / "f16", DType::F16, "float16"},
                                         std::tuple{test::model_dir("tiny-llama"), DType::BF16, "bfloat16"}}) {
    const std::string out = tmp / ("fp8-" + std::string(dtype));
    r = run_cli("quantize " + q(src) + " fp8 -o " + q(out) + " --quiet");
    ASSERT_EQ(r.code, 0) << r.err;
    SafetensorsFile st(out + "/model.safetensors");
    EXPECT_EQ(st.find("model.embed_tokens.weight")->dtype, want) << src;
    EXPECT_EQ(st.find("model.norm.weight")->dtype, want) << src;
    EXPECT_EQ(read_json_file(out + "/config.json").at("torch_dtype"), dtype) << src;
  }
}

TEST(LowbitCli, SeedContractSmoothQuantSpelling) {
  test::TempDir tmp;
  const std::string out = tmp / "sq";
  auto r = run_cli("quantize " + q(test::model_dir("tiny-llama")) + " smoothquant --smoothquant --alpha 0.6 -o " + q(out) +
                   kCalib + " --format json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["scheme"], "int8-w8a8-smoothquant");
  EXPECT_NEAR(j["smoothquant"]["alpha"].get<double>(), 0.6, 1e-6);
  EXPECT_GT(j["activation_outliers"]["qkv_gate_up_max_over_median"].get<double>(), 1.0);
  const auto cfg = nlohmann::json::parse(test::read_file(out + "/config.json"));
  EXPECT_EQ(cfg["quantization_config"]["format"], "int-quantized");
}

TEST(LowbitCli, KvCacheScalesAndNvfp4) {
  test::TempDir tmp;
  const std::string out = tmp / "nv";
  auto r = run_cli("quantize " + q(test::model_dir("tiny-llama")) + " fp4 --kv-cache-dtype fp8 -o " + q(out) + kCalib +
                   " --format json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["scheme"], "nvfp4-kv-fp8");
  EXPECT_EQ(j["kv_cache"]["k_scale"].size(), 4u);
  r = run_cli("quality perplexity " + q(out) + " --data " + q(test::data_file("wikitext2_test.txt")) +
              " --ctx 128 --chunks 1 --format json");
  ASSERT_EQ(r.code, 0) << r.err;
}

TEST(LowbitCli, BadOptionsFailWithoutOutput) {
  test::TempDir tmp;
  const std::string out = tmp / "bad";
  const std::string model = q(test::model_dir("tiny-llama"));
  auto r = run_cli("quantize " + model + " fp8 --scheme nvfp4 -o " + q(out));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("--scheme nvfp4: not a scheme of fp8"), std::string::npos) << r.err;
  r = run_cli("quantize " + model + " fp4 --smoothquant -o " + q(out));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("nothing to smooth"), std::string::npos) << r.err;
  r = run_cli("quantize " + model + " int8 --weight-scales tensor -o " + q(out));
  EXPECT_EQ(r.code, 1);
  r = run_cli("quantize " + model + " smoothquant --alpha 1.5 -o " + q(out));
  EXPECT_EQ(r.code, 2);  // CLI range check: a usage error
  r = run_cli("quantize " + model + " fp8 --scheme static -o " + q(out) + " --calibration " + q(tmp / "missing.txt"));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("missing.txt"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out));
  r = run_cli("quantize " + model + " fp8 -o " + model);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("refusing to overwrite"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace llmq
