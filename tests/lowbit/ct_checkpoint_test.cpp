// Every scheme's checkpoint loads back with exactly the weights and runtime
// quantization the quantizer produced, holds the tensors llm-compressor
// writes (names, dtypes, shapes), and its config carries the fields vLLM's
// CompressedTensorsConfig reads.
#include <gtest/gtest.h>

#include <filesystem>

#include "export/hf/ct_lowbit_writer.h"
#include "export/hf/loaders/ct_lowbit_loader.h"
#include "export/hf/lowbit_model.h"
#include "io/hf_checkpoint.h"
#include "lowbit_test_support.h"
#include "util/error.h"
#include "util/json_file.h"

namespace llmq {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

LowbitScheme scheme_of(const std::string& method, const std::string& scheme, bool kv = false) {
  LowbitScheme s = parse_lowbit_scheme(method, scheme, "", false);
  s.kv_fp8 = kv;
  return s;
}

struct Written {
  LowbitModel model;
  test::TempDir tmp;
  std::string dir;
};

std::unique_ptr<Written> write_tiny(const LowbitScheme& s) {
  const LoadedModel& m = test::cached_model("tiny-llama");
  auto w = std::make_unique<Written>();
  const auto windows = s.needs_calibration() ? test::calib_windows(m, 2, 64) : std::vector<std::vector<int32_t>>{};
  w->model = quantize_model_lowbit(*m.weights, windows, s);
  round_unquantized_to_bf16(w->model);
  w->dir = w->tmp / "q";
  const HfQuantWriteResult r = write_lowbit_checkpoint(w->model, test::model_dir("tiny-llama"), w->dir);
  EXPECT_EQ(r.quantized_linears, 28);
  return w;
}

void expect_loads_back_exactly(const Written& w) {
  const std::unique_ptr<LoadedModel> back = load_ct_lowbit_model(w.dir);
  ASSERT_TRUE(back);
  ModelWeights& a = *w.model.weights;
  ModelWeights& b = *back->weights;
  auto ta = named_tensors(a), tb = named_tensors(b);
  ASSERT_EQ(ta.size(), tb.size());
  for (size_t i = 0; i < ta.size(); ++i) EXPECT_EQ(ta[i].tensor->data, tb[i].tensor->data) << ta[i].name;
  const RuntimeQuant &ra = a.runtime, &rb = b.runtime;
  EXPECT_EQ(ra.inputs.type, rb.inputs.type);
  EXPECT_EQ(ra.inputs.dynamic, rb.inputs.dynamic);
  EXPECT_EQ(ra.inputs.static_scales, rb.inputs.static_scales);
  EXPECT_EQ(ra.kv.fp8, rb.kv.fp8);
  EXPECT_EQ(ra.kv.k_scale, rb.kv.k_scale);
  EXPECT_EQ(ra.kv.v_scale, rb.kv.v_scale);
}

// name -> (dtype, shape) of the checkpoint's tensors.
std::map<std::string, std::pair<std::string, std::vector<int64_t>>> tensor_table(const std::string& dir) {
  HfCheckpoint ck(dir);
  std::map<std::string, std::pair<std::string, std::vector<int64_t>>> t;
  for (const std::string& n : ck.tensor_names()) t[n] = {dtype_name(ck.get(n).dtype), ck.get(n).shape};
  return t;
}

json qconfig(const std::string& dir) { return read_json_file(dir + "/config.json")["quantization_config"]; }

const std::string kQ = "model.layers.0.self_attn.q_proj";  // [256 out, 256 in]
const std::string kDown = "model.layers.1.mlp.down_proj";  // [256 out, 768 in]

TEST(CtCheckpoint, Fp8DynamicPerChannel) {
  auto w = write_tiny(scheme_of("fp8", "dynamic"));
  expect_loads_back_exactly(*w);
  auto t = tensor_table(w->dir);
  EXPECT_EQ(t[kQ + ".weight"], std::make_pair(std::string("F8_E4M3"), std::vector<int64_t>{256, 256}));
  EXPECT_EQ(t[kQ + ".weight_scale"], std::make_pair(std::string("F32"), std::vector<int64_t>{256, 1}));
  EXPECT_EQ(t.count(kQ + ".input_scale"), 0u);
  EXPECT_EQ(t["lm_head.weight"].first, "BF16");
  EXPECT_EQ(t["model.layers.0.input_layernorm.weight"].first, "BF16");
  // The config, field by field, as compressed-tensors' QuantizationArgs dumps it.
  const json q = qconfig(w->dir);
  EXPECT_EQ(q["quant_method"], "compressed-tensors");
  EXPECT_EQ(q["format"], "float-quantized");
  EXPECT_EQ(q["quantization_status"], "compressed");
  EXPECT_EQ(q["ignore"], json({"lm_head"}));
  EXPECT_TRUE(q["kv_cache_scheme"].is_null());
  const json& g = q["config_groups"]["group_0"];
  EXPECT_EQ(g["targets"], json({"Linear"}));
  EXPECT_EQ(g["format"], "float-quantized");
  EXPECT_EQ(g["weights"], json::parse(R"({"num_bits": 8, "type": "float", "symmetric": true, "group_size": null,
      "strategy": "channel", "block_structure": null, "dynamic": false, "actorder": null, "observer": "minmax",
      "observer_kwargs": {}})"));
  EXPECT_EQ(g["input_activations"], json::parse(R"({"num_bits": 8, "type": "float", "symmetric": true,
      "group_size": null, "strategy": "token", "block_structure": null, "dynamic": true, "actorder": null,
      "observer": null, "observer_kwargs": {}})"));
  EXPECT_TRUE(g["output_activations"].is_null());
}

TEST(CtCheckpoint, Fp8StaticPerTensorWithKvCache) {
  auto w = write_tiny(scheme_of("fp8", "static", true));
  expect_loads_back_exactly(*w);
  auto t = tensor_table(w->dir);
  EXPECT_EQ(t[kQ + ".weight_scale"].second, std::vector<int64_t>{1});
  EXPECT_EQ(t[kQ + ".input_scale"], std::make_pair(std::string("F32"), std::vector<int64_t>{1}));
  EXPECT_EQ(t["model.layers.3.self_attn.k_scale"], std::make_pair(std::string("F32"), std::vector<int64_t>{1}));
  EXPECT_EQ(t["model.layers.3.self_attn.v_scale"], std::make_pair(std::string("F32"), std::vector<int64_t>{1}));
  const json q = qconfig(w->dir);
  EXPECT_EQ(q["kv_cache_scheme"], json::parse(R"({"num_bits": 8, "type": "float", "symmetric": true,
      "group_size": null, "strategy": "tensor", "block_structure": null, "dynamic": false, "actorder": null,
      "observer": "minmax", "observer_kwargs": {}})"));
  const json& g = q["config_groups"]["group_0"];
  EXPECT_EQ(g["weights"]["strategy"], "tensor");
  EXPECT_EQ(g["input_activations"]["strategy"], "tensor");
  EXPECT_EQ(g["input_activations"]["dynamic"], false);
  // Static scales: the calibrated max / 448, the same for q, k and v (one input).
  HfCheckpoint ck(w->dir);
  const float sq = ck.get(kQ + ".input_scale").to_f32()[0];
  EXPECT_EQ(sq, ck.get("model.layers.0.self_attn.v_proj.input_scale").to_f32()[0]);
  // One weight scale for the fused q/k/v (vLLM would requantize to the largest otherwise).
  const float wq = ck.get(kQ + ".weight_scale").to_f32()[0];
  EXPECT_EQ(wq, ck.get("model.layers.0.self_attn.k_proj.weight_scale").to_f32()[0]);
  EXPECT_EQ(wq, ck.get("model.layers.0.self_attn.v_proj.weight_scale").to_f32()[0]);
  EXPECT_GT(sq, 0.0f);
  EXPECT_EQ(w->model.k_scale.size(), 4u);
  for (float k : w->model.k_scale) EXPECT_GT(k, 0.0f);
}

TEST(CtCheckpoint, Nvfp4) {
  auto w = write_tiny(scheme_of("fp4", "nvfp4"));
  expect_loads_back_exactly(*w);
  auto t = tensor_table(w->dir);
  EXPECT_EQ(t[kDown + ".weight_packed"], std::make_pair(std::string("U8"), std::vector<int64_t>{256, 384}));
  EXPECT_EQ(t[kDown + ".weight_scale"], std::make_pair(std::string("F8_E4M3"), std::vector<int64_t>{256, 48}));
  EXPECT_EQ(t[kDown + ".weight_global_scale"], std::make_pair(std::string("F32"), std::vector<int64_t>{1}));
  EXPECT_EQ(t.count(kDown + ".weight"), 0u);
  // vLLM fuses q/k/v and gate/up under one global scale: they share it.
  HfCheckpoint ck(w->dir);
  auto global = [&](const std::string& m) { return ck.get("model.layers.2." + m + ".weight_global_scale").to_f32()[0]; };
  EXPECT_EQ(global("self_attn.q_proj"), global("self_attn.k_proj"));
  EXPECT_EQ(global("self_attn.q_proj"), global("self_attn.v_proj"));
  EXPECT_EQ(global("mlp.gate_proj"), global("mlp.up_proj"));
  EXPECT_NE(global("self_attn.q_proj"), global("self_attn.o_proj"));
  const json q = qconfig(w->dir);
  EXPECT_EQ(q["format"], "nvfp4-pack-quantized");
  const json& g = q["config_groups"]["group_0"];
  EXPECT_EQ(g["weights"], json::parse(R"({"num_bits": 4, "type": "float", "symmetric": true, "group_size": 16,
      "strategy": "tensor_group", "block_structure": null, "dynamic": false, "actorder": null, "observer": "minmax",
      "observer_kwargs": {}})"));
  EXPECT_TRUE(g["input_activations"].is_null());
}

TEST(CtCheckpoint, Mxfp4) {
  auto w = write_tiny(scheme_of("fp4", "mxfp4"));
  expect_loads_back_exactly(*w);
  auto t = tensor_table(w->dir);
  EXPECT_EQ(t[kDown + ".weight_packed"], std::make_pair(std::string("U8"), std::vector<int64_t>{256, 384}));
  EXPECT_EQ(t[kDown + ".weight_scale"], std::make_pair(std::string("U8"), std::vector<int64_t>{256, 24}));
  const json g = qconfig(w->dir)["config_groups"]["group_0"];
  EXPECT_EQ(g["format"], "mxfp4-pack-quantized");
  EXPECT_EQ(g["weights"]["strategy"], "group");
  EXPECT_EQ(g["weights"]["group_size"], 32);
}

TEST(CtCheckpoint, Int8W8A8IsIntQuantized) {
  auto w = write_tiny(scheme_of("int8", "w8a8"));
  expect_loads_back_exactly(*w);
  auto t = tensor_table(w->dir);
  EXPECT_EQ(t[kQ + ".weight"], std::make_pair(std::string("I8"), std::vector<int64_t>{256, 256}));
  EXPECT_EQ(t[kQ + ".weight_scale"], std::make_pair(std::string("F32"), std::vector<int64_t>{256, 1}));
  const json g = qconfig(w->dir)["config_groups"]["group_0"];
  EXPECT_EQ(g["format"], "int-quantized");
  EXPECT_EQ(g["weights"]["type"], "int");
  EXPECT_EQ(g["weights"]["strategy"], "channel");
  EXPECT_EQ(g["input_activations"]["type"], "int");
  EXPECT_EQ(g["input_activations"]["strategy"], "token");
  EXPECT_EQ(g["input_activations"]["dynamic"], true);
  EXPECT_EQ(w->model.weights->runtime.inputs.type, ActQuantType::Int8);
}

TEST(CtCheckpoint, Int8W8A16IsPackQuantizedForVllm) {
  auto w = write_tiny(scheme_of("int8", "w8a16", true));
  expect_loads_back_exactly(*w);  // pack-quantized with a KV scheme: this loader, not the plain one
  auto t = tensor_table(w->dir);
  EXPECT_EQ(t[kQ + ".weight_packed"], std::make_pair(std::string("I32"), std::vector<int64_t>{256, 64}));
  EXPECT_EQ(t[kQ + ".weight_shape"].first, "I64");
  const json g = qconfig(w->dir)["config_groups"]["group_0"];
  EXPECT_EQ(g["format"], "pack-quantized");
  EXPECT_EQ(g["weights"]["num_bits"], 8);
  EXPECT_TRUE(g["input_activations"].is_null());
}

TEST(CtCheckpoint, LoaderLeavesOtherCheckpointsAlone) {
  EXPECT_EQ(load_ct_lowbit_model(test::model_dir("tiny-llama")), nullptr);
  EXPECT_EQ(load_ct_lowbit_model("/nonexistent"), nullptr);
}

TEST(CtCheckpoint, DamagedCheckpointNamesTheTensor) {
  auto w = write_tiny(scheme_of("fp8", "w8a16"));
  // Rewrite the config to claim int8 weights: the F8 tensors no longer fit.
  json cfg = read_json_file(w->dir + "/config.json");
  cfg["quantization_config"]["format"] = "int-quantized";
  cfg["quantization_config"]["config_groups"]["group_0"]["format"] = "int-quantized";
  cfg["quantization_config"]["config_groups"]["group_0"]["weights"]["type"] = "int";
  std::ofstream(w->dir + "/config.json") << cfg.dump();
  try {
    load_ct_lowbit_model(w->dir);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("q_proj.weight has dtype F8_E4M3, expected I8"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace llmq
