// What the runtimes need beyond the quantized tensors themselves: mlx-lm's
// stacked MoE experts and config fields, the source's bf16 kept for every
// unquantized tensor, and MoE routers declared unquantized the way
// GPTQModel / optimum / vLLM read it.
#include <algorithm>

#include <gtest/gtest.h>

#include "export/hf/hf_quant_writer.h"
#include "export/hf/mlx_expert_stacking.h"
#include "export/hf/model_quantizer.h"
#include "gptq_test_support.h"
#include "io/hf_checkpoint.h"
#include "util/error.h"
#include "util/json_file.h"

namespace llmq {
namespace {

IntQuantizeOptions rtn_options(HfQuantFormat f, DType source) {
  IntQuantizeOptions o;
  o.method = IntQuantMethod::Rtn;
  o.spec.bits = 4;
  o.spec.group_size = 32;
  o.spec = spec_for_format(f, o.spec, o.gptq, false, source);
  return o;
}

// Quantizes `model` with RTN, writes it as `f` under `dir`, returns the quantized model.
QuantizedModel write_rtn(const std::string& model, HfQuantFormat f, const std::string& dir) {
  const LoadedModel& m = test::cached_model(model);
  const IntQuantizeOptions o = rtn_options(f, m.weights->source_dtype);
  QuantizedModel q = quantize_model_int(*m.weights, {}, o);
  round_unquantized_to_format(q, f);
  write_hf_quantized(q, f, o, test::model_dir(model), dir);
  return q;
}

TEST(HfRuntimeLayout, StackedNamesFollowMlxLm) {
  auto n = mlx_stacked_name("model.layers.3.mlp.experts.12.up_proj.scales");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->name, "model.layers.3.mlp.switch_mlp.up_proj.scales");
  EXPECT_EQ(n->expert, 12);
  // Mixtral: w1 gate, w2 down, w3 up (mlx_lm/models/mixtral.py sanitize).
  n = mlx_stacked_name("model.layers.0.block_sparse_moe.experts.7.w2.weight");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->name, "model.layers.0.block_sparse_moe.switch_mlp.down_proj.weight");
  EXPECT_EQ(n->expert, 7);
  EXPECT_FALSE(mlx_stacked_name("model.layers.0.mlp.gate.weight"));
  EXPECT_FALSE(mlx_stacked_name("model.layers.0.mlp.shared_expert.up_proj.weight"));
  EXPECT_FALSE(mlx_stacked_name("model.layers.0.mlp.experts.1.up_proj.qweight"));
}

TEST(HfRuntimeLayout, PartlyQuantizedExpertsAreRefusedForMlx) {
  auto t = [](const std::string& name) {
    return OutTensor{name, DType::U32, {4, 2}, [] { return std::vector<uint8_t>(32); }};
  };
  std::vector<OutTensor> v = {t("model.layers.0.mlp.experts.0.up_proj.weight"),
                              t("model.layers.0.mlp.experts.0.up_proj.scales"),
                              t("model.layers.0.mlp.experts.0.up_proj.biases"),
                              t("model.layers.0.mlp.experts.1.up_proj.weight")};  // expert 1 left in float
  try {
    stack_mlx_experts(v);
    FAIL() << "partly quantized experts were stacked";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("partly quantized"), std::string::npos) << e.what();
  }
}

// qwen3_moe in mlx-lm: experts as switch_mlp tensors [experts, rows, ...], `num_experts` and
// `rope_theta` in config.json; the bf16 model's scales and biases in bf16 as mlx-lm writes them.
TEST(HfRuntimeLayout, MlxMoeExpertsAreStackedAndReadBack) {
  test::TempDir d;
  const std::string out = d / "mlx";
  const QuantizedModel q = write_rtn("tiny-qwen3moe", HfQuantFormat::Mlx, out);
  const ModelConfig& c = test::cached_model("tiny-qwen3moe").weights->cfg;
  {
    HfCheckpoint ck(out);
    const TensorView* w = ck.find("model.layers.0.mlp.switch_mlp.gate_proj.weight");
    ASSERT_NE(w, nullptr);
    EXPECT_EQ(w->shape, (std::vector<int64_t>{c.n_experts, c.moe_ffn, c.hidden * 4 / 32}));
    const TensorView* s = ck.find("model.layers.3.mlp.switch_mlp.down_proj.scales");
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->shape, (std::vector<int64_t>{c.n_experts, c.hidden, c.moe_ffn / 32}));
    EXPECT_EQ(s->dtype, DType::BF16);
    EXPECT_EQ(ck.find("model.layers.0.mlp.experts.0.gate_proj.scales"), nullptr);
    EXPECT_EQ(ck.get("model.layers.0.mlp.gate.weight").dtype, DType::BF16);  // the router stays in float
  }
  const nlohmann::json cfg = read_json_file(out + "/config.json");
  EXPECT_EQ(cfg.at("num_experts"), c.n_experts);
  EXPECT_EQ(cfg.at("rope_theta"), 1000000.0);
  EXPECT_EQ(cfg.at("torch_dtype"), "bfloat16");
  register_hf_quant_loaders();
  const LoadedModel back = load_model(out);
  int checked = 0;
  for (const NamedTensor& nt : named_tensors(*back.weights))
    if (auto it = q.linears.find(nt.name); it != q.linears.end()) {
      ASSERT_EQ(nt.tensor->data, dequantize_as_stored(it->second, HfQuantFormat::Mlx).data) << nt.name;
      ++checked;
    }
  EXPECT_EQ(checked, int(q.linears.size()));
}

