// Each writer's directory loads back through the loaders with exactly the
// weights the quantizer produced; configs carry what consumers read.
#include <filesystem>

#include <gtest/gtest.h>

#include "export/hf/hf_quant_writer.h"
#include "export/hf/model_quantizer.h"
#include "gptq_test_support.h"
#include "io/hf_checkpoint.h"
#include "io/safetensors.h"
#include "util/error.h"
#include "util/json_file.h"

namespace llmq {
namespace {

using test::cached_model;
namespace fs = std::filesystem;

struct Case {
  HfQuantFormat format;
  int bits;
  int64_t group;
  bool sym;
  bool desc_act;
};

std::string case_name(const Case& c) {
  return fmt::format("{} {}-bit g{} {}{}", hf_quant_format_name(c.format), c.bits, c.group, c.sym ? "sym" : "asym",
                     c.desc_act ? " act-order" : "");
}

// Writes the quantized tiny-llama in `c`'s layout and loads it back.
void round_trip(const Case& c) {
  SCOPED_TRACE(case_name(c));
  register_hf_quant_loaders();
  const LoadedModel& m = cached_model("tiny-llama");
  IntQuantizeOptions o;
  o.method = c.desc_act ? IntQuantMethod::Gptq : IntQuantMethod::Rtn;
  o.spec.bits = c.bits;
  o.spec.group_size = c.group;
  o.spec.sym = c.sym;
  o.gptq.desc_act = c.desc_act;
  o.spec = spec_for_format(c.format, o.spec, o.gptq, c.desc_act);
  const auto windows = c.desc_act ? test::calib_windows(m, 2, 64) : std::vector<std::vector<int32_t>>{};
  QuantizedModel q = quantize_model_int(*m.weights, windows, o);
  round_unquantized_to_format(q, c.format);

  test::TempDir tmp;
  const std::string out = tmp / "q";
  const HfQuantWriteResult wr = write_hf_quantized(q, c.format, o, test::model_dir("tiny-llama"), out);
  EXPECT_EQ(wr.quantized_linears, 28);
  EXPECT_TRUE(fs::exists(out + "/tokenizer.json"));
  EXPECT_EQ(detect_hf_quant_format(out), std::string(hf_quant_format_name(c.format)));

  const LoadedModel back = load_model(out);
  EXPECT_EQ(back.format, hf_quant_format_name(c.format));
  ModelWeights& a = *q.weights;
  ModelWeights& b = *back.weights;
  auto ta = named_tensors(a), tb = named_tensors(b);
  ASSERT_EQ(ta.size(), tb.size());
  for (size_t i = 0; i < ta.size(); ++i) {
    ASSERT_EQ(ta[i].name, tb[i].name);
    auto it = q.linears.find(ta[i].name);
    const Tensor expect = it != q.linears.end() ? dequantize_as_stored(it->second, c.format) : *ta[i].tensor;
    ASSERT_EQ(expect.shape, tb[i].tensor->shape) << ta[i].name;
    ASSERT_EQ(expect.data, tb[i].tensor->data) << ta[i].name;  // bit-identical
  }
  // The file is smaller than the bf16 original.
  EXPECT_LT(back.file_bytes, cached_model("tiny-llama").file_bytes);
}

TEST(HfRoundTrip, GptqFourBitSymmetric) { round_trip({HfQuantFormat::Gptq, 4, 128, true, false}); }
TEST(HfRoundTrip, GptqThreeBitAsymmetricPerChannel) { round_trip({HfQuantFormat::Gptq, 3, -1, false, false}); }
TEST(HfRoundTrip, GptqTwoAndEightBit) {
  round_trip({HfQuantFormat::Gptq, 2, 32, false, false});
  round_trip({HfQuantFormat::Gptq, 8, 64, true, false});
}
TEST(HfRoundTrip, GptqActOrderWritesGIdx) { round_trip({HfQuantFormat::Gptq, 4, 64, true, true}); }
TEST(HfRoundTrip, AwqAsymmetric) { round_trip({HfQuantFormat::Awq, 4, 128, false, false}); }
TEST(HfRoundTrip, AwqSymmetric) { round_trip({HfQuantFormat::Awq, 4, 64, true, false}); }
TEST(HfRoundTrip, CompressedTensorsSymAndAsym) {
  round_trip({HfQuantFormat::CompressedTensors, 4, 128, true, false});
  round_trip({HfQuantFormat::CompressedTensors, 8, -1, false, false});
  round_trip({HfQuantFormat::CompressedTensors, 4, 32, false, true});
}
TEST(HfRoundTrip, Mlx) {
  round_trip({HfQuantFormat::Mlx, 4, 64, false, false});
  round_trip({HfQuantFormat::Mlx, 3, 32, true, false});
}

TEST(HfRoundTrip, ConfigsCarryWhatConsumersRead) {
  const LoadedModel& m = cached_model("tiny-llama");
  IntQuantizeOptions o;
  o.method = IntQuantMethod::Rtn;
  test::TempDir tmp;
  for (HfQuantFormat f : {HfQuantFormat::Gptq, HfQuantFormat::Awq, HfQuantFormat::CompressedTensors, HfQuantFormat::Mlx}) {
    IntQuantizeOptions of = o;
    of.spec = spec_for_format(f, o.spec, o.gptq, false);
    QuantizedModel q = quantize_model_int(*m.weights, {}, of);
    const std::string out = tmp / hf_quant_format_name(f);
    write_hf_quantized(q, f, of, test::model_dir("tiny-llama"), out);
    const nlohmann::json cfg = read_json_file(out + "/config.json");
    const auto& qc = cfg["quantization_config"];
    SafetensorsFile st(out + "/model.safetensors");
    const std::string p = "model.layers.1.mlp.down_proj";  // [256, 768]
    switch (f) {
      case HfQuantFormat::Gptq: {
        EXPECT_EQ(qc["quant_method"], "gptq");
        EXPECT_EQ(qc["bits"], 4);
        EXPECT_EQ(qc["group_size"], 128);
        EXPECT_EQ(qc["checkpoint_format"], "gptq");
        EXPECT_TRUE(fs::exists(out + "/quantize_config.json"));
        EXPECT_EQ(st.find(p + ".qweight")->shape, (std::vector<int64_t>{96, 256}));
        EXPECT_EQ(st.find(p + ".qzeros")->shape, (std::vector<int64_t>{6, 32}));
        EXPECT_EQ(st.find(p + ".scales")->dtype, DType::F16);
        EXPECT_EQ(st.find(p + ".g_idx")->dtype, DType::I32);
        // symmetric 4-bit: zero 8 stored as 7 in every nibble
        uint32_t z0;
        std::memcpy(&z0, st.find(p + ".qzeros")->data, 4);
        EXPECT_EQ(z0, 0x77777777u);
        EXPECT_EQ(cfg["torch_dtype"], "bfloat16");  // the fixture's dtype, kept for unquantized tensors
        break;
      }
      case HfQuantFormat::Awq: {
        EXPECT_EQ(qc["quant_method"], "awq");
        EXPECT_EQ(qc["version"], "gemm");
        EXPECT_EQ(qc["zero_point"], true);
        EXPECT_EQ(st.find(p + ".qweight")->shape, (std::vector<int64_t>{768, 32}));
        EXPECT_EQ(st.find(p + ".qzeros")->shape, (std::vector<int64_t>{6, 32}));
        EXPECT_EQ(st.find(p + ".scales")->shape, (std::vector<int64_t>{6, 256}));
        break;
      }
      case HfQuantFormat::CompressedTensors: {
        EXPECT_EQ(qc["quant_method"], "compressed-tensors");
        EXPECT_EQ(qc["format"], "pack-quantized");
        EXPECT_EQ(qc["ignore"], nlohmann::json::array({"lm_head"}));
        EXPECT_EQ(qc["config_groups"]["group_0"]["weights"]["group_size"], 128);
        EXPECT_EQ(qc["config_groups"]["group_0"]["weights"]["strategy"], "group");
        EXPECT_EQ(st.find(p + ".weight_packed")->shape, (std::vector<int64_t>{256, 96}));
        EXPECT_EQ(st.find(p + ".weight_scale")->shape, (std::vector<int64_t>{256, 6}));
        EXPECT_EQ(st.find(p + ".weight_zero_point"), nullptr);  // symmetric: none
        EXPECT_EQ(st.find("lm_head.weight")->dtype, DType::BF16);
        break;
      }
      case HfQuantFormat::Mlx: {
        EXPECT_EQ(cfg["quantization"]["bits"], 4);
        EXPECT_EQ(cfg["quantization"]["group_size"], 128);
        EXPECT_EQ(st.find(p + ".weight")->dtype, DType::U32);
        EXPECT_EQ(st.find(p + ".weight")->shape, (std::vector<int64_t>{256, 96}));
        EXPECT_EQ(st.find(p + ".biases")->shape, (std::vector<int64_t>{256, 6}));
        EXPECT_EQ(st.find("lm_head.scales"), nullptr);
        break;
      }
    }
    EXPECT_NE(st.find("lm_head.weight"), nullptr);
    EXPECT_NE(st.find("model.embed_tokens.weight"), nullptr);
  }
}

TEST(HfRoundTrip, FormatLimitsAreErrors) {
  IntQuantSpec s;
  s.bits = 3;
  EXPECT_THROW(spec_for_format(HfQuantFormat::Awq, s, {}, false), Error);
  EXPECT_THROW(spec_for_format(HfQuantFormat::CompressedTensors, s, {}, false), Error);
  s.bits = 4;
  s.group_size = -1;
  EXPECT_THROW(spec_for_format(HfQuantFormat::Mlx, s, {}, false), Error);
  s.group_size = 128;
  GptqOptions act;
  act.desc_act = true;
  EXPECT_THROW(spec_for_format(HfQuantFormat::Awq, s, act, true), Error);
  act.static_groups = true;
  EXPECT_NO_THROW(spec_for_format(HfQuantFormat::Awq, s, act, true));
  s.sym = false;
  EXPECT_EQ(spec_for_format(HfQuantFormat::Gptq, s, {}, false).zero_min, 1);
}

TEST(HfRoundTrip, RefusesToWriteOverTheInput) {
  const LoadedModel& m = cached_model("tiny-llama");
  IntQuantizeOptions o;
  o.method = IntQuantMethod::Rtn;
  QuantizedModel q = quantize_model_int(*m.weights, {}, o);
  EXPECT_THROW(write_hf_quantized(q, HfQuantFormat::Gptq, o, test::model_dir("tiny-llama"), test::model_dir("tiny-llama")),
               Error);
}

TEST(HfRoundTrip, DamagedCheckpointIsAnErrorNamingTheTensor) {
  register_hf_quant_loaders();
  const LoadedModel& m = cached_model("tiny-llama");
  IntQuantizeOptions o;
  o.method = IntQuantMethod::Rtn;
  QuantizedModel q = quantize_model_int(*m.weights, {}, o);
  test::TempDir tmp;
  const std::string out = tmp / "q";
  write_hf_quantized(q, HfQuantFormat::Gptq, o, test::model_dir("tiny-llama"), out);
  // Declare 8-bit in config.json: the stored qweight no longer has the implied shape.
  nlohmann::json cfg = read_json_file(out + "/config.json");
  cfg["quantization_config"]["bits"] = 8;
  std::ofstream(out + "/config.json") << cfg.dump();
  try {
    load_model(out);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("qweight"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace llmq
