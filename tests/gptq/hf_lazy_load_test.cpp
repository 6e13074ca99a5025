// Quantized checkpoints (GPTQ, AWQ, compressed-tensors pack-quantized, MLX,
// and the FP8/FP4 compressed-tensors schemes) load lazily: float tensors stay
// in the mapping and each quantized linear is decoded when the forward pass
// first reads it, into a cache of two. The lazy model must be the dense
// model value for value, and hold no fp32 matrix while at rest.
#include <cmath>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "common/cached_model.h"
#include "common/fixtures.h"
#include "common/logits.h"
#include "export/hf/hf_quantize_pipeline.h"
#include "export/hf/loaders/ct_lowbit_loader.h"
#include "export/hf/loaders/hf_quant_loader.h"
#include "export/hf/lowbit_pipeline.h"
#include "io/safetensors.h"
#include "io/safetensors_writer.h"
#include "model/decoded_rows.h"
#include "model/transformer.h"
#include "util/error.h"
#include "util/json_file.h"

namespace llmq {
namespace {

void expect_lazy_equals_dense(const std::string& dir) {
  register_hf_quant_loaders();
  register_ct_lowbit_loader();
  const LoadedModel dense = load_model(dir);
  const LoadedModel lazy = load_model(dir, {.lazy = true});
  EXPECT_EQ(lazy.format, dense.format);
  EXPECT_TRUE(lazy.weights->layers[0].wq.lazy());
  EXPECT_TRUE(lazy.weights->embed.lazy());
  EXPECT_LT(resident_weight_bytes(*lazy.weights), resident_weight_bytes(*dense.weights) / 50);  // vectors only

  std::vector<int32_t> tokens = test::reference("tiny-llama")["sample_ids"].get<std::vector<int32_t>>();
  tokens.resize(std::min<size_t>(tokens.size(), 40));
  const std::vector<float> a = test::logits_of(dense.weights, tokens), b = test::logits_of(lazy.weights, tokens);
  ASSERT_EQ(a.size(), b.size());
  double max_diff = 0;
  for (size_t i = 0; i < a.size(); ++i) max_diff = std::max(max_diff, double(std::fabs(a[i] - b[i])));
  EXPECT_LT(max_diff, 1e-4);  // the same products, tiled over output rows

  // Value for value once materialized.
  materialize_all(*lazy.weights);
  EXPECT_EQ(lazy.weights->layers[2].down.data, dense.weights->layers[2].down.data);
  EXPECT_EQ(lazy.weights->embed.data, dense.weights->embed.data);
}

TEST(HfLazyLoad, EveryLayoutLoadsLazilyToTheDenseModel) {
  test::TempDir tmp;
  for (HfQuantFormat f : {HfQuantFormat::Gptq, HfQuantFormat::Awq, HfQuantFormat::CompressedTensors, HfQuantFormat::Mlx}) {
    SCOPED_TRACE(hf_quant_format_name(f));
    HfQuantizeJob job;
    job.model_dir = test::model_dir("tiny-llama");
    job.output_dir = tmp / hf_quant_format_name(f);
    job.format = f;
    job.quant.method = IntQuantMethod::Rtn;
    run_hf_quantize(job);
    expect_lazy_equals_dense(job.output_dir);
  }
  for (const char* method : {"fp8", "fp4"}) {
    SCOPED_TRACE(method);
    LowbitQuantizeJob job;
    job.model_dir = test::model_dir("tiny-llama");
    job.output_dir = tmp / method;
    job.scheme = parse_lowbit_scheme(method, "", "", false);
    job.scheme.use_importance = false;  // no calibration needed
    run_lowbit_quantize(job);
    expect_lazy_equals_dense(job.output_dir);
  }
}

// A GPTQ checkpoint whose config says desc_act but that lacks a g_idx would load with the plain
// grouping, silently wrong: refused, lazily or not.
TEST(HfLazyLoad, ActOrderWithoutGIdxIsRefused) {
  register_hf_quant_loaders();
  test::TempDir tmp;
  HfQuantizeJob job;
  job.model_dir = test::model_dir("tiny-llama");
  job.output_dir = tmp / "q";
  job.quant.method = IntQuantMethod::Rtn;
  run_hf_quantize(job);
  // Rewrite the weights without one g_idx, and say desc_act in the config.
  const std::string st = job.output_dir + "/model.safetensors";
  {
    const SafetensorsFile in(st);
    SafetensorsWriter out(tmp / "w.safetensors");
    std::vector<const TensorView*> keep;
    for (const auto& [name, tv] : in.tensors())
      if (name != "model.layers.2.mlp.up_proj.g_idx") keep.push_back(&tv);
    for (const TensorView* tv : keep) out.declare(tv->name, tv->dtype, tv->shape);
    for (const TensorView* tv : keep) out.write(tv->name, tv->data, tv->nbytes);
    out.finish();
  }
  std::filesystem::rename(tmp / "w.safetensors", st);
  nlohmann::json cfg = read_json_file(job.output_dir + "/config.json");
  cfg["quantization_config"]["desc_act"] = true;
  std::ofstream(job.output_dir + "/config.json") << cfg.dump();
  for (bool lazy : {false, true}) {
    try {
      const LoadedModel m = load_model(job.output_dir, {.lazy = lazy});
      ADD_FAILURE() << "loaded without g_idx (lazy " << lazy << ")";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("model.layers.2.mlp.up_proj.g_idx is missing"), std::string::npos) << e.what();
    }
  }
}

TEST(DecodedRows, DecodesOnceAndKeepsWhatFitsTheBudget) {
  auto cache = make_decoded_weight_cache(1);  // 1 byte: only the two most recent weights stay
  int decodes[3] = {0, 0, 0};
  std::vector<std::shared_ptr<const RowSource>> rows;
  for (int k = 0; k < 3; ++k)
    rows.push_back(decoded_rows(cache, 4, 3, 2, [k, &decodes] {
      ++decodes[k];
      Tensor t;
      t.resize({4, 3});
      for (size_t i = 0; i < t.data.size(); ++i) t.data[i] = float(100 * k + int(i));
      return t;
    }));
  float out[6];
  rows[0]->read_rows(1, 2, out);
  EXPECT_EQ(out[0], 3.0f);
  EXPECT_EQ(out[5], 8.0f);
  rows[0]->read_rows(3, 1, out);  // a later tile of the same weight: no second decode
  EXPECT_EQ(out[2], 11.0f);
  EXPECT_EQ(decodes[0], 1);
  rows[1]->read_rows(0, 1, out);
  rows[2]->read_rows(0, 1, out);  // evicts weight 0, the least recently used
  EXPECT_EQ(out[0], 200.0f);
  rows[1]->read_rows(0, 1, out);
  EXPECT_EQ(decodes[1], 1);
  rows[0]->read_rows(0, 1, out);
  EXPECT_EQ(decodes[0], 2);
  EXPECT_EQ(rows[0]->row_bytes(), 2u);

  // A budget that holds all three: each is decoded once however they are visited.
  auto roomy = make_decoded_weight_cache(1 << 20);
  int n = 0;
  std::vector<std::shared_ptr<const RowSource>> all;
  for (int k = 0; k < 3; ++k)
    all.push_back(decoded_rows(roomy, 4, 3, 2, [&n] {
      ++n;
      Tensor t;
      t.resize({4, 3});
      return t;
    }));
  for (int pass = 0; pass < 3; ++pass)
    for (auto& r : all) r->read_rows(0, 1, out);
  EXPECT_EQ(n, 3);
}

}  // namespace
}  // namespace llmq
