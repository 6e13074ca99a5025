#include "mixed/knapsack.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "util/error.h"

namespace llmq {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

struct Point {
  uint64_t cost;
  double value;
  size_t index;  // into the item's options
};

// Step 1: the non-dominated options, cost strictly increasing and value
// strictly decreasing.
std::vector<Point> pareto_front(const KnapsackItem& item) {
  if (item.options.empty()) fail("knapsack item without options");
  std::vector<Point> p;
  for (size_t i = 0; i < item.options.size(); ++i) p.push_back({item.options[i].cost, item.options[i].value, i});
  std::sort(p.begin(), p.end(), [](const Point& a, const Point& b) {
    if (a.cost != b.cost) return a.cost < b.cost;
    if (a.value != b.value) return a.value < b.value;
    return a.index < b.index;
  });
  std::vector<Point> out;
  for (const Point& q : p)
    if (out.empty() || q.value < out.back().value) out.push_back(q);
  return out;
}

// Value saved per extra byte going from a to b (b costs more).
double efficiency(const Point& a, const Point& b) { return (a.value - b.value) / double(b.cost - a.cost); }

// Step 2's hull: the Pareto points on the lower convex hull, so that the
// efficiency of consecutive segments strictly decreases.
std::vector<Point> lower_hull(const std::vector<Point>& front) {
  std::vector<Point> h;
  for (const Point& q : front) {
    while (h.size() >= 2 && efficiency(h[h.size() - 2], h.back()) <= efficiency(h.back(), q)) h.pop_back();
    h.push_back(q);
  }
  return h;
}

KnapsackSolution evaluate(const std::vector<KnapsackItem>& items, std::vector<size_t> choice) {
  KnapsackSolution s;
  for (size_t i = 0; i < items.size(); ++i) {
    s.cost += items[i].options[choice[i]].cost;
    s.value += items[i].options[choice[i]].value;
  }
  s.choice = std::move(choice);
  return s;
}

bool better(const KnapsackSolution& a, const KnapsackSolution& b) {
  if (a.value != b.value) return a.value < b.value;
  return a.cost > b.cost;  // equal loss: the one that uses the budget
}

}  // namespace

std::optional<KnapsackSolution> solve_knapsack_lagrangian(const std::vector<KnapsackItem>& items, uint64_t budget) {
  const size_t n = items.size();
  std::vector<std::vector<Point>> fronts(n), hulls(n);
  uint64_t cost = 0;
  double value = 0;
  for (size_t i = 0; i < n; ++i) {
    fronts[i] = pareto_front(items[i]);
    hulls[i] = lower_hull(fronts[i]);
    cost += hulls[i][0].cost;
    value += hulls[i][0].value;
  }
  if (cost > budget) return std::nullopt;

  struct Segment {
    double eff;
    size_t item, to;  // hull index reached by taking it
  };
  std::vector<Segment> segs;
  for (size_t i = 0; i < n; ++i)
    for (size_t k = 1; k < hulls[i].size(); ++k) segs.push_back({efficiency(hulls[i][k - 1], hulls[i][k]), i, k});
  std::stable_sort(segs.begin(), segs.end(), [](const Segment& a, const Segment& b) { return a.eff > b.eff; });

  // Greedy walk by decreasing efficiency. The first segment that does not
  // fit fixes the LP bound (its fraction fills the budget exactly); later
  // segments of other items that still fit are taken (integer fill).
  std::vector<size_t> pos(n, 0);
  std::vector<bool> blocked(n, false);
  std::optional<double> bound;
  for (const Segment& s : segs) {
    if (blocked[s.item] || pos[s.item] + 1 != s.to) continue;
    const Point& a = hulls[s.item][s.to - 1];
    const Point& b = hulls[s.item][s.to];
    const uint64_t extra = b.cost - a.cost;
    if (cost + extra <= budget) {
      cost += extra;
      value -= a.value - b.value;
      pos[s.item] = s.to;
      continue;
    }
    if (!bound) bound = value - s.eff * double(budget - cost);
    blocked[s.item] = true;
  }
  const double lower_bound = bound ? *bound : value;

  // Fill what is left with any non-dominated option (hull or not) that fits,
  // the largest saving first.
  std::vector<Point> current(n);
  for (size_t i = 0; i < n; ++i) current[i] = hulls[i][pos[i]];
  for (;;) {
    double best_gain = 0;
    size_t best_i = n;
    Point best{};
    for (size_t i = 0; i < n; ++i)
      for (const Point& q : fronts[i])
        if (q.cost > current[i].cost && q.cost - current[i].cost <= budget - cost &&
            current[i].value - q.value > best_gain) {
          best_gain = current[i].value - q.value;
          best_i = i;
          best = q;
        }
    if (best_i == n) break;
    cost += best.cost - current[best_i].cost;
    current[best_i] = best;
  }
  std::vector<size_t> choice(n);
  for (size_t i = 0; i < n; ++i) choice[i] = current[i].index;
  KnapsackSolution sol = evaluate(items, std::move(choice));
  sol.lower_bound = std::min(lower_bound, sol.value);
  sol.exact = false;
  sol.unit = 1;
  return sol;
}

