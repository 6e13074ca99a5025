#pragma once
// Exact multiple-choice knapsack: pick one option (a ggml type) per item (a
// tensor) so that the summed value (sensitivity: quality lost) is smallest
// while the summed cost (bytes) stays within the budget.
//
//   minimize  sum_i value[i][x_i]   subject to   sum_i cost[i][x_i] <= budget
//
// How it is solved, and why the answer is optimal:
//  1. Dominated options are dropped (another option of the item costs no
//     more and loses no more quality). Swapping a dominated option for its
//     dominator never raises cost or value, so some optimum avoids them.
//  2. Lagrangian relaxation over each item's lower convex hull of
//     (cost, value): for any lambda >= 0, sum_i min_j (v_ij + lambda c_ij)
//     - lambda B is a lower bound on the optimum (weak duality); its maximum
//     over lambda equals the LP relaxation, which the greedy walk over hull
//     segments by decreasing slope reaches (Sinha & Zoltners 1979). That
//     walk also gives a feasible integer solution (the segments that fit).
//     The bound certifies the gap of whatever solution is returned.
//  3. The exact step: dynamic programming over the bytes above every item's
//     cheapest option, counted in units of u = gcd of those extra costs.
//     Every extra cost is then a whole number of units, so
//     sum c' <= B'  <=>  sum c'/u <= floor(B'/u): the DP's constraint is the
//     true one. The DP keeps, for each prefix of items and each total cost,
//     the least value reaching it; an optimal solution restricted to a
//     prefix is optimal for that prefix's cost (the objective and the
//     constraint are both sums), so the table holds the optimum (Bellman).
//     Among solutions of equal value the one spending more bytes is kept.
//  4. If the exact table would exceed `max_cells`, the unit is coarsened to a
//     multiple of u and costs are rounded UP to it: every solution the DP
//     accepts is still within the budget (never above), and it is optimal for
//     the rounded costs, i.e. at least as good as the true optimum for the
//     budget B - n*u. The result then says exact = false, and the better of
//     the DP solution and the greedy-filled Lagrangian solution is returned.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace llmq {

struct KnapsackOption {
  uint64_t cost = 0;  // bytes
  double value = 0;   // quality lost (lower is better)
};

struct KnapsackItem {
  std::vector<KnapsackOption> options;  // at least one
};

struct KnapsackLimits {
  // Largest DP table (items x cost units) solved at the exact resolution.
  uint64_t max_cells = uint64_t(1) << 27;
};

struct KnapsackSolution {
  std::vector<size_t> choice;  // per item, an index into its options
  uint64_t cost = 0;
  double value = 0;
  double lower_bound = 0;  // Lagrangian / LP bound: no solution within the budget has a smaller value
  bool exact = true;       // true: `value` is the optimum (DP at the exact resolution)
  uint64_t unit = 1;       // cost resolution of the DP, bytes
};

// std::nullopt when even the cheapest option of every item exceeds the
// budget. Throws llmq::Error for an item without options.
std::optional<KnapsackSolution> solve_knapsack(const std::vector<KnapsackItem>& items, uint64_t budget,
                                               const KnapsackLimits& limits = {});

// The Lagrangian part alone (steps 1-2 plus a greedy fill of the leftover
// budget): a feasible solution and the lower bound. Exposed for tests and
// for reports.
std::optional<KnapsackSolution> solve_knapsack_lagrangian(const std::vector<KnapsackItem>& items, uint64_t budget);

}  // namespace llmq
