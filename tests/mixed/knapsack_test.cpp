// The bit allocator's solver against brute force on small instances, and on
// curves whose optimum is worked out by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "mixed/knapsack.h"

namespace llmq {
namespace {

struct Brute {
  double value = std::numeric_limits<double>::infinity();
  uint64_t cost = 0;
};

// Every combination: the true optimum (ties: larger cost).
Brute brute_force(const std::vector<KnapsackItem>& items, uint64_t budget) {
  Brute best;
  std::vector<size_t> idx(items.size(), 0);
  for (;;) {
    uint64_t c = 0;
    double v = 0;
    for (size_t i = 0; i < items.size(); ++i) {
      c += items[i].options[idx[i]].cost;
      v += items[i].options[idx[i]].value;
    }
    if (c <= budget && (v < best.value - 1e-12 || (std::abs(v - best.value) <= 1e-12 && c > best.cost))) {
      best.value = v;
      best.cost = c;
    }
    size_t i = 0;
    while (i < items.size() && ++idx[i] == items[i].options.size()) idx[i++] = 0;
    if (i == items.size()) break;
  }
  return best;
}

// The cheapest and the dearest total cost.
std::pair<uint64_t, uint64_t> cost_range(const std::vector<KnapsackItem>& items) {
  uint64_t lo = 0, hi = 0;
  for (const auto& it : items) {
    uint64_t mn = UINT64_MAX, mx = 0;
    for (const auto& o : it.options) mn = std::min(mn, o.cost), mx = std::max(mx, o.cost);
    lo += mn;
    hi += mx;
  }
  return {lo, hi};
}

std::vector<KnapsackItem> random_items(std::mt19937& rng, size_t n, size_t m) {
  std::uniform_int_distribution<int> cost(1, 40), nopt(1, int(m));
  std::uniform_real_distribution<double> value(0.0, 10.0);
  std::vector<KnapsackItem> items(n);
  for (auto& it : items) {
    const int k = nopt(rng);
    for (int j = 0; j < k; ++j) it.options.push_back({uint64_t(cost(rng)) * 8, value(rng)});  // gcd 8 at least
  }
  return items;
}

TEST(Knapsack, MatchesBruteForceOnRandomInstances) {
  std::mt19937 rng(1234);
  int solved = 0;
  for (int trial = 0; trial < 400; ++trial) {
    const size_t n = 1 + trial % 6;
    auto items = random_items(rng, n, 5);
    const auto [lo, hi] = cost_range(items);
    const uint64_t budget = lo + (hi - lo) * uint64_t(trial % 7) / 6 + uint64_t(trial % 5);
    const Brute bf = brute_force(items, budget);
    auto sol = solve_knapsack(items, budget);
    ASSERT_TRUE(sol.has_value()) << "trial " << trial;
    ASSERT_TRUE(sol->exact);
    EXPECT_LE(sol->cost, budget);
    EXPECT_NEAR(sol->value, bf.value, 1e-9) << "trial " << trial;
    EXPECT_LE(sol->lower_bound, sol->value + 1e-9);
    // The Lagrangian solution is feasible and never better than the optimum.
    auto lag = solve_knapsack_lagrangian(items, budget);
    ASSERT_TRUE(lag.has_value());
    EXPECT_LE(lag->cost, budget);
    EXPECT_GE(lag->value, bf.value - 1e-9);
    EXPECT_LE(lag->lower_bound, bf.value + 1e-9);
    ++solved;
  }
  EXPECT_EQ(solved, 400);
}

TEST(Knapsack, InfeasibleBudgetGivesNothing) {
  std::vector<KnapsackItem> items{{{{10, 1.0}, {20, 0.5}}}, {{{10, 1.0}}}};
  EXPECT_FALSE(solve_knapsack(items, 19).has_value());
  auto s = solve_knapsack(items, 20);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->cost, 20u);
}

// Three tensors with convex curves, hand-solved: budget 60 bytes. Options
// (cost, value): A {(10,8), (20,3), (30,1)}, B {(10,6), (20,2), (30,1.5)},
// C {(10,9), (20,4), (30,0.5)}. Per extra 10 bytes: A saves 5 then 2, B 4
// then 0.5, C 5 then 3.5. 30 extra bytes buy the three best savings:
// A +5, C +5, B +4 -> A20 B20 C20, value 3+2+4 = 9, exactly 60 bytes.
TEST(Knapsack, HandSolvedConvexCase) {
  std::vector<KnapsackItem> items{
      {{{10, 8}, {20, 3}, {30, 1}}}, {{{10, 6}, {20, 2}, {30, 1.5}}}, {{{10, 9}, {20, 4}, {30, 0.5}}}};
  auto s = solve_knapsack(items, 60);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->cost, 60u);
  EXPECT_DOUBLE_EQ(s->value, 9.0);
  EXPECT_EQ(s->choice, (std::vector<size_t>{1, 1, 1}));
  EXPECT_DOUBLE_EQ(s->lower_bound, 9.0);  // the LP optimum is integral here
  // 70 bytes: the next best saving is C's 3.5 -> value 5.5.
  s = solve_knapsack(items, 70);
  EXPECT_DOUBLE_EQ(s->value, 5.5);
  EXPECT_EQ(s->cost, 70u);
}

