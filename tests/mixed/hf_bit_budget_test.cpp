// Per-linear widths to a budget in the Hugging Face integer formats
// (quantize MODEL rtn|gptq --format-out F --imatrix I --target-bpw X): the
// allocation never exceeds the budget and lands within 1% of it, swapping
// two same-shape linears' widths never helps (the exchange condition of an
// optimum), the checkpoint reloads through our loader to exactly the RTN
// weights at the chosen widths, and an unreachable budget is a clear error.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>

#include "calibration/imatrix_file.h"
#include "common/run_cli.h"
#include "export/hf/hf_quant_writer.h"
#include "export/hf/loaders/hf_quant_loader.h"
#include "mixed/hf_bit_allocation.h"
#include "mixed_test_support.h"
#include "model/model_loader.h"
#include "quant/methods/rtn.h"
#include "util/error.h"

namespace llmq {
namespace {

namespace fs = std::filesystem;

IntQuantizeOptions rtn_g32(HfQuantFormat f) {
  IntQuantizeOptions o;
  o.method = IntQuantMethod::Rtn;
  o.spec.group_size = 32;
  o.spec = spec_for_format(f, o.spec, o.gptq, false, DType::BF16);  // the fixtures are bf16, as the writer sees
  return o;
}

HfBitAllocation allocate(HfQuantFormat f, double bpw, BitRange range = {}) {
  const ImatrixFile imatrix(test::calibrated("tiny-llama").imatrix_path);
  return allocate_hf_bits(*test::cached_model("tiny-llama").weights, imatrix, f, rtn_g32(f), HfBudget{bpw}, range);
}

TEST(HfBitBudget, NeverAboveAndWithinOnePercent) {
  for (HfQuantFormat f : {HfQuantFormat::Gptq, HfQuantFormat::CompressedTensors, HfQuantFormat::Mlx})
    for (double bpw : {3.3, 3.9, 4.6, 6.0}) {
      const HfBitAllocation a = allocate(f, bpw);
      const std::string what = std::string(hf_quant_format_name(f)) + " at " + std::to_string(bpw);
      ASSERT_EQ(a.linears.size(), size_t(4 * 7)) << what;
      uint64_t sum = 0;
      double sens = 0;
      for (const HfLinearAllocation& l : a.linears) {
        sum += l.chosen().bytes;
        sens += l.chosen().sensitivity;
      }
      EXPECT_EQ(sum, a.used_bytes) << what;
      EXPECT_NEAR(sens, a.sensitivity, 1e-9) << what;
      EXPECT_LE(a.used_bytes, a.budget_bytes) << what;
      EXPECT_LE(a.bpw(), bpw) << what;
      EXPECT_GE(double(a.used_bytes), 0.99 * double(a.budget_bytes)) << what;
      EXPECT_GE(a.sensitivity, a.lower_bound - 1e-12) << what;
      // Each width's error falls as the width grows, and every linear had an imatrix entry.
      for (const HfLinearAllocation& l : a.linears) {
        EXPECT_TRUE(l.has_importance) << l.name;
        for (size_t i = 1; i < l.options.size(); ++i) {
          EXPECT_LT(l.options[i].sensitivity, l.options[i - 1].sensitivity) << l.name;
          EXPECT_GT(l.options[i].bytes, l.options[i - 1].bytes) << l.name;
        }
      }
    }
}

// The bytes counted are the format's own tensors: GPTQ 3-bit g32 on a
// 256x256 linear: qweight 256*3/32 x 256 int32, qzeros 8 x 256*3/32 int32,
// scales 8 x 256 fp16, g_idx 256 int32.
TEST(HfBitBudget, BytesPerWidthByHand) {
  const HfBitAllocation a = allocate(HfQuantFormat::Gptq, 4.0);
  const HfLinearAllocation& q = a.linears.front();
  ASSERT_EQ(q.name, "model.layers.0.self_attn.q_proj.weight");
  ASSERT_EQ(q.options[1].bits, 3);
  EXPECT_EQ(q.options[1].bytes, uint64_t(24 * 256 * 4 + 8 * 24 * 4 + 8 * 256 * 2 + 256 * 4));
}

// At an optimum, giving linear A's width to B and B's to A (same shape, so
// the same bytes) cannot lower the sum: a linear with fewer bits must gain
// no more from the other's width than the other does. So a linear whose
// error drops more never gets fewer bits than one of equal cost.
TEST(HfBitBudget, MoreSensitiveNeverGetsFewerBits) {
  int pairs = 0;
  for (double bpw : {3.0, 3.5, 4.2}) {
    const HfBitAllocation a = allocate(HfQuantFormat::Gptq, bpw);
    for (const HfLinearAllocation& x : a.linears)
      for (const HfLinearAllocation& y : a.linears) {
        if (x.rows != y.rows || x.cols != y.cols || x.choice >= y.choice) continue;
        const double gain_x = x.options[x.choice].sensitivity - x.options[y.choice].sensitivity;
        const double gain_y = y.options[x.choice].sensitivity - y.options[y.choice].sensitivity;
        EXPECT_LE(gain_x, gain_y + 1e-12) << x.name << " has fewer bits than " << y.name << " at " << bpw;
        ++pairs;
      }
  }
  EXPECT_GT(pairs, 0) << "no mixed widths among same-shape linears: the test checked nothing";
}

TEST(HfBitBudget, BitRangeBoundsTheWidths) {
  const HfBitAllocation a = allocate(HfQuantFormat::Gptq, 4.2, {3, 4});
  EXPECT_EQ(a.widths, (std::vector<int>{3, 4}));
  for (const HfLinearAllocation& l : a.linears) EXPECT_TRUE(l.chosen().bits == 3 || l.chosen().bits == 4) << l.name;
  EXPECT_THROW(allocate(HfQuantFormat::CompressedTensors, 3.6, {3, 3}), Error);  // no 3-bit packing there
}

TEST(HfBitBudget, BudgetBelowSmallestWidthIsAnError) {
  try {
    allocate(HfQuantFormat::Gptq, 1.5);
    FAIL() << "1.5 bpw accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("below the smallest allocation gptq allows"), std::string::npos) << e.what();
  }
  test::TempDir d;
  const auto r = test::run_cli("quantize " + test::q(test::model_dir("tiny-llama")) + " rtn --format-out gptq --group-size 32 " +
                               "--imatrix " + test::q(test::calibrated("tiny-llama").imatrix_path) + " --target-bpw 1.5 -o " +
                               test::q(d / "out"));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("--target-bpw 1.5 is below the smallest"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(d / "out"));
}

// The CLI writes the widths it reports; our loader reads back exactly RTN at those widths.
TEST(HfBitBudget, CliCheckpointReloads) {
  for (HfQuantFormat f : {HfQuantFormat::Gptq, HfQuantFormat::CompressedTensors, HfQuantFormat::Mlx}) {
    test::TempDir d;
    const auto r = test::run_cli("quantize " + test::q(test::model_dir("tiny-llama")) + " rtn --format-out " +
                                 hf_quant_format_name(f) + " --group-size 32 --imatrix " +
                                 test::q(test::calibrated("tiny-llama").imatrix_path) + " --target-bpw 3.4 --sensitivity fast -o " +
                                 test::q(d / "out") + " --format json");
    ASSERT_EQ(r.code, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out)["allocation"];
    EXPECT_LE(j["bpw"].get<double>(), 3.4);
    EXPECT_EQ(j["linears"].size(), 28u);
    register_hf_quant_loaders();
    const LoadedModel loaded = load_model(d / "out");
    LoadedModel source = load_hf_model(test::model_dir("tiny-llama"));
    std::map<std::string, const Tensor*> src, got;
    for (const NamedTensor& nt : named_tensors(*source.weights)) src[nt.name] = nt.tensor;
    for (const NamedTensor& nt : named_tensors(*loaded.weights)) got[nt.name] = nt.tensor;
    std::set<int> widths;
    for (const auto& l : j["linears"]) {
      const std::string name = l["name"];
      IntQuantSpec s = rtn_g32(f).spec;
      s.bits = l["bits"];
      widths.insert(s.bits);
      ASSERT_TRUE(src.count(name) && got.count(name)) << name;
      EXPECT_EQ(got[name]->data, dequantize_as_stored(quantize_rtn(*src[name], s), f).data) << name;
    }
    EXPECT_GT(widths.size(), 1u) << "3.4 bpw should mix widths";
  }
}

}  // namespace
}  // namespace llmq
