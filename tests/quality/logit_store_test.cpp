// The base-logits file: round trip, and clear errors for files that are not one.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "eval/logit_store.h"
#include "eval/quality_eval.h"
#include "quality/quality_test_support.h"
#include "util/error.h"

using namespace llmq;
namespace fs = std::filesystem;

namespace {

constexpr int64_t kCtx = 32, kWindows = 2;

std::string write_tiny_file(const test::TempDir& dir) {
  const Transformer base(test::tiny_llama().weights);
  const WindowPlan plan = plan_windows(int64_t(test::wikitext_tokens().size()), kCtx, kWindows);
  const std::string path = dir / "base.logits";
  write_base_logits(path, base, test::wikitext_tokens(), plan, {{"model", "tiny-llama"}, {"n_params", 123}});
  return path;
}

void expect_error_naming(const std::string& path, const std::string& fragment) {
  try {
    BaseLogits::open(path);
    ADD_FAILURE() << "no error for " << path;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

}  // namespace

TEST(BaseLogitsFile, RoundTrips) {
  test::TempDir dir;
  const std::string path = write_tiny_file(dir);
  const BaseLogits b = BaseLogits::open(path);
  const int64_t V = test::tiny_llama().weights->cfg.vocab;
  EXPECT_EQ(b.vocab(), V);
  EXPECT_EQ(b.plan().ctx, kCtx);
  EXPECT_EQ(b.plan().score_from, kCtx / 2);
  EXPECT_EQ(b.plan().windows, kWindows);
  EXPECT_EQ(b.meta().at("model"), "tiny-llama");
  EXPECT_EQ(b.meta().at("n_params"), 123);
  ASSERT_EQ(int64_t(b.tokens().size()), kWindows * kCtx + 1);
  for (size_t i = 0; i < b.tokens().size(); ++i) ASSERT_EQ(b.tokens()[i], test::wikitext_tokens()[i]);

  // Every record equals a fresh encoding of a direct forward pass.
  const Transformer base(test::tiny_llama().weights);
  std::vector<uint8_t> want(size_t(log_prob_record_bytes(V)));
  for (int64_t w = 0; w < kWindows; ++w) {
    KvCache cache = base.make_cache(kCtx);
    std::vector<float> logits;
    base.forward(test::wikitext_tokens().data() + w * kCtx, kCtx, cache, logits);
    for (int64_t i = 0; i < kCtx / 2; ++i) {
      const int64_t pos = kCtx / 2 + i;
      encode_log_probs(logits.data() + pos * V, V, test::wikitext_tokens()[size_t(w * kCtx + pos + 1)], want.data());
      const LogProbRecord got = b.record(w, i);
      ASSERT_EQ(got.top1(), LogProbRecord(want.data()).top1()) << w << " " << i;
      ASSERT_NEAR(got.target_log_prob(), LogProbRecord(want.data()).target_log_prob(), 1e-5);
      ASSERT_NEAR(got.lp_min(), LogProbRecord(want.data()).lp_min(), 1e-4);
      int max_code_diff = 0;
      for (int64_t t = 0; t < V; ++t)
        max_code_diff = std::max(max_code_diff, std::abs(int(got.codes()[t]) - int(LogProbRecord(want.data()).codes()[t])));
      ASSERT_LE(max_code_diff, 1);  // the forward of a suffix may round differently in the last bit
    }
  }
  // Nothing but the file remains in the directory (no temporary left behind).
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()), 1);
}

TEST(BaseLogitsFile, TemporaryLogitsNeedNoFile) {
  const Transformer base(test::tiny_llama().weights);
  const WindowPlan plan = plan_windows(int64_t(test::wikitext_tokens().size()), kCtx, 1);
  const BaseLogits b = compute_base_logits(base, test::wikitext_tokens(), plan, {});
  EXPECT_FALSE(fs::exists(b.path()));
  EXPECT_EQ(b.plan().windows, 1);
  const QualityMetrics m = evaluate_quality(base, b, {});
  EXPECT_LT(m.kld_mean, 1e-7);
}

TEST(BaseLogitsFile, RejectsWhatIsNotOne) {
  test::TempDir dir;
  const std::string good = write_tiny_file(dir);
  const std::string bytes = test::read_file(good);

  const std::string other = dir / "other.bin";
  std::ofstream(other, std::ios::binary) << "GGUF and then some other bytes of a different file format";
  expect_error_naming(other, "not a base-logits file");

  const std::string truncated = dir / "truncated.logits";
  std::ofstream(truncated, std::ios::binary) << bytes.substr(0, bytes.size() - 100);
  expect_error_naming(truncated, "truncated");

  std::string v2 = bytes;
  v2[8] = 2;
  const std::string newer = dir / "v2.logits";
  std::ofstream(newer, std::ios::binary) << v2;
  expect_error_naming(newer, "version 2");

  std::string bad_meta = bytes;
  bad_meta[40] = '#';
  const std::string meta = dir / "meta.logits";
  std::ofstream(meta, std::ios::binary) << bad_meta;
  expect_error_naming(meta, "JSON");

  expect_error_naming(dir / "missing.logits", "missing.logits");
}
