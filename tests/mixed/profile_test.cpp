// .dqprofile files: round trip, the built-ins, validation against a model,
// and the errors a malformed profile gets.
#include <gtest/gtest.h>

#include <fstream>

#include "calibration/calibration_data.h"
#include "mixed/dynamic_quantize.h"
#include "mixed/profile.h"
#include "util/byte_size.h"
#include "mixed_test_support.h"
#include "util/error.h"

namespace llmq {
namespace {

using ggml::GgmlType;
using json = nlohmann::json;

json minimal() { return {{"format", "llm-quantize-dqprofile"}, {"version", 1}, {"name", "p"}, {"target", {{"bpw", 3.25}}}}; }

std::string error_of(const json& j) {
  try {
    profile_from_json(j, "x.dqprofile");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Profile, RoundTripKeepsEverySetting) {
  DynamicProfile p;
  p.name = "mine";
  p.description = "test profile";
  p.target_bytes = 123456789;
  p.sensitivity = SensitivityMode::Accurate;
  p.bits = {2, 6};
  p.ladder = {GgmlType::Q2_K, GgmlType::Q4_K, GgmlType::Q6_K};
  p.rules = {{"attn_v", GgmlType::Q6_K, {}}, {"ffn_", std::nullopt, {2, 3}}};
  p.experts = {true, {3, 5}, 0.2};
  p.protect_super_weights = true;
  p.super_weight_type = GgmlType::Q6_K;
  p.imatrix = "/x/model.imatrix";
  p.tensor_types = {{"blk.0.attn_q.weight", GgmlType::Q4_K}};
  const DynamicProfile q = profile_from_json(json::parse(profile_to_json(p).dump()), "mem");
  EXPECT_EQ(profile_to_json(q), profile_to_json(p));
  EXPECT_EQ(q.name, "mine");
  EXPECT_EQ(*q.target_bytes, 123456789u);
  EXPECT_FALSE(q.target_bpw);
  EXPECT_EQ(q.sensitivity, SensitivityMode::Accurate);
  EXPECT_EQ(q.bits.max_bits, 6);
  ASSERT_EQ(q.rules.size(), 2u);
  EXPECT_EQ(*q.rules[0].type, GgmlType::Q6_K);
  EXPECT_EQ(q.rules[1].bits.max_bits, 3);
  EXPECT_TRUE(q.experts.dynamic);
  EXPECT_EQ(q.experts.bits.min_bits, 3);
  EXPECT_DOUBLE_EQ(q.experts.hot_fraction, 0.2);
  EXPECT_TRUE(q.protect_super_weights);
  EXPECT_EQ(q.super_weight_type, GgmlType::Q6_K);
  EXPECT_EQ(q.tensor_types.at("blk.0.attn_q.weight"), GgmlType::Q4_K);
}

TEST(Profile, FileRoundTripAndSizeTargets) {
  test::TempDir d;
  DynamicProfile p = profile_from_json(minimal(), "mem");
  write_profile(p, d / "a.dqprofile");
  const DynamicProfile q = load_profile(d / "a.dqprofile");
  EXPECT_DOUBLE_EQ(*q.target_bpw, 3.25);
  json j = minimal();
  j["target"] = {{"size", "3.0GB"}};
  EXPECT_EQ(*profile_from_json(j, "m").target_bytes, 3000000000u);
  EXPECT_EQ(parse_byte_size("2.5GiB", "--target-size"), uint64_t(2.5 * 1073741824.0));
  EXPECT_EQ(parse_byte_size("800MB", "--target-size"), 800000000u);
  EXPECT_EQ(parse_byte_size("12345", "--target-size"), 12345u);
  EXPECT_THROW(parse_byte_size("3.0XB", "--target-size"), Error);
  EXPECT_THROW(parse_byte_size("GB", "--target-size"), Error);
}

TEST(Profile, BuiltinsExistAndFitTinyLlama) {
  std::vector<std::string> names;
  for (const DynamicProfile& p : builtin_profiles()) names.push_back(p.name);
  EXPECT_EQ(names, (std::vector<std::string>{"attention-high", "balanced", "compression-max"}));
  EXPECT_DOUBLE_EQ(*load_profile("attention-high").target_bpw, 3.0);
  EXPECT_DOUBLE_EQ(*load_profile("balanced").target_bpw, 3.5);
  EXPECT_DOUBLE_EQ(*load_profile("compression-max").target_bpw, 2.5);
  // attention-high: attention in the 4-bit class, MLP in the 2-bit class.
  const DynamicProfile ah = load_profile("attention-high");
  ASSERT_EQ(ah.rules.size(), 2u);
  EXPECT_EQ(ah.rules[0].bits.min_bits, 4);
  EXPECT_EQ(ah.rules[1].bits.max_bits, 2);
  for (const char* n : {"attention-high", "balanced"}) {
    const ProfileCheck c = validate_profile(load_profile(n), test::catalog("tiny-llama"));
    EXPECT_TRUE(c.ok()) << n << ": " << (c.problems.empty() ? "" : c.problems.front());
  }
}

TEST(Profile, MalformedProfilesAreRejectedWithTheReason) {
  auto with = [](const char* key, json v) {
    json j = minimal();
    j[key] = v;
    return j;
  };
  EXPECT_EQ(error_of(with("colour", "red")).rfind("x.dqprofile: ", 0), 0u);  // names the file
  EXPECT_NE(error_of(with("colour", "red")).find("unknown key \"colour\""), std::string::npos);
  EXPECT_NE(error_of(with("format", "other")).find("not a dynamic quantization profile"), std::string::npos);
  EXPECT_NE(error_of(with("version", 2)).find("version"), std::string::npos);
  EXPECT_NE(error_of(with("target", {{"bpw", -1}})).find("target.bpw"), std::string::npos);
  EXPECT_NE(error_of(with("target", {{"size", "3 parsecs"}})).find("unknown size unit"), std::string::npos);
  EXPECT_NE(error_of(with("rules", json::array({{{"match", "("}, {"min_bits", 2}}}))).find("bad regular expression"),
            std::string::npos);
  EXPECT_NE(error_of(with("rules", json::array({{{"match", "x"}}}))).find("needs \"type\""), std::string::npos);
  EXPECT_NE(error_of(with("rules", json::array({{{"match", "x"}, {"type", "Q9_K"}}}))).find("'Q9_K'"), std::string::npos);
  EXPECT_EQ(error_of(with("min_bits", 6)), "");  // alone it is fine (max defaults to unbounded)
  json j = minimal();
  j["min_bits"] = 6;
  j["max_bits"] = 4;
  EXPECT_NE(error_of(j).find("min_bits 6 is above max_bits 4"), std::string::npos);
  j = minimal();
  j.erase("target");
  EXPECT_NE(error_of(j).find("neither a target nor tensor_types"), std::string::npos);
  EXPECT_THROW(load_profile("/nonexistent/p.dqprofile"), Error);
}

TEST(Profile, ValidationReportsWhatDoesNotMatchTheModel) {
  const TensorCatalog& cat = test::catalog("tiny-llama");
  DynamicProfile p = profile_from_json(minimal(), "m");
  p.rules = {{"attn_q\\.weight$", GgmlType::Q4_K, {}},  // fine
             {"no_such_tensor", std::nullopt, {2, 4}},   // matches nothing
             {"ffn_down", GgmlType::Q4_0, {}}};           // fine: 768 % 32 == 0
  ProfileCheck c = validate_profile(p, cat);
  ASSERT_EQ(c.problems.size(), 1u);
  EXPECT_NE(c.problems[0].find("'no_such_tensor'"), std::string::npos);

  p.rules.clear();
  p.target_bpw = 1.0;  // below Q2_K
  c = validate_profile(p, cat);
  ASSERT_EQ(c.problems.size(), 1u);
  EXPECT_NE(c.problems[0].find("below the smallest mixture"), std::string::npos);

  p.target_bpw = 3.5;
  p.tensor_types = {{"blk.0.attn_q.weight", GgmlType::Q4_K}, {"blk.9.attn_q.weight", GgmlType::Q4_K},
                    {"blk.0.attn_norm.weight", GgmlType::Q4_K}};
  c = validate_profile(p, cat);
  bool unknown = false, unquantized = false, missing = false;
  for (const std::string& s : c.problems) {
    unknown |= s.find("no tensor blk.9.attn_q.weight") != std::string::npos;
    unquantized |= s.find("blk.0.attn_norm.weight is not quantized") != std::string::npos;
    missing |= s.find("no type for 29 quantized tensor(s)") != std::string::npos;
  }
  EXPECT_TRUE(unknown && unquantized && missing);
  // Quantizing with such a profile fails naming the profile's file and the first tensor without a type.
  DynamicQuantOptions dq;
  dq.profile = p;
  try {
    plan_dynamic(cat, dq);
    ADD_FAILURE() << "a profile without types for the model's tensors was used";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.rfind("m:", 0), 0u) << what;
    EXPECT_NE(what.find("gives no type for tensor"), std::string::npos) << what;
  }

  // An importance matrix of another model is caught.
  p.tensor_types.clear();
  p.imatrix = test::calibrated("tiny-qwen3moe").imatrix_path;
  c = validate_profile(p, cat);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.problems.back().find("made for another model"), std::string::npos);
  p.imatrix = test::calibrated("tiny-llama").imatrix_path;
  EXPECT_TRUE(validate_profile(p, cat).ok());
}

}  // namespace
}  // namespace llmq

namespace llmq {
namespace {

// A profile that names no measure gets hybrid where calibration text is
// given or found, fast where none is; a named measure is kept.
TEST(Profile, UnsetMeasureIsHybridWithCalibrationTextElseFast) {
  DynamicProfile p = load_profile("balanced");
  EXPECT_FALSE(p.sensitivity);
  const std::string tiny = test::model_dir("tiny-llama");
  EXPECT_EQ(resolve_sensitivity_mode(p, tiny, "given.txt"), SensitivityMode::Hybrid);
  EXPECT_EQ(resolve_sensitivity_mode(p, tiny, ""),
            default_calibration_path(tiny) ? SensitivityMode::Hybrid : SensitivityMode::Fast);
  p.sensitivity = SensitivityMode::Fast;
  EXPECT_EQ(resolve_sensitivity_mode(p, tiny, "given.txt"), SensitivityMode::Fast);
}

}  // namespace
}  // namespace llmq
