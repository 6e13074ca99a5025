// The importance matrix (and the other collectors) against direct computations
// over the same windows.
#include <cmath>

#include <gtest/gtest.h>

#include "calibration/activation_range_collector.h"
#include "calibration/calibration_pass.h"
#include "calibration/gram_collector.h"
#include "calibration/imatrix_builder.h"
#include "calibration/importance_collector.h"
#include "calibration_test_support.h"
#include "export/gguf/gguf_names.h"

namespace llmq {
namespace {

// Records every linear input of a plain Transformer::forward, naively.
struct RecordingHooks : ForwardHooks {
  std::map<LinearKey, std::vector<std::vector<float>>> rows;  // every input row seen
  void on_linear_input(int layer, LinearSlot slot, int expert, float* X, int64_t T, int64_t in) override {
    auto& r = rows[{layer, slot, expert}];
    for (int64_t t = 0; t < T; ++t) r.emplace_back(X + t * in, X + (t + 1) * in);
  }
};

class ImportanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const LoadedModel& m = test::cached_model("tiny-llama");
    model_ = std::make_unique<Transformer>(m.weights);
    windows_ = test::calibration_windows(m, 3, 24);
    ASSERT_EQ(windows_.windows.size(), 3u);
  }
  std::unique_ptr<Transformer> model_;
  CalibrationWindows windows_;
};

TEST_F(ImportanceTest, FirstLayerQkvMatchesRmsNormOfEmbeddings) {
  const ModelWeights& w = model_->weights();
  const ModelConfig& c = w.cfg;
  // Direct: x = rms_norm(embedding) * attn_norm, summed in double.
  std::vector<double> expect(size_t(c.hidden), 0.0);
  for (const auto& win : windows_.windows)
    for (int32_t tok : win) {
      const float* e = w.embed.row(tok);
      double ss = 0;
      for (int64_t j = 0; j < c.hidden; ++j) ss += double(e[j]) * e[j];
      const double inv = 1.0 / std::sqrt(ss / double(c.hidden) + c.rms_eps);
      for (int64_t j = 0; j < c.hidden; ++j) {
        const double x = e[j] * inv * w.layers[0].attn_norm.data[size_t(j)];
        expect[size_t(j)] += x * x;
      }
    }

  ImportanceCollector imp;
  CalibrationPass pass(*model_);
  pass.add(imp);
  pass.run(windows_.windows);
  const ImatrixData d = build_imatrix(imp, c, gguf_tensor_name, {"calibration.txt"}, 3, 24);
  for (const char* name : {"blk.0.attn_q.weight", "blk.0.attn_k.weight", "blk.0.attn_v.weight"}) {
    SCOPED_TRACE(name);
    const ImatrixEntry& e = d.entries.at(name);
    ASSERT_EQ(e.counts, std::vector<int64_t>{72});
    ASSERT_EQ(e.sums.size(), expect.size());
    for (size_t j = 0; j < expect.size(); ++j) EXPECT_NEAR(e.sums[j], expect[j], 1e-4 * expect[j] + 1e-6) << j;
  }
}

TEST_F(ImportanceTest, EveryEntryMatchesInputsOfPlainForwardPass) {
  const ModelConfig& c = model_->config();
  RecordingHooks rec;
  for (const auto& win : windows_.windows) {
    KvCache cache = model_->make_cache(int64_t(win.size()));
    std::vector<float> logits;
    model_->forward(win.data(), int64_t(win.size()), cache, logits, int64_t(win.size()) - 1, &rec);
  }
  ImportanceCollector imp;
  ActivationRangeCollector range;
  CalibrationPass pass(*model_);
  pass.add(imp);
  pass.add(range);
  pass.run(windows_.windows);
  const ImatrixData d = build_imatrix(imp, c, gguf_tensor_name, {}, 3, 24);
  // 4 layers x (q, k, v, o, gate, up, down)
  EXPECT_EQ(d.entries.size(), size_t(7 * c.n_layers));

  ModelWeights names_only;
  names_only.cfg = c;
  int checked = 0;
  for (const NamedTensor& t : named_tensors(names_only)) {
    if (!is_linear_weight(t.role)) continue;
    const LinearKey key{t.layer, linear_slot_of(t.role), t.expert};
    const auto& rows = rec.rows.at(key);
    const ImatrixEntry& e = d.entries.at(gguf_tensor_name(t));
    ASSERT_EQ(e.counts[0], int64_t(rows.size()));
    const ActivationRange* ar = range.find(key);
    ASSERT_NE(ar, nullptr);
    for (size_t j = 0; j < e.sums.size(); ++j) {
      double s = 0, mx = 0, sa = 0;
      for (const auto& r : rows) {
        s += double(r[j]) * r[j];
        mx = std::max(mx, double(std::fabs(r[j])));
        sa += std::fabs(r[j]);
      }
      ASSERT_NEAR(e.sums[j], s, 1e-5 * s + 1e-7) << t.name << " col " << j;
      ASSERT_FLOAT_EQ(ar->max_abs[j], float(mx));
      ASSERT_NEAR(ar->sum_abs[j], sa, 1e-9 * sa + 1e-9);
    }
    ++checked;
  }
  EXPECT_EQ(checked, 7 * c.n_layers);
}

TEST_F(ImportanceTest, GramMatrixMatchesNaiveProduct) {
  RecordingHooks rec;
  GramCollector gram({LinearSlot::Down}, {1});
  CalibrationPass pass(*model_);
  pass.add(gram);
  struct Both : Collector {  // the recorder riding the same pass
    RecordingHooks* r;
    std::string name() const override { return "rec"; }
    void on_linear_input(int l, LinearSlot s, int e, float* X, int64_t T, int64_t in) override {
      r->on_linear_input(l, s, e, X, T, in);
    }
    CollectorState save_state() const override { return {}; }
    void load_state(const CollectorState&) override {}
    std::unique_ptr<Collector> empty_clone() const override { return nullptr; }  // never run in blocks
    void merge(const Collector&) override {}
  } both;
  both.r = &rec;
  pass.add(both);
  pass.run(windows_.windows);
  EXPECT_EQ(gram.stats().size(), 1u);  // only the layer and slot asked for
  const GramStats* g = gram.find({1, LinearSlot::Down, -1});
  ASSERT_NE(g, nullptr);
  const auto& rows = rec.rows.at({1, LinearSlot::Down, -1});
  EXPECT_EQ(g->tokens, int64_t(rows.size()));
  const std::vector<double> G = g->matrix();
  const int64_t n = g->n;
  for (int64_t a : {int64_t(0), int64_t(5), n - 1})
    for (int64_t b = 0; b < n; b += 37) {
      double s = 0;
      for (const auto& r : rows) s += double(r[size_t(a)]) * double(r[size_t(b)]);
      EXPECT_NEAR(G[size_t(a * n + b)], s, 1e-9 * std::fabs(s) + 1e-9);
      EXPECT_EQ(G[size_t(a * n + b)], G[size_t(b * n + a)]);
    }
}

TEST_F(ImportanceTest, StateRoundTripsExactly) {
  ImportanceCollector a, b;
  CalibrationPass pass(*model_);
  pass.add(a);
  pass.run(windows_.windows);
  b.load_state(a.save_state());
  ASSERT_EQ(a.stats().size(), b.stats().size());
  for (const auto& [k, s] : a.stats()) {
    EXPECT_EQ(b.find(k)->sum_sq, s.sum_sq);
    EXPECT_EQ(b.find(k)->tokens, s.tokens);
  }
}

}  // namespace
}  // namespace llmq
