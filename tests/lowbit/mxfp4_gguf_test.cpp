// MXFP4 linears in a GGUF file (quantize ... gguf --tensor-type ...=mxfp4):
// our loader reads back what the block codec wrote, and, where llama.cpp's
// llama-quantize is built beside the checkout, llama.cpp's own dequantizer
// (requantizing the file to F32) gives exactly the same weights.
#include <gtest/gtest.h>

#include <filesystem>

#include "common/cached_model.h"
#include "common/run_cli.h"
#include "export/gguf/gguf_model_loader.h"
#include "model/model_loader.h"

namespace llmq {
namespace {

namespace fs = std::filesystem;
using test::q;

const char* kLinears = "'blk\\..*\\.(attn_q|attn_k|attn_v|attn_output|ffn_gate|ffn_up|ffn_down)\\.weight=mxfp4'";

std::string llama_quantize() {
  const fs::path p = fs::path(test::shared_dir()) / ".." / "llama.cpp-build" / "bin" / "llama-quantize";
  return fs::exists(p) ? fs::canonical(p).string() : "";
}

TEST(Mxfp4Gguf, LinearsRoundTripAndMatchLlamaCpp) {
  register_gguf_model_loader();
  test::TempDir tmp;
  const std::string file = tmp / "mx.gguf";
  const auto r = test::run_cli("quantize " + q(test::model_dir("tiny-llama")) + " gguf -q Q8_0 --tensor-type " +
                               kLinears + " --output-tensor-type bf16 --token-embedding-type bf16 -o " + q(file) + " --quiet");
  ASSERT_EQ(r.code, 0) << r.err;
  const LoadedModel ours = load_model(file);
  const LoadedModel& src = test::cached_model("tiny-llama");
  // Every linear is an MXFP4 approximation: close to the source, never equal to it.
  const Tensor& a = ours.weights->layers[1].down;
  const Tensor& b = src.weights->layers[1].down;
  double err = 0, norm = 0;
  for (size_t i = 0; i < a.data.size(); ++i) err += (a.data[i] - b.data[i]) * double(a.data[i] - b.data[i]), norm += b.data[i] * double(b.data[i]);
  EXPECT_GT(err, 0.0);
  EXPECT_LT(err / norm, 0.02);  // E2M1 with a shared power-of-two scale: about 1% relative error

  const std::string lq = llama_quantize();
  if (lq.empty()) GTEST_SKIP() << "llama-quantize not built beside the checkout";
  const std::string f32 = tmp / "mx-f32.gguf";
  const std::string libdir = fs::path(lq).parent_path().string();
  const int rc = std::system(("LD_LIBRARY_PATH=" + q(libdir) + " " + q(lq) + " --allow-requantize " + q(file) + " " + q(f32) +
                              " F32 >/dev/null 2>&1").c_str());
  ASSERT_EQ(rc, 0);
  const LoadedModel theirs = load_model(f32);
  for (size_t l = 0; l < ours.weights->layers.size(); ++l) {
    const LayerWeights &x = ours.weights->layers[l], &y = theirs.weights->layers[l];
    for (auto [p, o] : {std::pair{&x.wq, &y.wq}, {&x.wk, &y.wk}, {&x.wv, &y.wv}, {&x.wo, &y.wo}, {&x.gate, &y.gate},
                        {&x.up, &y.up}, {&x.down, &y.down}})
      EXPECT_EQ(p->data, o->data) << "layer " << l;
  }
}

}  // namespace
}  // namespace llmq
