// Importance matrices reach the quantizer per tensor (and per expert of a
// stacked tensor), read from a llama.cpp imatrix file through the CLI.
#include <cmath>
#include <filesystem>

#include <fmt/format.h>

#include <gtest/gtest.h>

#include "calibration/imatrix_file.h"
#include "common/run_cli.h"
#include "export/gguf/gguf_exporter.h"
#include "export/gguf/gguf_tensor_layout.h"
#include "gguf_export/gguf_export_support.h"
#include "io/gguf/gguf_reader.h"
#include "io/hf_checkpoint.h"
#include "quant/formats/ggml/ggml_quants.h"

using namespace llmq;

namespace {

// Column j of every weight matters 50x more when j % 8 == 0.
std::vector<float> importance_of(int64_t cols) {
  std::vector<float> v(static_cast<size_t>(cols));
  for (int64_t j = 0; j < cols; ++j) v[size_t(j)] = j % 8 == 0 ? 50.0f : 1.0f;
  return v;
}

ImatrixData imatrix_for(const std::string& model) {
  ImatrixData d;
  d.datasets = {"synthetic"};
  d.chunk_count = 1;
  d.chunk_size = 1;
  for (const GgufTensorSpec& s : gguf_tensor_layout(test::fixture_config(model))) {
    if (s.ne.size() < 2 || s.layer < 0 || s.name.find("ffn_gate_inp") != std::string::npos) continue;
    ImatrixEntry e;
    for (int64_t x = 0; x < s.n_experts(); ++x) {
      const auto v = importance_of(s.row_length());
      e.sums.insert(e.sums.end(), v.begin(), v.end());
      e.counts.push_back(1);
    }
    d.entries[s.name] = e;
  }
  return d;
}

// Importance-weighted squared error of a quantized tensor against the checkpoint.
double weighted_error(const GgufReader& g, const std::string& name, const std::string& hf_name, const std::string& model) {
  const GgufTensorInfo& t = g.tensor(name);
  HfCheckpoint ckpt(test::model_dir(model));
  const std::vector<float> ref = ckpt.get(hf_name).to_f32();
  const int64_t cols = t.shape[0];
  std::vector<float> row(static_cast<size_t>(cols));
  const auto imp = importance_of(cols);
  double err = 0;
  for (int64_t r = 0; r < t.n_rows(); ++r) {
    ggml::dequantize_row(t.type, t.data + size_t(r) * ggml::row_size(t.type, cols), row.data(), cols);
    for (int64_t j = 0; j < cols; ++j) err += imp[size_t(j)] * std::pow(row[size_t(j)] - ref[size_t(r * cols + j)], 2);
  }
  return err;
}

}  // namespace

TEST(GgufImatrix, CliPassesImportanceToEveryQuantizedWeight) {
  // tiny-qwen3moe has both plain matrices and stacked experts.
  for (const std::string model : {"tiny-qwen3moe"}) {
    test::TempDir d;
    write_imatrix_gguf(imatrix_for(model), d / "imatrix.gguf");
    const std::string with = d / "with.gguf";
    auto r = test::run_cli("quantize " + test::q(test::model_dir(model)) + " gguf -q Q4_K_M -o " + test::q(with) +
                           " --imatrix " + test::q(d / "imatrix.gguf") + " --format json");
    ASSERT_EQ(r.code, 0) << r.err;
    for (const auto& t : nlohmann::json::parse(r.out)["tensors"]) {
      const std::string name = t["name"];
      const bool expected = name.starts_with("blk.") && name.find("norm") == std::string::npos &&
                            name.find("ffn_gate_inp") == std::string::npos;
      EXPECT_EQ(t.value("imatrix", false), expected) << model << " " << name;
    }
    // The important columns come out closer than without the importance matrix.
    GgufReader g(with), plain(test::exported_gguf(model, GgufPreset::Q4_K_M));
    // (qwen3 rows are not permuted, so the GGUF rows line up with the checkpoint's.)
    for (const char* proj : {"q", "v"}) {
      const std::string gguf = fmt::format("blk.0.attn_{}.weight", proj);
      const std::string hf = fmt::format("model.layers.0.self_attn.{}_proj.weight", proj);
      EXPECT_LT(weighted_error(g, gguf, hf, model), weighted_error(plain, gguf, hf, model)) << gguf;
    }
  }
  // A size mismatch on a weight is an error, as in llama-quantize.
  test::TempDir d;
  ImatrixData bad = imatrix_for("tiny-llama");
  bad.entries["blk.1.ffn_down.weight"].sums.resize(100);
  write_imatrix_gguf(bad, d / "bad.gguf");
  auto r = test::run_cli("quantize " + test::q(test::model_dir("tiny-llama")) + " gguf -q Q4_K_M -o " +
                         test::q(d / "x.gguf") + " --imatrix " + test::q(d / "bad.gguf"));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("blk.1.ffn_down.weight"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(d / "x.gguf"));
}