// A non-convex curve where walking the hull alone is not optimal: item A
// {(0,10), (10,9.9), (20,0)}, item B {(0,5.5), (10,0)}; budget 20 bytes.
// A's hull skips its middle point (one segment saving 0.5 per byte); B saves
// 0.55 per byte, so the greedy walk buys B first and then cannot afford A's
// 20-byte step; the fill buys A's middle option: 9.9 + 0 = 9.9. The optimum
// spends all 20 bytes on A: 0 + 5.5 = 5.5.
TEST(Knapsack, NonConvexCaseNeedsTheExactStep) {
  std::vector<KnapsackItem> items{{{{0, 10}, {10, 9.9}, {20, 0}}}, {{{0, 5.5}, {10, 0}}}};
  auto lag = solve_knapsack_lagrangian(items, 20);
  ASSERT_TRUE(lag);
  EXPECT_DOUBLE_EQ(lag->value, 9.9);
  auto s = solve_knapsack(items, 20);
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->exact);
  EXPECT_DOUBLE_EQ(s->value, 5.5);
  EXPECT_EQ(s->choice, (std::vector<size_t>{2, 0}));
  EXPECT_EQ(s->cost, 20u);
  EXPECT_LE(s->lower_bound, 5.5);
}

TEST(Knapsack, DominatedOptionsAreNeverChosen) {
  // Option 1 costs more than option 2 and loses more: never worth it.
  std::vector<KnapsackItem> items{{{{10, 5}, {30, 4}, {20, 1}}}};
  auto s = solve_knapsack(items, 30);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->choice[0], 2u);
}

TEST(Knapsack, CoarseUnitsStayWithinBudget) {
  // Force the coarse path with a tiny cell limit; the answer must stay
  // feasible and be no worse than the optimum for budget - n * unit.
  std::mt19937 rng(99);
  for (int trial = 0; trial < 100; ++trial) {
    auto items = random_items(rng, 5, 4);
    const auto [lo, hi] = cost_range(items);
    const uint64_t budget = (lo + hi) / 2;
    KnapsackLimits lim;
    lim.max_cells = 40;
    auto s = solve_knapsack(items, budget, lim);
    ASSERT_TRUE(s);
    EXPECT_LE(s->cost, budget);
    const uint64_t slack = items.size() * s->unit;
    const Brute reduced = brute_force(items, budget > slack ? budget - slack : 0);
    if (std::isfinite(reduced.value)) EXPECT_LE(s->value, reduced.value + 1e-9) << "trial " << trial;
    EXPECT_GE(s->value, brute_force(items, budget).value - 1e-9);
  }
}

TEST(Knapsack, LargeInstanceHitsBudgetClosely) {
  // 150 tensors of varied sizes with convex, ladder-like curves: the exact
  // solution uses the budget to within one cost unit of the smallest step.
  std::mt19937 rng(7);
  std::vector<KnapsackItem> items;
  const double bits[] = {2.0625, 2.5625, 3.4375, 4.5, 5.5, 6.5625, 8.5};
  uint64_t lo = 0, hi = 0;
  for (int i = 0; i < 150; ++i) {
    const uint64_t blocks = 64 * (1 + rng() % 64);  // 256-value blocks
    const double w = 0.1 + (rng() % 1000) / 100.0;
    KnapsackItem it;
    for (double b : bits) it.options.push_back({uint64_t(blocks * 256 * b / 8), w * std::exp2(-2 * b)});
    lo += it.options.front().cost;
    hi += it.options.back().cost;
    items.push_back(it);
  }
  const uint64_t budget = lo + (hi - lo) / 3;
  auto s = solve_knapsack(items, budget);
  ASSERT_TRUE(s);
  EXPECT_LE(s->cost, budget);
  EXPECT_GT(double(s->cost), 0.999 * double(budget));
  EXPECT_LE(s->lower_bound, s->value);
  EXPECT_LT(s->value - s->lower_bound, 0.01 * s->value);
}

}  // namespace
}  // namespace llmq
