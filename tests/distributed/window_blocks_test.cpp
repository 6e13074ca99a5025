// Blocks of calibration windows and their merge: the statistics a job of
// any number of processes computes are those of one process, bit for bit.
#include <cmath>
#include <random>

#include <gtest/gtest.h>

#include "calibration/activation_range_collector.h"
#include "calibration/gram_collector.h"
#include "calibration/importance_collector.h"
#include "calibration/kv_range_collector.h"
#include "calibration/moe_routing_collector.h"
#include "calibration/super_weight_collector.h"
#include "calibration/window_blocks.h"

using namespace llmq;

namespace {

constexpr int64_t kWidth = 24, kTokens = 7, kExperts = 4;

// Window w's hooks, with values that depend only on w (so any process can replay any window).
void feed_window(Collector& c, int64_t w) {
  std::mt19937 rng(uint32_t(1000 + w));
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> X(size_t(kTokens * kWidth)), Y(size_t(kTokens * kWidth)), K(size_t(kTokens * 8)), V(K.size());
  for (float& v : X) v = d(rng) * (w % 3 == 0 ? 5.0f : 1.0f);
  for (float& v : Y) v = d(rng) * float(1 + w % 4);
  for (float& v : K) v = d(rng);
  for (float& v : V) v = d(rng);
  std::vector<int32_t> experts(size_t(kTokens * 2));
  std::vector<float> weights(experts.size());
  for (size_t i = 0; i < experts.size(); ++i) {
    experts[i] = int32_t((w + i) % kExperts);
    weights[i] = 0.25f + 0.5f * float(i % 2);
  }
  c.begin_window(w, kTokens);
  for (int layer = 0; layer < 2; ++layer) {
    c.on_moe_routing(layer, experts.data(), weights.data(), kTokens, 2);
    c.on_kv_cache(layer, K.data(), V.data(), kTokens, 8);
    c.on_linear_input(layer, LinearSlot::QKV, -1, X.data(), kTokens, kWidth);
    c.on_linear_input(layer, LinearSlot::Down, -1, X.data(), kTokens, kWidth);
    c.on_linear_output(layer, LinearSlot::Down, 0, -1, Y.data(), kTokens, kWidth);
  }
}

std::vector<std::unique_ptr<Collector>> all_collectors() {
  std::vector<std::unique_ptr<Collector>> v;
  v.push_back(std::make_unique<ImportanceCollector>());
  v.push_back(std::make_unique<GramCollector>());
  v.push_back(std::make_unique<ActivationRangeCollector>());
  v.push_back(std::make_unique<KvRangeCollector>());
  v.push_back(std::make_unique<MoeRoutingCollector>(kExperts));
  v.push_back(std::make_unique<SuperWeightCollector>());
  return v;
}

BlockRunner replay() {
  return [](int64_t w0, int64_t w1, const std::vector<Collector*>& into) {
    for (Collector* c : into)
      for (int64_t w = w0; w < w1; ++w) feed_window(*c, w);
  };
}

// Arrays equal within a relative tolerance (0: bit for bit).
void expect_states_near(const CollectorState& a, const CollectorState& b, double rel, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (const auto& [name, va] : a) {
    ASSERT_TRUE(b.count(name)) << what << " " << name;
    const std::vector<double>& vb = b.at(name);
    ASSERT_EQ(va.size(), vb.size()) << what << " " << name;
    for (size_t i = 0; i < va.size(); ++i) {
      if (rel == 0) ASSERT_EQ(va[i], vb[i]) << what << " " << name << "[" << i << "]";
      else ASSERT_NEAR(va[i], vb[i], rel * std::max(1.0, std::fabs(va[i]))) << what << " " << name << "[" << i << "]";
    }
  }
}

}  // namespace

TEST(WindowBlocks, FixedBlocksAndContiguousShares) {
  const WindowBlocks b(10, 4);
  ASSERT_EQ(b.count(), 3);
  EXPECT_EQ(b.first_window(1), 4);
  EXPECT_EQ(b.end_window(2), 10);
  for (int ranks = 1; ranks <= 5; ++ranks) {
    int64_t next = 1;  // blocks from 1 on (block 0 resumed)
    for (int r = 0; r < ranks; ++r) {
      const auto [f, e] = blocks_of_rank(b, 1, r, ranks);
      EXPECT_EQ(f, next) << ranks << " ranks, rank " << r;
      EXPECT_LE(f, e);
      next = e;
    }
    EXPECT_EQ(next, 3) << ranks;
  }
  const auto [w0, w1] = windows_of_rank(b, 0, 1, 2);  // rank 1 of 2: blocks 1..2
  EXPECT_EQ(w0, 4);
  EXPECT_EQ(w1, 10);
  EXPECT_THROW(WindowBlocks(5, 0), Error);
}

