// GGUF export with GPTQ (`quantize MODEL gguf -q Q4_K_M --gptq`,
// export/gguf/gguf_gptq.h): the same types and bytes as the plain export,
// every decoder k-quant tensor quantized with error feedback, and a file of
// lower KL divergence on held-out text.
#include <gtest/gtest.h>

#include <filesystem>

#include "common/fixtures.h"
#include "common/run_cli.h"
#include "eval/quality_eval.h"
#include "export/gguf/gguf_exporter.h"
#include "export/gguf/gguf_gptq.h"
#include "export/gguf/gguf_model_loader.h"
#include "model/model_loader.h"
#include "quant/methods/gptq_ggml.h"
#include "tokenizer/tokenizer.h"

using namespace llmq;
namespace fs = std::filesystem;

namespace {

// KL divergence of a GGUF file from its model on held-out wikitext (8 windows of 128).
double held_out_kld(const std::string& model, const std::string& gguf) {
  register_gguf_model_loader();
  const LoadedModel base = load_model(test::model_dir(model), {.lazy = true});
  const LoadedModel q = load_model(gguf, {.lazy = true});
  const std::vector<int32_t> tokens =
      base.tokenizer->encode(test::read_file(test::data_file("wikitext2_test.txt")).substr(0, 40000));
  const Transformer b(base.weights), m(q.weights);
  const BaseLogits logits = compute_base_logits(b, tokens, plan_windows(int64_t(tokens.size()), 128, 8), {});
  return evaluate_quality(m, logits, {}).kld_mean;
}

GgufExportResult export_q4_k_m(const std::string& model, const std::string& out, std::shared_ptr<GgufGptq> gptq) {
  GgufExportOptions o;
  o.quant.preset = GgufPreset::Q4_K_M;
  o.output = out;
  o.gptq = std::move(gptq);
  return export_gguf(test::model_dir(model), o);
}

}  // namespace

TEST(GgufGptq, Q4KMHasTheSameLayoutAndLowerKld) {
  test::TempDir dir;
  const std::string plain = dir / "plain.gguf", gptq = dir / "gptq.gguf";
  const GgufExportResult rp = export_q4_k_m("tiny-llama", plain, nullptr);
  auto source = make_gguf_gptq(test::model_dir("tiny-llama"), test::data_file("calibration.txt"), {32, 128, 1}, {});
  EXPECT_EQ(source->windows(), 32);
  const GgufExportResult rg = export_q4_k_m("tiny-llama", gptq, source);

  EXPECT_EQ(fs::file_size(plain), fs::file_size(gptq));
  ASSERT_EQ(rp.tensors.size(), rg.tensors.size());
  int with_gptq = 0;
  for (size_t i = 0; i < rg.tensors.size(); ++i) {
    const GgufTensorResult& t = rg.tensors[i];
    EXPECT_EQ(t.type, rp.tensors[i].type) << t.name;
    EXPECT_FALSE(rp.tensors[i].used_gptq);
    // Every linear of the decoder in a k-quant type goes through GPTQ; embeddings, head and norms do not.
    const bool linear = t.name.rfind("blk.", 0) == 0 && t.ne.size() >= 2;
    EXPECT_EQ(t.used_gptq, linear && gptq_supports_ggml_type(t.type)) << t.name;
    with_gptq += t.used_gptq;
  }
  EXPECT_EQ(with_gptq, 4 * 7);  // 4 layers of q, k, v, o, gate, up, down

  const double kp = held_out_kld("tiny-llama", plain), kg = held_out_kld("tiny-llama", gptq);
  // Measured 0.00457 against 0.00572 (0.80x).
  EXPECT_LT(kg, 0.85 * kp) << "GPTQ " << kg << " plain " << kp;
}

TEST(GgufGptq, CliReportsGptqOnAttentionAndMoeExperts) {
  test::TempDir dir;
  const std::string out = dir / "moe.gguf";
  const test::CliResult r = test::run_cli("quantize " + test::q(test::model_dir("tiny-qwen3moe")) +
                                          " gguf -q Q4_K_M --gptq --samples 8 --ctx 128 --format json -o " + test::q(out));
  ASSERT_EQ(r.code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["gptq"]["windows"], 8);
  EXPECT_EQ(j["gptq"]["tokens"], 8 * 128);
  bool experts = false, attention = false;
  for (const auto& t : j["tensors"]) {
    const std::string name = t["name"];
    if (!t.value("gptq", false)) continue;
    experts |= name.find("_exps") != std::string::npos;
    attention |= name.find("attn_q.") != std::string::npos;
  }
  EXPECT_TRUE(experts);  // stacked experts: each reached by enough tokens gets its own Hessian
  EXPECT_TRUE(attention);
  EXPECT_TRUE(fs::exists(out));
}

TEST(GgufGptq, MissingCalibrationTextIsAClearErrorAndNoFile) {
  test::TempDir dir;
  const std::string out = dir / "x.gguf", missing = dir / "nope.txt";
  const test::CliResult r = test::run_cli("quantize " + test::q(test::model_dir("tiny-llama")) +
                                          " gguf -q Q4_K_M --gptq --calibration " + test::q(missing) + " -o " + test::q(out));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("nope.txt"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out));
}

TEST(GgufGptq, DynamicMixturesTakeGptqToo) {
  test::TempDir dir;
  const std::string model = test::q(test::model_dir("tiny-llama")), imatrix = dir / "tiny.imatrix";
  ASSERT_EQ(test::run_cli("analyze " + model + " -o " + test::q(imatrix) + " --calibration-samples 4 --quiet").code, 0);
  // --min-bits/--max-bits keep the sensitivity measurement short (90 measurements instead of 390).
  const test::CliResult r =
      test::run_cli("quantize " + model + " gguf -q dynamic --target-bpw 4.5 --min-bits 4 --max-bits 5 --sensitivity fast" +
                    " --imatrix " + test::q(imatrix) + " --gptq --samples 4 --ctx 64 --format json -o " +
                    test::q(dir / "dyn.gguf"));
  ASSERT_EQ(r.code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["gptq"]["windows"], 4);
  EXPECT_GT(j["gptq"]["tensors"].get<int>(), 20);  // of the 28 decoder linears, those in a k-quant or IQ4_XS type
}