// A bf16 checkpoint's embeddings, norms, lm_head and routers stay bf16 in every
// format (GPTQModel, AutoAWQ, llm-compressor and mlx-lm all keep the model's
// dtype), with the config's dtype to match; bytes equal the source's.
TEST(HfRuntimeLayout, Bf16SourceStaysBf16) {
  const LoadedModel& m = test::cached_model("tiny-llama");
  ASSERT_EQ(m.weights->source_dtype, DType::BF16);
  HfCheckpoint src(test::model_dir("tiny-llama"));
  const TensorView& embed = src.get("model.embed_tokens.weight");
  for (HfQuantFormat f : {HfQuantFormat::Gptq, HfQuantFormat::Awq, HfQuantFormat::CompressedTensors, HfQuantFormat::Mlx}) {
    test::TempDir d;
    write_rtn("tiny-llama", f, d / "q");
    HfCheckpoint ck(d / "q");
    const TensorView& e = ck.get("model.embed_tokens.weight");
    EXPECT_EQ(e.dtype, DType::BF16) << hf_quant_format_name(f);
    EXPECT_TRUE(std::equal(e.data, e.data + e.nbytes, embed.data)) << hf_quant_format_name(f);
    EXPECT_EQ(ck.get("model.norm.weight").dtype, DType::BF16) << hf_quant_format_name(f);
    EXPECT_EQ(read_json_file(d / "q/config.json").at("torch_dtype"), "bfloat16") << hf_quant_format_name(f);
  }
  // fp32 sources keep the formats' usual 16-bit type; f16 stays f16.
  EXPECT_EQ(unquantized_dtype(HfQuantFormat::Gptq, DType::F32), DType::F16);
  EXPECT_EQ(unquantized_dtype(HfQuantFormat::CompressedTensors, DType::F32), DType::BF16);
  EXPECT_EQ(unquantized_dtype(HfQuantFormat::CompressedTensors, DType::F16), DType::F16);
}

// GPTQ of a MoE model: the router is a "-:" dynamic rule (GPTQModel, vLLM) and
// modules_in_block_to_quantize lists every quantized linear but not the router
// (optimum / transformers 4 replace only those: without it they quantize the
// router and fail to load); a dense model gets neither. The config also says
// num_experts and rope_theta, which transformers 4 reads.
TEST(HfRuntimeLayout, GptqDeclaresTheMoeRouterUnquantized) {
  test::TempDir d;
  write_rtn("tiny-qwen3moe", HfQuantFormat::Gptq, d / "moe");
  const nlohmann::json q = read_json_file(d / "moe/config.json").at("quantization_config");
  EXPECT_TRUE(q.at("dynamic").contains("-:^model\\.layers\\.0\\.mlp\\.gate$")) << q.dump();
  std::vector<std::string> flat;
  for (const auto& g : q.at("modules_in_block_to_quantize"))
    for (const auto& m : g) flat.push_back(m.get<std::string>());
  const auto has = [&](const std::string& m) { return std::find(flat.begin(), flat.end(), m) != flat.end(); };
  EXPECT_TRUE(has("self_attn.q_proj"));
  EXPECT_TRUE(has("mlp.experts.15.down_proj"));
  EXPECT_FALSE(has("mlp.gate"));
  EXPECT_EQ(flat.size(), size_t(4 + 3 * test::cached_model("tiny-qwen3moe").weights->cfg.n_experts));
  const nlohmann::json cfg = read_json_file(d / "moe/config.json");
  EXPECT_EQ(cfg.at("num_experts"), cfg.at("num_local_experts"));
  EXPECT_EQ(cfg.at("rope_theta"), 1000000.0);
  // GPTQModel reads quantize_config.json first: the same rules there.
  EXPECT_EQ(read_json_file(d / "moe/quantize_config.json"), q);

  write_rtn("tiny-llama", HfQuantFormat::Gptq, d / "dense");
  const nlohmann::json dq = read_json_file(d / "dense/config.json").at("quantization_config");
  EXPECT_FALSE(dq.contains("modules_in_block_to_quantize"));
  EXPECT_FALSE(dq.contains("dynamic"));
}

}  // namespace
}  // namespace llmq
