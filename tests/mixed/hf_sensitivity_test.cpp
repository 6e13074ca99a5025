// Forward-pass sensitivity and the size budget of the Hugging Face width
// allocation (quantize MODEL rtn|gptq --target-bpw X | --target-size S
// --sensitivity accurate|hybrid): the meter's KL for one linear RTN-quantized
// at a width is positive, falls as the width grows and leaves the model as it
// was; hybrid and accurate allocations take their values from the meter and
// stay within the budget; --target-size writes safetensors files that never
// exceed the target and land within 1% of it; a target below the smallest
// checkpoint is an error that writes nothing; a second run reuses the cache.
#include <gtest/gtest.h>

#include <filesystem>
#include <limits>
#include <set>

#include "calibration/calibration_data.h"
#include "calibration/imatrix_file.h"
#include "common/run_cli.h"
#include "export/hf/checkpoint_size.h"
#include "export/hf/layer_linears.h"
#include "mixed/hf_bit_allocation.h"
#include "mixed/kld_sensitivity.h"
#include "mixed_test_support.h"
#include "quant/methods/rtn.h"
#include "util/error.h"

namespace llmq {
namespace {

namespace fs = std::filesystem;

constexpr const char* kDown1 = "model.layers.1.mlp.down_proj.weight";

IntQuantizeOptions rtn_g32(HfQuantFormat f = HfQuantFormat::Gptq) {
  IntQuantizeOptions o;
  o.method = IntQuantMethod::Rtn;
  o.spec.group_size = 32;
  o.spec = spec_for_format(f, o.spec, o.gptq, false, DType::BF16);  // the fixtures are bf16, as the writer sees
  return o;
}

// One window of 64 tokens: enough to rank linears, seconds on tiny-llama.
KldSensitivityMeter& meter() {
  static std::unique_ptr<KldSensitivityMeter> m =
      make_kld_meter(test::cached_model("tiny-llama"), test::data_file("calibration.txt"), {1, 64}, nullptr);
  return *m;
}

double kl_at(const std::string& name, int layer, int bits) {
  IntQuantSpec s = rtn_g32().spec;
  s.bits = bits;
  return meter().measure({name}, layer, [&s](Tensor& t) { fake_quantize_rtn(t, s); });
}

const Tensor& weight(const std::string& name) {
  for (const NamedTensor& nt : named_tensors(*test::cached_model("tiny-llama").weights))
    if (nt.name == name) return *nt.tensor;
  throw Error("no " + name);
}

TEST(HfSensitivity, MeterKlFallsAsTheWidthGrowsAndRestoresTheWeight) {
  const std::vector<float> before = weight(kDown1).data;
  double previous = std::numeric_limits<double>::infinity();
  for (int bits : {2, 3, 4, 8}) {
    const double kl = kl_at(kDown1, 1, bits);
    EXPECT_GT(kl, 0) << bits;
    EXPECT_LT(kl, previous) << bits << " bits is no better than fewer";
    previous = kl;
  }
  EXPECT_EQ(weight(kDown1).data, before);
  // Leaving the weight as it is reproduces the base run: no loss beyond the
  // rounding of the stored base log-probs.
  EXPECT_LT(std::abs(meter().measure({kDown1}, 1, [](Tensor&) {})), 1e-7);
  EXPECT_THROW(meter().measure({"model.layers.1.mlp.nope.weight"}, 1, [](Tensor&) {}), Error);
  EXPECT_THROW(meter().measure({kDown1}, 99, [](Tensor&) {}), Error);
}

HfBitAllocation allocate_with_meter(SensitivityMode mode, const HfBudget& budget, int* calls) {
  HfSensitivitySource src;
  src.mode = mode;
  src.kl = [calls](const std::string& name, int layer, int bits) {
    ++*calls;
    return kl_at(name, layer, bits);
  };
  const ImatrixFile imatrix(test::calibrated("tiny-llama").imatrix_path);
  return allocate_hf_bits(*test::cached_model("tiny-llama").weights, imatrix, HfQuantFormat::Gptq, rtn_g32(), budget, {},
                          src);
}

TEST(HfSensitivity, HybridValuesComeFromTheMeterOnTheFastCurve) {
  int calls = 0;
  const HfBitAllocation a = allocate_with_meter(SensitivityMode::Hybrid, HfBudget{3.6}, &calls);
  ASSERT_EQ(a.linears.size(), 28u);
  EXPECT_EQ(a.mode, SensitivityMode::Hybrid);
  EXPECT_EQ(calls, 28 * 2) << "two reference widths per linear";
  EXPECT_LE(a.used_bytes, a.budget_bytes);
  EXPECT_GE(double(a.used_bytes), 0.99 * double(a.budget_bytes));
  double lo = 1e300, hi = 0;  // KL per unit of fast error, across linears
  for (const HfLinearAllocation& l : a.linears) {
    ASSERT_EQ(l.options.size(), 4u);
    // g32: 2 bits ~2.7 bpw and 4 bits ~4.7 bpw are nearest 2.6 and 4.5.
    EXPECT_TRUE(l.options[0].measured && !l.options[1].measured && l.options[2].measured && !l.options[3].measured) << l.name;
    for (size_t i = 1; i < l.options.size(); ++i) EXPECT_LT(l.options[i].sensitivity, l.options[i - 1].sensitivity) << l.name;
    lo = std::min(lo, l.options[2].sensitivity / l.options[2].fast);
    hi = std::max(hi, l.options[2].sensitivity / l.options[2].fast);
    if (l.name == kDown1) {
      EXPECT_EQ(l.options[0].sensitivity, kl_at(kDown1, 1, 2));
      EXPECT_EQ(l.options[2].sensitivity, kl_at(kDown1, 1, 4));
    }
  }
  // What the fast measure alone cannot know: the scale differs between linears.
  EXPECT_GT(hi / lo, 3.0);
}

TEST(HfSensitivity, AccurateMeasuresEveryWidthWithinTheBudget) {
  int calls = 0;
  const HfBitAllocation a = allocate_with_meter(SensitivityMode::Accurate, HfBudget{3.3}, &calls);
  EXPECT_EQ(calls, 28 * 4);
  EXPECT_LE(a.used_bytes, a.budget_bytes);
  EXPECT_LE(a.bpw(), 3.3);
  std::set<int> widths;
  for (const HfLinearAllocation& l : a.linears) {
    widths.insert(l.chosen().bits);
    for (const HfWidthOption& o : l.options) EXPECT_TRUE(o.measured);
    EXPECT_EQ(l.chosen().sensitivity, l.name == kDown1 ? kl_at(kDown1, 1, l.chosen().bits) : l.chosen().sensitivity);
  }
  EXPECT_GT(widths.size(), 1u);
}

// The whole checkpoint at one width for every linear, as the writer counts it.
uint64_t uniform_checkpoint_bytes(int bits, HfQuantFormat f = HfQuantFormat::Gptq) {
  ModelWeights& w = *test::cached_model("tiny-llama").weights;
  IntQuantizeOptions o = rtn_g32(f);
  o.spec.bits = bits;
  std::set<std::string> names;
  for (const LayerLinear& l : model_linears(w)) names.insert(l.name);
  return hf_checkpoint_bytes(w, f, o, names);
}

uint64_t safetensors_bytes(const fs::path& dir) {
  uint64_t n = 0;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".safetensors") n += fs::file_size(e.path());
  return n;
}

std::string quantize_cmd(const std::string& budget, const fs::path& out, HfQuantFormat f = HfQuantFormat::Gptq) {
  return "quantize " + test::q(test::model_dir("tiny-llama")) + " rtn --format-out " + hf_quant_format_name(f) +
         " --group-size 32 --imatrix " +
         test::q(test::calibrated("tiny-llama").imatrix_path) + " " + budget + " -o " + test::q(out.string()) +
         " --format json";
}

TEST(HfSensitivity, TargetSizeNeverAboveAndWithinOnePercent) {
  const uint64_t b3 = uniform_checkpoint_bytes(3), b4 = uniform_checkpoint_bytes(4);
  for (uint64_t target : {b3 + (b4 - b3) / 3, b4 - 1000}) {
    test::TempDir d;
    const auto r = test::run_cli(quantize_cmd("--target-size " + std::to_string(target) + "B --sensitivity fast", d / "out"));
    ASSERT_EQ(r.code, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    const uint64_t written = safetensors_bytes(d / "out");
    EXPECT_LE(written, target);
    EXPECT_GE(double(written), 0.99 * double(target));
    EXPECT_EQ(j["bytes"].get<uint64_t>(), written);
    EXPECT_EQ(j["target_bytes"].get<uint64_t>(), target);
    EXPECT_EQ(j["allocation"]["checkpoint_bytes"].get<uint64_t>(), written) << "the prediction is the file";
  }
  // The other layouts count their own tensors (compressed-tensors: no 3 bits).
  for (HfQuantFormat f : {HfQuantFormat::CompressedTensors, HfQuantFormat::Mlx}) {
    const uint64_t target = (uniform_checkpoint_bytes(2, f) + uniform_checkpoint_bytes(4, f)) / 2;
    test::TempDir d;
    const auto r = test::run_cli(quantize_cmd("--target-size " + std::to_string(target) + " --sensitivity fast", d / "out", f));
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(nlohmann::json::parse(r.out)["allocation"]["checkpoint_bytes"].get<uint64_t>(), safetensors_bytes(d / "out"))
        << hf_quant_format_name(f);
    EXPECT_LE(safetensors_bytes(d / "out"), target) << hf_quant_format_name(f);
    EXPECT_GE(double(safetensors_bytes(d / "out")), 0.99 * double(target)) << hf_quant_format_name(f);
  }
  // Shards each carry a header; the size still holds.
  test::TempDir d;
  const uint64_t target = b3 + (b4 - b3) / 2;
  const auto r = test::run_cli(quantize_cmd("--target-size " + std::to_string(target) + " --sensitivity fast --max-shard-size 300KB", d / "out"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_GT(nlohmann::json::parse(r.out)["files"].size(), 2u);
  EXPECT_EQ(nlohmann::json::parse(r.out)["allocation"]["checkpoint_bytes"].get<uint64_t>(), safetensors_bytes(d / "out"));
  EXPECT_LE(safetensors_bytes(d / "out"), target);
  EXPECT_GE(double(safetensors_bytes(d / "out")), 0.99 * double(target));
}

TEST(HfSensitivity, TargetSizeBelowTheSmallestIsAnErrorAndWritesNothing) {
  const uint64_t b2 = uniform_checkpoint_bytes(2);
  test::TempDir d;
  const auto r = test::run_cli(quantize_cmd("--target-size " + std::to_string(b2 - 1), d / "out"));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("is below the smallest gptq checkpoint of this model: " + std::to_string(b2) + " bytes"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(d / "out"));
  // Exactly the smallest is feasible: every linear at 2 bits.
  const auto ok = test::run_cli(quantize_cmd("--target-size " + std::to_string(b2) + " --sensitivity fast", d / "out"));
  ASSERT_EQ(ok.code, 0) << ok.err;
  EXPECT_EQ(safetensors_bytes(d / "out"), b2);
}

// Without --sensitivity the CLI measures hybrid (calibration text is found);
// the second run takes every forward pass from the cache and allocates the same.
TEST(HfSensitivity, CliDefaultsToHybridAndResumesFromTheCache) {
  test::TempDir d;
  std::string opts = "--target-bpw 3.6 --sensitivity-windows 1 --sensitivity-cache " + test::q(d / "kl.json");
  // Where no default calibration text lies beside the checkout, name one (the default is fast there).
  if (!default_calibration_path(test::model_dir("tiny-llama")))
    opts += " --sensitivity hybrid --sensitivity-data " + test::q(test::data_file("calibration.txt"));
  const auto r1 = test::run_cli(quantize_cmd(opts + " --sensitivity-ctx 64", d / "a"));
  ASSERT_EQ(r1.code, 0) << r1.err;
  const auto a1 = nlohmann::json::parse(r1.out)["allocation"];
  EXPECT_EQ(a1["sensitivity_mode"], "hybrid");
  EXPECT_EQ(a1["sensitivity_run"]["measured"], 56);
  EXPECT_TRUE(fs::exists(d / "kl.json"));
  const auto r2 = test::run_cli(quantize_cmd(opts + " --sensitivity-ctx 64", d / "b"));
  ASSERT_EQ(r2.code, 0) << r2.err;
  const auto a2 = nlohmann::json::parse(r2.out)["allocation"];
  EXPECT_EQ(a2["sensitivity_run"]["measured"], 0);
  EXPECT_EQ(a2["sensitivity_run"]["reused"], 56);
  for (size_t i = 0; i < a1["linears"].size(); ++i) EXPECT_EQ(a1["linears"][i]["bits"], a2["linears"][i]["bits"]);
  EXPECT_EQ(a2["sensitivity_run"]["cache_note"], "");
  // Other windows: the file is not reused, and says why.
  const auto r3 = test::run_cli(quantize_cmd(opts + " --sensitivity-ctx 48", d / "c"));
  ASSERT_EQ(r3.code, 0) << r3.err;
  const auto a3 = nlohmann::json::parse(r3.out)["allocation"];
  EXPECT_EQ(a3["sensitivity_run"]["measured"], 56);
  EXPECT_NE(a3["sensitivity_run"]["cache_note"].get<std::string>().find("other inputs"), std::string::npos);
}

}  // namespace
}  // namespace llmq
