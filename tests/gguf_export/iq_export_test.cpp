// i-quant and ternary GGUF files of a real model: the importance-matrix
// requirement (refused before anything is written), and perplexity of the
// files with an importance matrix from our own `analyze`.
#include <filesystem>
#include <map>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/run_cli.h"
#include "eval/perplexity.h"
#include "export/gguf/gguf_exporter.h"
#include "export/gguf/gguf_model_loader.h"
#include "gguf_export/gguf_export_support.h"
#include "calibration/imatrix_file.h"
#include "model/model_loader.h"
#include "model/transformer.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

using namespace llmq;
namespace fs = std::filesystem;

namespace {

// Perplexity on the first 4 windows of 512 tokens of wikitext-2.
double few_chunks_ppl(const LoadedModel& m) {
  static const std::string text = test::read_file(test::data_file("wikitext2_test.txt")).substr(0, 40000);
  Transformer model(m.weights);
  PerplexityOptions o;
  o.ctx = 512;
  o.chunks = 4;
  return perplexity(model, m.tokenizer->encode(text, false), o).ppl;
}

// tiny-llama's importance matrix from `llm-quantize analyze` over the
// calibration text (16 windows of 256 tokens), made once.
const std::string& tiny_imatrix() {
  static test::TempDir dir;
  static const std::string path = [] {
    const std::string p = dir / "tiny-llama.imatrix";
    const auto r = test::run_cli("analyze " + test::q(test::model_dir("tiny-llama")) + " -o " + test::q(p) +
                                 " --calibration-data " + test::q(test::data_file("calibration.txt")) +
                                 " --calibration-samples 16 -c 256 --quiet");
    if (r.code != 0) throw std::runtime_error("analyze failed: " + r.err);
    return p;
  }();
  return path;
}

double ppl_of(GgufPreset preset, bool with_imatrix) {
  static test::TempDir dir;
  static std::shared_ptr<ImatrixFile> imatrix;
  GgufExportOptions opt;
  opt.quant.preset = preset;
  opt.output = dir / (std::string(preset_info(preset).name) + (with_imatrix ? "-imatrix" : "") + ".gguf");
  if (with_imatrix) {
    if (!imatrix) imatrix = std::make_shared<ImatrixFile>(tiny_imatrix());
    opt.importance = [](const std::string& name, int expert) { return imatrix->importance(name, expert); };
  }
  export_gguf(test::model_dir("tiny-llama"), opt);
  return few_chunks_ppl(load_gguf_model(opt.output));
}

}  // namespace

TEST(IqExport, LowBitPresetsRefuseToWriteWithoutAnImatrix) {
  test::TempDir d;
  const std::string out = d / "out.gguf";
  const std::string model = test::q(test::model_dir("tiny-llama"));
  for (const char* preset : {"IQ2_XXS", "IQ1_S", "IQ3_XXS"}) {
    const auto r = test::run_cli("quantize " + model + " gguf -q " + preset + " -o " + test::q(out) + " --quiet");
    EXPECT_EQ(r.code, 1) << preset;
    EXPECT_NE(r.err.find("needs an importance matrix"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("llm-quantize analyze"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("--imatrix"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(out)) << preset;
  }
  // A dry run only reports it; IQ4_XS and the ternary types need none.
  auto r = test::run_cli("quantize " + model + " gguf -q IQ2_XS --dry-run --format json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(nlohmann::json::parse(r.out)["needs_imatrix"].get<bool>());
  for (const char* preset : {"IQ4_XS", "TERNARY"}) {
    r = test::run_cli("quantize " + model + " gguf -q " + preset + " --dry-run --format json");
    ASSERT_EQ(r.code, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_FALSE(j["needs_imatrix"].get<bool>()) << preset;
    if (std::string(preset) == "TERNARY") EXPECT_EQ(j["type"], "TQ1_0");
  }
}

TEST(IqExport, ImatrixWithoutATensorsEntryIsAnError) {
  test::TempDir d;
  GgufExportOptions opt;
  opt.quant.preset = GgufPreset::IQ2_XS;
  opt.output = d / "out.gguf";
  // The right width per tensor: rows of 256 or 768 values.
  const std::vector<float> w256(256, 1.f), w768(768, 1.f);
  opt.importance = [&](const std::string& name, int) -> const std::vector<float>* {
    if (name == "blk.2.ffn_up.weight") return nullptr;
    return name.find("ffn_down") != std::string::npos ? &w768 : &w256;
  };
  try {
    export_gguf(test::model_dir("tiny-llama"), opt);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("blk.2.ffn_up.weight"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(opt.output));
}

TEST(IqExport, PerplexityOfEveryFamilyOnTinyLlama) {
  register_gguf_model_loader();
  const double base = few_chunks_ppl(load_model(test::model_dir("tiny-llama")));
  std::map<GgufPreset, double> ppl;
  for (GgufPreset p : {GgufPreset::IQ4_XS, GgufPreset::IQ3_S, GgufPreset::IQ2_XXS, GgufPreset::IQ1_S,
                       GgufPreset::TQ2_0})
    ppl[p] = ppl_of(p, true);
  for (const auto& [p, v] : ppl)
    ::testing::Test::RecordProperty(std::string(preset_info(p).name) + "_ppl_over_base", std::to_string(v / base));
  // Margins over the checkpoint; measured ratios 1.000 (IQ4_XS), 1.030
  // (IQ3_S), 1.148 (IQ2_XXS), 1.400 (IQ1_S), 1.358 (TQ2_0).
  EXPECT_LT(ppl[GgufPreset::IQ4_XS], base * 1.02);
  EXPECT_LT(ppl[GgufPreset::IQ3_S], base * 1.05);
  EXPECT_LT(ppl[GgufPreset::IQ2_XXS], base * 1.2);
  EXPECT_LT(ppl[GgufPreset::IQ1_S], base * 1.5);
  EXPECT_LT(ppl[GgufPreset::TQ2_0], base * 1.45);
  // Fewer bits, more perplexity.
  EXPECT_LT(ppl[GgufPreset::IQ4_XS], ppl[GgufPreset::IQ3_S]);
  EXPECT_LT(ppl[GgufPreset::IQ3_S], ppl[GgufPreset::IQ2_XXS]);
  EXPECT_LT(ppl[GgufPreset::IQ2_XXS], ppl[GgufPreset::IQ1_S]);
  // The importance matrix helps.
  EXPECT_LT(ppl[GgufPreset::IQ3_S], ppl_of(GgufPreset::IQ3_S, false));
}
