// Per-expert bit widths in the Hugging Face formats (quantize MODEL rtn
// --dynamic-experts): the widths follow the routing counts, the checkpoint
// records them the way its consumers read them, our loader reads them back
// to exactly the weights written, and formats or methods that cannot hold
// them are refused with a clear error.
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>

#include "common/run_cli.h"
#include "export/hf/hf_quant_writer.h"
#include "export/hf/loaders/ct_lowbit_loader.h"
#include "export/hf/loaders/hf_quant_loader.h"
#include "export/hf/model_quantizer.h"
#include "io/hf_checkpoint.h"
#include "mixed/expert_bits.h"
#include "mixed_test_support.h"
#include "util/error.h"
#include "util/json_file.h"

namespace llmq {
namespace {

namespace fs = std::filesystem;

ExpertTierOptions tiers_2_to_8() {
  ExpertTierOptions o;  // hot = top 10% (2 of 16)
  o.bits = {2, 8};
  return o;
}

TEST(HfExpertBits, WidthsPerFormat) {
  const auto g = expert_bit_widths(format_bit_widths(HfQuantFormat::Gptq), {2, 8}, "gptq");
  EXPECT_EQ(g.cold, 2);
  EXPECT_EQ(g.average, 4);  // nearest 5 of {2, 3, 4, 8}
  EXPECT_EQ(g.hot, 8);
  const auto g34 = expert_bit_widths(format_bit_widths(HfQuantFormat::Gptq), {2, 4}, "gptq");
  EXPECT_EQ(g34.average, 3);
  const auto ct = expert_bit_widths(format_bit_widths(HfQuantFormat::CompressedTensors), {3, 8}, "compressed-tensors");
  EXPECT_EQ(ct.cold, 4);  // no 3-bit packing in compressed-tensors
  EXPECT_EQ(ct.hot, 8);
  EXPECT_THROW(expert_bit_widths(format_bit_widths(HfQuantFormat::Gptq), {5, 7}, "gptq"), Error);
}

TEST(HfExpertBits, BitsFollowRoutingCounts) {
  const test::CalibratedModel& cm = test::calibrated("tiny-qwen3moe");
  const ModelConfig& cfg = test::catalog("tiny-qwen3moe").config();
  const ExpertBitsPlan plan = plan_expert_bits(cm.routing, cfg, HfQuantFormat::Gptq, tiers_2_to_8());
  ASSERT_EQ(plan.layers.size(), size_t(cfg.n_layers));
  EXPECT_EQ(plan.linear_bits.size(), size_t(cfg.n_layers * cfg.n_experts * 3));
  int n_hot = 0, n_cold = 0;
  for (const LayerExpertBits& l : plan.layers) {
    const auto& c = l.counts;
    for (size_t e = 0; e < c.size(); ++e) {
      for (size_t f = 0; f < c.size(); ++f)
        if (c[e] > c[f]) EXPECT_GE(l.bits[e], l.bits[f]) << "layer " << l.layer << " experts " << e << ", " << f;
      if (c[e] == 0) EXPECT_EQ(l.bits[e], 2) << "unused expert " << e << " of layer " << l.layer;
      n_hot += l.bits[e] == 8;
      n_cold += l.bits[e] == 2;
      for (const char* proj : {"gate_proj", "up_proj", "down_proj"})
        EXPECT_EQ(plan.linear_bits.at(fmt::format("model.layers.{}.mlp.experts.{}.{}.weight", l.layer, e, proj)), l.bits[e]);
    }
  }
  EXPECT_EQ(n_hot, 2 * cfg.n_layers);  // the top 2 of 16 in every layer
  EXPECT_GT(n_cold, 0);
}

TEST(HfExpertBits, UnusedExpertsGetTheFewestBits) {
  const ModelConfig& cfg = test::catalog("tiny-qwen3moe").config();
  std::map<int, std::vector<int64_t>> routing;
  std::vector<int64_t> c(size_t(cfg.n_experts), 100);
  c[3] = 0;
  c[5] = 400;
  routing[0] = c;
  const ExpertBitsPlan plan = plan_expert_bits(routing, cfg, HfQuantFormat::CompressedTensors, tiers_2_to_8());
  const auto& bits = plan.layers.at(0).bits;
  EXPECT_EQ(bits[3], 2);
  EXPECT_EQ(bits[5], 8);
  // c[0] = 100 is the second largest count (tied): the second hot expert; the rest are average.
  EXPECT_EQ(bits[0], 8);
  EXPECT_EQ(bits[1], 4);
}

// RTN with the plan, written and read back: every linear equals what was
// written, the experts carry their own bits, and the config says so.
void round_trip(HfQuantFormat format) {
  const test::CalibratedModel& cm = test::calibrated("tiny-qwen3moe");
  const std::string src = test::model_dir("tiny-qwen3moe");
  const ExpertBitsPlan plan = plan_expert_bits_for_model(src, cm.imatrix_path, format, tiers_2_to_8());
  IntQuantizeOptions opt;
  opt.method = IntQuantMethod::Rtn;
  opt.spec.bits = 4;
  opt.spec.group_size = 32;
  opt.spec = spec_for_format(format, opt.spec, opt.gptq, false);
  opt.linear_bits = plan.linear_bits;
  QuantizedModel qm = quantize_model_int(*test::cached_model("tiny-qwen3moe").weights, {}, opt);
  round_unquantized_to_format(qm, format);
  for (const auto& [name, bits] : plan.linear_bits) EXPECT_EQ(qm.linears.at(name).spec.bits, bits) << name;
  EXPECT_EQ(qm.linears.at("model.layers.0.self_attn.q_proj.weight").spec.bits, 4);  // non-experts keep --bits

  test::TempDir d;
  const std::string out = d / "q";
  write_hf_quantized(qm, format, opt, src, out);
  // Through load_model, as quality perplexity/compare open it (the FP8/int8 compressed-tensors
  // loader is asked first and must leave weight-only groups to the integer loader).
  register_ct_lowbit_loader();
  register_hf_quant_loaders();
  const LoadedModel loaded = load_model(out);
  EXPECT_EQ(loaded.format, hf_quant_format_name(format));
  std::map<std::string, const Tensor*> read;
  for (const NamedTensor& nt : named_tensors(*loaded.weights)) read[nt.name] = nt.tensor;
  for (const auto& [name, q] : qm.linears) {
    const Tensor want = dequantize_as_stored(q, format);
    ASSERT_EQ(read.at(name)->data, want.data) << name;
  }

  const nlohmann::json cfg = read_json_file(out + "/config.json")["quantization_config"];
  HfCheckpoint ck(out);
  const LayerExpertBits& l0 = plan.layers.at(0);
  for (size_t e = 0; e < l0.bits.size(); ++e) {
    const std::string m = fmt::format("model.layers.0.mlp.experts.{}.gate_proj", e);
    const int b = l0.bits[e];
    if (format == HfQuantFormat::Gptq) {
      // qweight packs the input features down the rows: in * bits / 32 rows.
      EXPECT_EQ(ck.find(m + ".qweight")->shape[0], test::catalog("tiny-qwen3moe").config().hidden * b / 32) << m;
      const std::string rule = "+:^" + std::regex_replace(m, std::regex("\\."), "\\.") + "$";
      if (b == 4) EXPECT_FALSE(cfg["dynamic"].contains(rule)) << rule;
      else EXPECT_EQ(cfg["dynamic"].at(rule).at("bits"), b) << rule;
    } else {
      EXPECT_EQ(ck.find(m + ".weight_packed")->shape[1], test::catalog("tiny-qwen3moe").config().hidden * b / 32) << m;
      bool found = b == 4;
      for (const auto& g : cfg["config_groups"])
        for (const auto& t : g["targets"])
          if (t == m) {
            EXPECT_EQ(g["weights"]["num_bits"], b) << m;
            found = true;
          }
      EXPECT_TRUE(found) << m << " has no config group of its own";
    }
  }
  if (format == HfQuantFormat::Gptq)  // GPTQModel builds modules from quantize_config.json
    EXPECT_EQ(read_json_file(out + "/quantize_config.json")["dynamic"], cfg["dynamic"]);
}

TEST(HfExpertBits, GptqRoundTrip) { round_trip(HfQuantFormat::Gptq); }
TEST(HfExpertBits, CompressedTensorsRoundTrip) { round_trip(HfQuantFormat::CompressedTensors); }

// GPTQ quantizes each expert at its own width too (and RTN for experts too
// rarely routed for a Hessian, at the same width).
TEST(HfExpertBits, GptqMethodUsesTheExpertBits) {
  const test::CalibratedModel& cm = test::calibrated("tiny-qwen3moe");
  const LoadedModel& m = test::cached_model("tiny-qwen3moe");
  const ExpertBitsPlan plan = plan_expert_bits_for_model(test::model_dir("tiny-qwen3moe"), cm.imatrix_path,
                                                         HfQuantFormat::Gptq, tiers_2_to_8());
  IntQuantizeOptions opt;
  opt.method = IntQuantMethod::Gptq;
  opt.spec.group_size = 32;
  opt.linear_bits = plan.linear_bits;
  const std::vector<int32_t> tokens =
      m.tokenizer->encode(read_calibration_text(test::data_file("calibration.txt")).text.substr(0, 8000), false);
  const CalibrationWindows w = select_windows(tokens, {2, 64, 1});
  const QuantizedModel qm = quantize_model_int(*m.weights, w.windows, opt);
  for (const auto& [name, bits] : plan.linear_bits) EXPECT_EQ(qm.linears.at(name).spec.bits, bits) << name;
  EXPECT_EQ(qm.linears.at("model.layers.0.self_attn.o_proj.weight").spec.bits, 4);
}

// MLX can hold other widths for plain linears (per-module {"group_size", "bits"}
// in "quantization", the key form mlx-lm looks module paths up with): written and read back.
TEST(HfExpertBits, MlxPerModuleBitsRoundTrip) {
  const std::string src = test::model_dir("tiny-llama");
  const std::string name = "model.layers.0.mlp.down_proj.weight";
  IntQuantizeOptions opt;
  opt.method = IntQuantMethod::Rtn;
  opt.spec.group_size = 32;
  opt.spec = spec_for_format(HfQuantFormat::Mlx, opt.spec, opt.gptq, false);
  opt.linear_bits = {{name, 8}};
  QuantizedModel qm = quantize_model_int(*test::cached_model("tiny-llama").weights, {}, opt);
  round_unquantized_to_format(qm, HfQuantFormat::Mlx);
  test::TempDir d;
  write_hf_quantized(qm, HfQuantFormat::Mlx, opt, src, d / "q");
  const nlohmann::json q = read_json_file(d / "q/config.json")["quantization"];
  EXPECT_EQ(q["bits"], 4);
  EXPECT_EQ(q["model.layers.0.mlp.down_proj"], (nlohmann::json{{"group_size", 32}, {"bits", 8}}));
  register_hf_quant_loaders();
  const LoadedModel loaded = load_model(d / "q");
  for (const NamedTensor& nt : named_tensors(*loaded.weights))
    if (auto it = qm.linears.find(nt.name); it != qm.linears.end())
      ASSERT_EQ(nt.tensor->data, dequantize_as_stored(it->second, HfQuantFormat::Mlx).data) << nt.name;
  EXPECT_EQ(qm.linears.at(name).spec.bits, 8);
}

TEST(HfExpertBits, UnsupportedCombinationsAreRefused) {
  const std::map<std::string, int> bits = {{"model.layers.0.mlp.experts.0.gate_proj.weight", 8}};
  try {
    check_linear_bits_for_format(HfQuantFormat::Mlx, bits);
    FAIL() << "mlx accepted per-expert bits";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("mlx-lm stacks the experts"), std::string::npos) << e.what();
  }
  EXPECT_THROW(check_linear_bits_for_format(HfQuantFormat::Awq, bits), Error);
  EXPECT_THROW(check_linear_bits_for_format(HfQuantFormat::CompressedTensors,
                                            {{"model.layers.0.mlp.experts.0.gate_proj.weight", 3}}), Error);
  IntQuantizeOptions opt;
  opt.method = IntQuantMethod::Awq;
  opt.linear_bits = bits;
  EXPECT_THROW(quantize_model_int(*test::cached_model("tiny-qwen3moe").weights, {{1, 2, 3}}, opt), Error);
  EXPECT_THROW(plan_expert_bits_for_model(test::model_dir("tiny-llama"), test::calibrated("tiny-qwen3moe").imatrix_path,
                                          HfQuantFormat::Gptq, tiers_2_to_8()),
               Error);
}

TEST(HfExpertBits, CliRefusesMlxExpertsAndWritesNothing) {
  test::TempDir d;
  const auto r = test::run_cli("quantize " + test::q(test::model_dir("tiny-qwen3moe")) + " rtn --format-out mlx --group-size 32 " +
                               "--dynamic-experts --imatrix " + test::q(test::calibrated("tiny-qwen3moe").imatrix_path) +
                               " -o " + test::q(d / "out"));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("per-expert bit widths"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(d / "out"));
}

TEST(HfExpertBits, CliWritesPerExpertBits) {
  test::TempDir d;
  const auto r = test::run_cli("quantize " + test::q(test::model_dir("tiny-qwen3moe")) + " rtn --format-out gptq --group-size 32 " +
                               "--dynamic-experts --imatrix " + test::q(test::calibrated("tiny-qwen3moe").imatrix_path) +
                               " -o " + test::q(d / "out") + " --format json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["experts"]["granularity"], "per expert");
  EXPECT_EQ(j["experts"]["bits"]["hot"], 8);
  EXPECT_TRUE(read_json_file(d / "out/config.json")["quantization_config"].contains("dynamic"));
}

}  // namespace
}  // namespace llmq
