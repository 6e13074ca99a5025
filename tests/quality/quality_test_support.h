#pragma once
// Shared by the quality tests: tiny-llama, a "quantized" copy of it made in
// memory by rounding weights, that copy written as a model directory, and
// direct full-precision computations of the metrics to check against.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>
#include <numeric>
#include <vector>

#include "common/fixtures.h"
#include "io/safetensors_writer.h"
#include "model/model_loader.h"
#include "model/transformer.h"
#include "tokenizer/tokenizer.h"
#include "util/half.h"

namespace llmq::test {

inline const LoadedModel& tiny_llama() {
  static const LoadedModel m = load_model(model_dir("tiny-llama"));
  return m;
}

inline const std::vector<int32_t>& wikitext_tokens() {
  static const std::vector<int32_t> t =
      tiny_llama().tokenizer->encode(read_file(data_file("wikitext2_test.txt")).substr(0, 40000));
  return t;
}

// Symmetric round-to-nearest with `bits` bits per weight in blocks of 32 (a
// stand-in for a real quantizer): every linear weight, embedding and output.
inline std::shared_ptr<ModelWeights> rounded_copy(const ModelWeights& w, int bits) {
  auto q = std::make_shared<ModelWeights>(w);
  const float levels = float((1 << (bits - 1)) - 1);
  for (const NamedTensor& nt : named_tensors(*q)) {
    if (!is_linear_weight(nt.role) && nt.role != TensorRole::TokenEmbedding && nt.role != TensorRole::Output) continue;
    std::vector<float>& d = nt.tensor->data;
    for (size_t b = 0; b < d.size(); b += 32) {
      const size_t e = std::min(d.size(), b + 32);
      float amax = 0;
      for (size_t i = b; i < e; ++i) amax = std::max(amax, std::fabs(d[i]));
      if (amax == 0) continue;
      const float step = amax / levels;
      for (size_t i = b; i < e; ++i) d[i] = step * std::nearbyint(d[i] / step);
    }
  }
  return q;
}

// A Hugging Face directory holding `w` in bf16 beside tiny-llama's config and tokenizer.
inline void write_model_dir(const ModelWeights& w, const std::string& dir) {
  namespace fs = std::filesystem;
  fs::create_directories(dir);
  for (const char* f : {"config.json", "generation_config.json", "tokenizer.json", "tokenizer.model",
                        "tokenizer_config.json"})
    fs::copy_file(model_dir("tiny-llama") + "/" + f, dir + "/" + f, fs::copy_options::overwrite_existing);
  ModelWeights copy = w;
  SafetensorsWriter out(dir + "/model.safetensors");
  std::vector<NamedTensor> tensors = named_tensors(copy);
  for (const NamedTensor& nt : tensors) out.declare(nt.name, DType::BF16, nt.shape);
  for (const NamedTensor& nt : tensors) {
    std::vector<uint16_t> h(nt.tensor->data.size());
    for (size_t i = 0; i < h.size(); ++i) h[i] = f32_to_bf16(nt.tensor->data[i]);
    out.write(nt.name, h.data(), h.size() * 2);
  }
  out.finish();
}

// Full-precision log-softmax.
inline std::vector<double> log_softmax_exact(const float* logits, int64_t n) {
  const double mx = *std::max_element(logits, logits + n);
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += std::exp(double(logits[i]) - mx);
  std::vector<double> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) out[size_t(i)] = double(logits[i]) - mx - std::log(s);
  return out;
}

// What the quality metrics should be, worked out over exact distributions.
struct DirectMetrics {
  double mean_kld = 0, nll_base = 0, nll_model = 0, top1 = 0, same_top_p = 0;
  std::vector<double> kld;
};

inline DirectMetrics direct_metrics(const Transformer& base, const Transformer& model, const std::vector<int32_t>& tokens,
                                    int64_t ctx, int64_t windows, double top_p) {
  DirectMetrics d;
  const int64_t V = base.config().vocab, from = ctx / 2;
  int64_t n = 0;
  for (int64_t w = 0; w < windows; ++w) {
    const int32_t* win = tokens.data() + w * ctx;
    KvCache cb = base.make_cache(ctx), cm = model.make_cache(ctx);
    std::vector<float> lb, lm;
    base.forward(win, ctx, cb, lb);  // every position, then pick the scored half
    model.forward(win, ctx, cm, lm);
    for (int64_t pos = from; pos < ctx; ++pos, ++n) {
      const std::vector<double> p = log_softmax_exact(lb.data() + pos * V, V);
      const std::vector<double> q = log_softmax_exact(lm.data() + pos * V, V);
      double kl = 0;
      for (int64_t i = 0; i < V; ++i) kl += std::exp(p[size_t(i)]) * (p[size_t(i)] - q[size_t(i)]);
      d.kld.push_back(kl);
      d.mean_kld += kl;
      const int32_t target = win[pos + 1];
      d.nll_base += -p[size_t(target)];
      d.nll_model += -q[size_t(target)];
      const auto pa = std::max_element(p.begin(), p.end()) - p.begin();
      const auto qa = std::max_element(q.begin(), q.end()) - q.begin();
      d.top1 += pa == qa;
      // Top-p set by a full sort of P; same if Q's m best are that set.
      std::vector<int64_t> ip(static_cast<size_t>(V)), iq(static_cast<size_t>(V));
      std::iota(ip.begin(), ip.end(), 0);
      std::iota(iq.begin(), iq.end(), 0);
      std::stable_sort(ip.begin(), ip.end(), [&](int64_t a, int64_t b) { return p[size_t(a)] > p[size_t(b)]; });
      std::stable_sort(iq.begin(), iq.end(), [&](int64_t a, int64_t b) { return q[size_t(a)] > q[size_t(b)]; });
      double mass = 0;
      size_t m = 0;
      while (m < ip.size() && mass < top_p) mass += std::exp(p[size_t(ip[m++])]);
      std::vector<int64_t> sp(ip.begin(), ip.begin() + long(m)), sq(iq.begin(), iq.begin() + long(m));
      std::sort(sp.begin(), sp.end());
      std::sort(sq.begin(), sq.end());
      d.same_top_p += sp == sq;
    }
  }
  d.mean_kld /= double(n);
  d.nll_base /= double(n);
  d.nll_model /= double(n);
  d.top1 /= double(n);
  d.same_top_p /= double(n);
  return d;
}

}  // namespace llmq::test
