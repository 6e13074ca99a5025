// --protect-super-weights: the tensor holding a listed super weight is kept
// at the protected type, the budget still holds, and the cost is reported.
#include <gtest/gtest.h>

#include "calibration/super_weights.h"
#include "mixed/dynamic_quantize.h"
#include "mixed_test_support.h"
#include "util/error.h"

namespace llmq {
namespace {

using ggml::GgmlType;

DynamicQuantOptions options(const std::string& imatrix) {
  DynamicQuantOptions o;
  o.profile = load_profile("balanced");
  o.profile.target_bpw = 3.5;
  o.profile.sensitivity = SensitivityMode::Fast;  // the protection is under test, not the measure
  o.profile.ladder = {GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::Q8_0};
  o.imatrix_path = imatrix;
  o.no_sensitivity_cache = true;
  return o;
}

TEST(SuperWeightProtection, KeepsTheTensorAndReportsTheCost) {
  const TensorCatalog& cat = test::catalog("tiny-llama");
  test::TempDir d;
  SuperWeight sw;
  sw.layer = 1;
  sw.tensor = "model.layers.1.mlp.down_proj.weight";
  sw.gguf_tensor = "blk.1.ffn_down.weight";
  sw.row = 7;
  sw.col = 100;
  sw.value = -3.5f;
  write_super_weights(d / "sw.json", {sw});

  DynamicQuantOptions o = options(test::calibrated("tiny-llama").imatrix_path);
  const DynamicPlan free = plan_dynamic(cat, o);
  o.profile.protect_super_weights = true;
  o.super_weights_path = d / "sw.json";
  const DynamicPlan prot = plan_dynamic(cat, o);

  ASSERT_EQ(prot.protected_tensors.size(), 1u);
  const ProtectedTensor& p = prot.protected_tensors[0];
  EXPECT_EQ(p.name, "blk.1.ffn_down.weight");
  EXPECT_EQ(p.type, GgmlType::Q8_0);
  GgmlType before = GgmlType::F32;
  for (const TensorAllocation& t : free.allocation.tensors)
    if (t.name == p.name) before = t.type;
  EXPECT_EQ(p.unprotected_type, before);
  const GgufTensorSpec& spec = cat.find(p.name)->spec;
  EXPECT_EQ(p.extra_bytes, int64_t(tensor_data_bytes(spec, GgmlType::Q8_0)) - int64_t(tensor_data_bytes(spec, before)));
  for (const TensorAllocation& t : prot.allocation.tensors)
    if (t.name == p.name) {
      EXPECT_EQ(t.type, GgmlType::Q8_0);
      EXPECT_FALSE(t.allocated);
      EXPECT_NE(t.reason.find("super weight"), std::string::npos);
    }
  EXPECT_LE(prot.allocation.bpw(), 3.5);
  EXPECT_GE(prot.protection_sensitivity_cost, -1e-12);  // a constraint never lowers the optimum's loss
}

TEST(SuperWeightProtection, MissingListIsAnError) {
  DynamicQuantOptions o = options(test::calibrated("tiny-llama").imatrix_path);
  o.profile.protect_super_weights = true;
  o.super_weights_path = "/nonexistent/sw.json";
  try {
    plan_dynamic(test::catalog("tiny-llama"), o);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--identify-super-weights"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace llmq
