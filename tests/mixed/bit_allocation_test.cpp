// The allocator on tiny-llama's real tensor list with synthetic sensitivity
// curves: budgets in bpw and in file bytes are met within 1% and never
// exceeded, bounds and rules hold, and the exported file is exactly the size
// the plan predicts.
#include <gtest/gtest.h>

#include <filesystem>

#include "export/gguf/gguf_exporter.h"
#include "mixed/dynamic_quantize.h"
#include "mixed_test_support.h"
#include "util/error.h"

namespace llmq {
namespace {

using ggml::GgmlType;

const std::vector<GgmlType> kKQuants{GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K,
                                     GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::Q8_0};

AllocationOptions options(double bpw) {
  AllocationOptions o;
  o.budget = {Budget::Kind::BitsPerWeight, bpw, 0};
  o.ladder = kKQuants;
  return o;
}

double unit_weight(const std::string&) { return 1.0; }

TEST(BitAllocation, BitsPerWeightBudgetMetWithinOnePercentNeverAbove) {
  const TensorCatalog& cat = test::catalog("tiny-llama");
  for (double bpw : {2.9, 3.0, 3.5, 4.25, 5.0, 6.5}) {
    const AllocationOptions o = options(bpw);
    const auto cands = plan_candidates(cat, o);
    const AllocationResult r = allocate_types(cat, cands, test::synthetic_table(cat, cands, unit_weight), o);
    EXPECT_LE(r.bpw(), bpw) << bpw;
    EXPECT_GE(r.bpw(), 0.99 * bpw) << bpw;
    EXPECT_LE(r.used_bytes, r.target_bytes);
    EXPECT_TRUE(r.exact);
    EXPECT_LE(r.lower_bound, r.sensitivity + 1e-12);
    EXPECT_FALSE(r.saturated);
  }
}

TEST(BitAllocation, FileSizeBudgetCountsHeaderAndPadding) {
  const TensorCatalog& cat = test::catalog("tiny-llama");
  for (uint64_t size : {3000000ull, 3500000ull, 4200000ull}) {
    AllocationOptions o = options(0);
    o.budget = {Budget::Kind::FileBytes, 0, size};
    const auto cands = plan_candidates(cat, o);
    const AllocationResult r = allocate_types(cat, cands, test::synthetic_table(cat, cands, unit_weight), o);
    EXPECT_LE(r.file_bytes, size);
    EXPECT_GE(double(r.file_bytes), 0.99 * double(size));
    EXPECT_EQ(r.used_bytes, r.file_bytes);
  }
}

TEST(BitAllocation, MoreSensitiveTensorsGetMoreBits) {
  // output.weight (2.1 M of the 7.3 M values) is made 1000x as sensitive
  // per value as everything else: the exact optimum gives it the largest type
  // (Q8_0: 17.9 Mbit of the 32.9 Mbit that 4.5 bpw allows) while the rest
  // share what is left.
  const TensorCatalog& cat = test::catalog("tiny-llama");
  const AllocationOptions o = options(4.5);
  const auto cands = plan_candidates(cat, o);
  const auto table = test::synthetic_table(cat, cands, [](const std::string& n) { return n == "output.weight" ? 1000.0 : 1.0; });
  const AllocationResult r = allocate_types(cat, cands, table, o);
  for (const TensorAllocation& t : r.tensors)
    if (t.name == "output.weight") EXPECT_EQ(t.type, GgmlType::Q8_0);
    else if (t.allocated) EXPECT_LT(ggml::type_bpw(t.type), ggml::type_bpw(GgmlType::Q8_0)) << t.name;
}

TEST(BitAllocation, BoundsAndRulesHold) {
  const TensorCatalog& cat = test::catalog("tiny-llama");
  AllocationOptions o = options(4.0);
  o.bits = {3, 6};
  o.rules = {{R"(attn_v\.weight$)", GgmlType::Q6_K, {}}, {R"(ffn_down)", std::nullopt, {5, 5}}};
  const auto cands = plan_candidates(cat, o);
  const AllocationResult r = allocate_types(cat, cands, test::synthetic_table(cat, cands, unit_weight), o);
  int checked = 0;
  for (const TensorAllocation& t : r.tensors) {
    if (ggml::block_size(t.type) == 1) continue;  // norms stay F32
    if (t.name.find("attn_v.weight") != std::string::npos) {
      EXPECT_EQ(t.type, GgmlType::Q6_K);
      EXPECT_FALSE(t.allocated);
      EXPECT_NE(t.reason.find("rule"), std::string::npos);
    } else if (t.name.find("ffn_down") != std::string::npos) {
      EXPECT_EQ(bit_class(t.type), 5) << t.name;
    } else {
      EXPECT_GE(bit_class(t.type), 3) << t.name;
      EXPECT_LE(bit_class(t.type), 6) << t.name;
    }
    ++checked;
  }
  EXPECT_EQ(checked, 30);
}

TEST(BitAllocation, ImpossibleRequestsFailWithAReason) {
  const TensorCatalog& cat = test::catalog("tiny-llama");
  AllocationOptions o = options(2.0);  // below Q2_K everywhere
  auto cands = plan_candidates(cat, o);
  try {
    allocate_types(cat, cands, test::synthetic_table(cat, cands, unit_weight), o);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("below the smallest mixture"), std::string::npos) << e.what();
  }
  o = options(3.0);
  o.bits = {7, 7};  // no k-quant of class 7
  EXPECT_THROW(plan_candidates(cat, o), Error);
  o = options(3.0);
  o.rules = {{"(", std::nullopt, {2, 4}}};
  EXPECT_THROW(plan_candidates(cat, o), Error);
}

TEST(BitAllocation, ExportedFileHasThePredictedSize) {
  const TensorCatalog& cat = test::catalog("tiny-llama");
  AllocationOptions o = options(0);
  o.budget = {Budget::Kind::FileBytes, 0, 3300000};
  const auto cands = plan_candidates(cat, o);
  const AllocationResult r = allocate_types(cat, cands, test::synthetic_table(cat, cands, unit_weight), o);
  test::TempDir dir;
  GgufExportOptions eo;
  eo.quant.preset = preset_for_mixture(r);
  for (const TensorAllocation& t : r.tensors)
    if (ggml::block_size(t.type) > 1) eo.quant.tensor_type_by_name[t.name] = t.type;
  eo.output = dir / "mix.gguf";
  const GgufExportResult x = export_gguf(test::model_dir("tiny-llama"), eo);
  EXPECT_EQ(x.file_bytes, r.file_bytes);
  EXPECT_EQ(x.tensor_bytes, r.tensor_bytes);
  EXPECT_LE(x.file_bytes, 3300000u);
  for (size_t i = 0; i < x.tensors.size(); ++i) EXPECT_EQ(x.tensors[i].type, r.tensors[i].type) << x.tensors[i].name;
}

}  // namespace
}  // namespace llmq