// The blocked sums equal one running sum (to rounding); maxima, counts and
// peak records equal it exactly; and a merge of the same block partials in
// the same order - what every process count does - is bit-identical.
TEST(WindowBlocks, BlockedCollectionMatchesOneRunningCollector) {
  constexpr int64_t kWindows = 11;
  auto sequential = all_collectors();
  for (auto& c : sequential)
    for (int64_t w = 0; w < kWindows; ++w) feed_window(*c, w);

  auto blocked = all_collectors();
  std::vector<Collector*> totals;
  for (auto& c : blocked) totals.push_back(c.get());
  Cluster one;
  const WindowBlocks blocks(kWindows, 3);
  std::vector<int64_t> seen;
  collect_in_blocks(totals, blocks, one, replay(), Delivery::Root, 0, [&](int64_t b, bool here) {
    EXPECT_TRUE(here);
    seen.push_back(b);
  });
  EXPECT_EQ(seen, (std::vector<int64_t>{0, 1, 2, 3}));

  // "Other processes": each block collected on its own, states sent as bytes, merged in order.
  auto by_hand = all_collectors();
  for (int64_t b = 0; b < blocks.count(); ++b)
    for (size_t i = 0; i < by_hand.size(); ++i) {
      std::unique_ptr<Collector> part = by_hand[i]->empty_clone();
      for (int64_t w = blocks.first_window(b); w < blocks.end_window(b); ++w) feed_window(*part, w);
      std::unique_ptr<Collector> received = by_hand[i]->empty_clone();
      received->load_state(collector_state_from_bytes(collector_state_bytes(part->save_state()), part->name()));
      by_hand[i]->merge(*received);
    }

  for (size_t i = 0; i < blocked.size(); ++i) {
    const std::string name = blocked[i]->name();
    expect_states_near(blocked[i]->save_state(), by_hand[i]->save_state(), 0.0, name + " (same blocks)");
    // Sums differ from the running sum only by rounding; everything else is exact.
    const bool sums = name == "imatrix" || name == "gram" || name == "act_range" || name == "moe_routing";
    expect_states_near(blocked[i]->save_state(), sequential[i]->save_state(), sums ? 1e-12 : 0.0, name + " (sequential)");
  }
}

TEST(WindowBlocks, ResumedTotalsTakeOnlyTheRemainingBlocks) {
  auto full = std::make_unique<ImportanceCollector>(), resumed = std::make_unique<ImportanceCollector>();
  Cluster one;
  const WindowBlocks blocks(8, 2);
  collect_in_blocks({full.get()}, blocks, one, replay(), Delivery::All);
  // A checkpoint after blocks 0 and 1, then the rest.
  collect_in_blocks({resumed.get()}, WindowBlocks(4, 2), one, replay(), Delivery::All);
  collect_in_blocks({resumed.get()}, blocks, one, replay(), Delivery::All, 2);
  expect_states_near(full->save_state(), resumed->save_state(), 0.0, "resumed");
}

TEST(WindowBlocks, MergingDifferentCollectorsOrWidthsIsRefused) {
  ImportanceCollector a;
  GramCollector g;
  EXPECT_THROW(a.merge(g), Error);
  ImportanceCollector b;
  std::vector<float> x(6, 1.0f);
  a.on_linear_input(0, LinearSlot::QKV, -1, x.data(), 2, 3);
  b.on_linear_input(0, LinearSlot::QKV, -1, x.data(), 3, 2);
  EXPECT_THROW(a.merge(b), Error);
}

TEST(WindowBlocks, TruncatedStateMessagesAreErrors) {
  CollectorState st = {{"L0.qkv.sum_sq", {1.0, 2.0, 3.0}}, {"L0.qkv.tokens", {4.0}}};
  std::vector<uint8_t> bytes = collector_state_bytes(st);
  EXPECT_EQ(collector_state_from_bytes(bytes, "imatrix"), st);
  for (size_t cut : {size_t(0), size_t(7), bytes.size() / 2, bytes.size() - 1}) {
    std::vector<uint8_t> shorter(bytes.begin(), bytes.begin() + cut);
    EXPECT_THROW(collector_state_from_bytes(shorter, "imatrix"), Error) << cut;
  }
  bytes.push_back(0);
  EXPECT_THROW(collector_state_from_bytes(bytes, "imatrix"), Error);
}