std::optional<KnapsackSolution> solve_knapsack(const std::vector<KnapsackItem>& items, uint64_t budget,
                                               const KnapsackLimits& limits) {
  std::optional<KnapsackSolution> lagrangian = solve_knapsack_lagrangian(items, budget);
  if (!lagrangian) return std::nullopt;
  const size_t n = items.size();
  if (n == 0) return lagrangian;

  // Step 3: DP over the bytes above each item's cheapest option.
  std::vector<std::vector<Point>> fronts(n);
  uint64_t base = 0;
  for (size_t i = 0; i < n; ++i) {
    fronts[i] = pareto_front(items[i]);
    base += fronts[i][0].cost;
  }
  const uint64_t room = budget - base;
  uint64_t unit = 0;
  for (const auto& f : fronts)
    for (const Point& q : f)
      if (q.cost - f[0].cost <= room) unit = std::gcd(unit, q.cost - f[0].cost);
  if (unit == 0) unit = 1;  // nothing above the cheapest options fits: a single state
  bool exact = true;
  uint64_t states = room / unit + 1;
  if (uint64_t(n) * states > limits.max_cells) {  // step 4: coarser units, costs rounded up
    const uint64_t factor = (uint64_t(n) * states + limits.max_cells - 1) / limits.max_cells;
    unit *= factor;
    states = room / unit + 1;
    exact = false;
  }
  const size_t R = size_t(states - 1);

  // Per item: options that fit, as (units above the cheapest, value, index).
  struct Step {
    size_t units;
    double value;
    size_t index;
  };
  std::vector<std::vector<Step>> steps(n);
  for (size_t i = 0; i < n; ++i)
    for (const Point& q : fronts[i]) {
      const uint64_t extra = q.cost - fronts[i][0].cost;
      const uint64_t u = (extra + unit - 1) / unit;  // exact when unit divides extra
      if (u <= R) steps[i].push_back({size_t(u), q.value, q.index});
    }
  for (const auto& st : steps)
    if (st.size() > 256) fail("knapsack item with {} non-dominated options (at most 256)", st.size());

  // best[r]: least value of the items so far with exactly r units spent.
  std::vector<double> best(R + 1, kInf), next(R + 1);
  best[0] = 0;
  std::vector<uint8_t> pick(n * (R + 1));
  for (size_t i = 0; i < n; ++i) {
    const std::vector<Step>& st = steps[i];
    uint8_t* pk = pick.data() + i * (R + 1);
#pragma omp parallel for schedule(static) if (R > 4096)
    for (size_t r = 0; r <= R; ++r) {
      double v = kInf;
      uint8_t k_best = 0;
      for (size_t k = 0; k < st.size(); ++k) {
        if (st[k].units > r) break;  // steps are in increasing cost
        const double cand = best[r - st[k].units] + st[k].value;
        if (cand < v) {
          v = cand;
          k_best = uint8_t(k);
        }
      }
      next[r] = v;
      pk[r] = k_best;
    }
    best.swap(next);
  }
  // The least value; among equal values the larger spend.
  size_t r_best = 0;
  for (size_t r = 1; r <= R; ++r)
    if (best[r] < kInf && (best[r] < best[r_best] || (best[r] == best[r_best]))) r_best = r;
  std::vector<size_t> choice(n);
  size_t r = r_best;
  for (size_t i = n; i-- > 0;) {
    const Step& s = steps[i][pick[i * (R + 1) + r]];
    choice[i] = s.index;
    r -= s.units;
  }
  KnapsackSolution dp = evaluate(items, std::move(choice));
  dp.exact = exact;
  dp.unit = unit;
  dp.lower_bound = lagrangian->lower_bound;
  if (dp.cost > budget) fail("internal error: knapsack solution of {} bytes exceeds the budget of {}", dp.cost, budget);
  if (!exact && better(*lagrangian, dp)) {
    lagrangian->unit = unit;
    return lagrangian;
  }
  return dp;
}

}  // namespace llmq
