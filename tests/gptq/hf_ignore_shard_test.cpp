// --ignore keeps linears in floating point (and every format's config says
// so the way its consumers read it); large outputs are sharded with an index
// and load back unchanged.
#include <filesystem>

#include <gtest/gtest.h>

#include "common/run_cli.h"
#include "export/hf/hf_quant_writer.h"
#include "export/hf/model_quantizer.h"
#include "export/hf/safetensors_shards.h"
#include "gptq_test_support.h"
#include "io/hf_checkpoint.h"
#include "io/safetensors.h"
#include "util/error.h"
#include "util/json_file.h"

namespace llmq {
namespace {

using test::cached_model;
namespace fs = std::filesystem;

const std::string kDown1 = "model.layers.1.mlp.down_proj";

IntQuantizeOptions rtn_ignoring(std::vector<std::string> patterns) {
  IntQuantizeOptions o;
  o.method = IntQuantMethod::Rtn;
  o.ignore = std::move(patterns);
  return o;
}

// Every tensor of the written checkpoint reads back as the quantizer's weights.
void expect_loads_back(const QuantizedModel& q, HfQuantFormat f, const std::string& dir) {
  register_hf_quant_loaders();
  const LoadedModel back = load_model(dir);
  auto ta = named_tensors(*q.weights), tb = named_tensors(*back.weights);
  ASSERT_EQ(ta.size(), tb.size());
  for (size_t i = 0; i < ta.size(); ++i) {
    auto it = q.linears.find(ta[i].name);
    const Tensor expect = it != q.linears.end() ? dequantize_as_stored(it->second, f) : *ta[i].tensor;
    ASSERT_EQ(expect.data, tb[i].tensor->data) << ta[i].name;
  }
}

TEST(HfIgnore, IgnoredLinearsStayInFloatInEveryFormat) {
  const LoadedModel& m = cached_model("tiny-llama");
  // Every down_proj, and layer 0's q/k/v (a whole fused group for vLLM).
  const IntQuantizeOptions o = rtn_ignoring({"mlp\\.down_proj", "layers\\.0\\.self_attn\\.[qkv]_proj"});
  test::TempDir tmp;
  for (HfQuantFormat f : {HfQuantFormat::Gptq, HfQuantFormat::Awq, HfQuantFormat::CompressedTensors, HfQuantFormat::Mlx}) {
    SCOPED_TRACE(hf_quant_format_name(f));
    IntQuantizeOptions of = o;
    of.spec = spec_for_format(f, o.spec, o.gptq, false);
    QuantizedModel q = quantize_model_int(*m.weights, {}, of);
    EXPECT_EQ(q.ignored.size(), 7u);
    EXPECT_EQ(q.linears.size(), 21u);
    EXPECT_FALSE(q.linears.count(kDown1 + ".weight"));
    round_unquantized_to_format(q, f);
    const std::string out = tmp / hf_quant_format_name(f);
    const HfQuantWriteResult wr = write_hf_quantized(q, f, of, test::model_dir("tiny-llama"), out);
    EXPECT_EQ(wr.quantized_linears, 21);

    SafetensorsFile st(out + "/model.safetensors");
    ASSERT_NE(st.find(kDown1 + ".weight"), nullptr);
    EXPECT_EQ(st.find(kDown1 + ".weight")->dtype, unquantized_dtype(f, DType::BF16));
    EXPECT_EQ(st.find(kDown1 + ".weight")->shape, (std::vector<int64_t>{256, 768}));
    const nlohmann::json cfg = read_json_file(out + "/config.json");
    const nlohmann::json& qc = cfg["quantization_config"];
    auto has = [](const nlohmann::json& list, const std::string& s) {
      return list.is_array() && std::find(list.begin(), list.end(), s) != list.end();
    };
    switch (f) {
      case HfQuantFormat::Gptq:
        EXPECT_TRUE(qc["dynamic"].contains("-:^model\\.layers\\.1\\.mlp\\.down_proj$")) << qc["dynamic"].dump();
        EXPECT_TRUE(qc["dynamic"].contains("-:^model\\.layers\\.0\\.self_attn\\.qkv_proj$")) << qc["dynamic"].dump();
        EXPECT_FALSE(qc["dynamic"].contains("-:^model\\.layers\\.1\\.self_attn\\.qkv_proj$"));
        // GPTQModel reads quantize_config.json before config.json: the skip rules are there too.
        EXPECT_EQ(read_json_file(out + "/quantize_config.json")["dynamic"], qc["dynamic"]);
        break;
      case HfQuantFormat::Awq: EXPECT_TRUE(has(qc["modules_to_not_convert"], kDown1)); break;
      case HfQuantFormat::CompressedTensors:
        EXPECT_TRUE(has(qc["ignore"], kDown1));
        EXPECT_TRUE(has(qc["ignore"], "model.layers.0.self_attn.k_proj"));
        EXPECT_TRUE(has(qc["ignore"], "lm_head"));
        break;
      case HfQuantFormat::Mlx:
        EXPECT_EQ(cfg["quantization"][kDown1], false);
        EXPECT_FALSE(cfg["quantization"].contains("model.layers.1.self_attn.q_proj"));
        break;
    }
    expect_loads_back(q, f, out);
  }
}

TEST(HfIgnore, GptqAndAwqLeaveIgnoredWeightsAlone) {
  const LoadedModel& m = cached_model("tiny-llama");
  const auto windows = test::calib_windows(m, 2, 64);
  for (IntQuantMethod method : {IntQuantMethod::Gptq, IntQuantMethod::Awq}) {
    IntQuantizeOptions o;
    o.method = method;
    o.awq.grid = 4;
    o.ignore = {"down_proj"};
    const QuantizedModel q = quantize_model_int(*m.weights, windows, o);
    EXPECT_EQ(q.linears.size(), 24u);
    // No scale group of AWQ quantizes down alone, so up->down is not scaled: down is untouched.
    for (int l = 0; l < 4; ++l)
      EXPECT_EQ(q.weights->layers[size_t(l)].down.data, m.weights->layers[size_t(l)].down.data) << int_quant_method_name(method);
  }
}

TEST(HfIgnore, BadPatternIsAnError) {
  const LoadedModel& m = cached_model("tiny-llama");
  EXPECT_THROW(quantize_model_int(*m.weights, {}, rtn_ignoring({"(unclosed"})), Error);
  EXPECT_THROW(quantize_model_int(*m.weights, {}, rtn_ignoring({"proj"})), Error);  // nothing left to quantize
}

OutTensor fake(const std::string& name, int64_t bytes) {
  return {name, DType::U8, {bytes}, [bytes] { return std::vector<uint8_t>(size_t(bytes), 7); }};
}

TEST(HfShards, PlanKeepsModulesTogether) {
  const std::vector<OutTensor> t = {fake("a.weight", 40),  fake("b.qweight", 30), fake("b.scales", 20),
                                    fake("c.qweight", 100), fake("d.weight", 10),  fake("e.weight", 45)};
  int n = 0;
  // Limit 60: a (40) | b (50) | c (100, alone, over the limit) | d + e (55).
  EXPECT_EQ(plan_shards(t, 60, &n), (std::vector<int>{0, 1, 1, 2, 3, 3}));
  EXPECT_EQ(n, 4);
  EXPECT_EQ(plan_shards(t, 1000, &n), (std::vector<int>{0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(n, 1);
}

TEST(HfShards, LargeOutputIsShardedWithAnIndexAndLoadsBack) {
  const LoadedModel& m = cached_model("tiny-llama");
  IntQuantizeOptions o = rtn_ignoring({});
  o.spec = spec_for_format(HfQuantFormat::Gptq, o.spec, o.gptq, false);
  QuantizedModel q = quantize_model_int(*m.weights, {}, o);
  round_unquantized_to_format(q, HfQuantFormat::Gptq);
  test::TempDir tmp;
  const std::string out = tmp / "q";
  // ~10 MB of weights, two of them 4 MB fp16 tensors (embedding, head): at least three shards under 3 MB.
  const HfQuantWriteResult wr = write_hf_quantized(q, HfQuantFormat::Gptq, o, test::model_dir("tiny-llama"), out, 3'000'000);
  ASSERT_GE(wr.files.size(), 3u);
  EXPECT_EQ(wr.files[0], fmt::format("model-00001-of-{:05d}.safetensors", wr.files.size()));
  EXPECT_FALSE(fs::exists(out + "/model.safetensors"));
  const nlohmann::json idx = read_json_file(out + "/model.safetensors.index.json");
  uint64_t total = 0, file_bytes = 0;
  size_t entries = 0;
  for (const std::string& f : wr.files) {
    SafetensorsFile st(out + "/" + f);
    for (const auto& [name, view] : st.tensors()) {
      EXPECT_EQ(idx["weight_map"][name], f) << name;
      total += view.nbytes;
      ++entries;
    }
    file_bytes += fs::file_size(out + "/" + f);
  }
  EXPECT_EQ(idx["weight_map"].size(), entries);
  EXPECT_EQ(idx["metadata"]["total_size"].get<uint64_t>(), total);
  EXPECT_EQ(wr.bytes, file_bytes);
  // A quantized module's tensors share a shard.
  EXPECT_EQ(idx["weight_map"][kDown1 + ".qweight"], idx["weight_map"][kDown1 + ".scales"]);
  expect_loads_back(q, HfQuantFormat::Gptq, out);
}

TEST(HfShards, CliIgnoreAndShardSize) {
  test::TempDir tmp;
  const std::string out = tmp / "q";
  const test::CliResult r = test::run_cli("quantize " + test::q(test::model_dir("tiny-llama")) +
                                          " rtn --ignore down_proj --max-shard-size 3MB --format json -o " + test::q(out));
  ASSERT_EQ(r.code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["ignored"].size(), 4u);
  EXPECT_GE(j["files"].size(), 3u);
  EXPECT_TRUE(fs::exists(out + "/model.safetensors.index.json"));
  EXPECT_TRUE(fs::exists(out + "/tokenizer.json"));
  EXPECT_TRUE(fs::exists(out + "/generation_config.json"));

  for (const char* bad : {"--ignore '(x'", "--max-shard-size 5XB"}) {
    const std::string out2 = tmp / "bad";
    const test::CliResult e =
        test::run_cli("quantize " + test::q(test::model_dir("tiny-llama")) + " rtn " + bad + " -o " + test::q(out2));
    EXPECT_EQ(e.code, 1) << bad;
    EXPECT_EQ(std::count(e.err.begin(), e.err.end(), '\n'), 1) << e.err;
    EXPECT_FALSE(fs::exists(out2)) << bad;
  }
}

}  // namespace
}  // namespace llmq
