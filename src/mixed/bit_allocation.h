#pragma once
// Dynamic mixed precision's decision: one ggml type per tensor of the GGUF
// file, minimizing the summed sensitivity (sensitivity.h) within a budget
// given in bits per weight (over every tensor of the file, as the exporter
// reports it) or in file bytes (header and alignment padding included), via
// the exact knapsack of knapsack.h. The result never exceeds the budget.
#include <cstdint>
#include <map>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "mixed/sensitivity.h"
#include "mixed/tensor_catalog.h"
#include "mixed/type_ladder.h"

namespace llmq {

struct TypeRule {
  std::string pattern;                  // ECMAScript regex searched in the GGUF name; first matching rule wins
  std::optional<ggml::GgmlType> type;   // a fixed type, or ...
  BitRange bits;                        // ... bounds on the bit class of the candidates
};

struct Budget {
  enum class Kind { BitsPerWeight, FileBytes } kind = Kind::BitsPerWeight;
  double bpw = 0;
  uint64_t file_bytes = 0;
  std::string describe() const;  // "3.50 bpw" / "3000000000 bytes (2.79 GiB)"
};

struct AllocationOptions {
  Budget budget;
  std::vector<ggml::GgmlType> ladder;   // candidate types; default_type_ladder() when empty
  BitRange bits;                        // --min-bits / --max-bits
  std::vector<TypeRule> rules;
  // Exact GGUF names kept at a given type whatever the budget (super-weight
  // protection), with the reason shown in reports.
  std::map<std::string, std::pair<ggml::GgmlType, std::string>> pinned;
  // --dynamic-experts: stacked expert tensors get candidates within
  // `expert_bits`, and their fast-mode sensitivity weights each expert by its
  // share of the layer's routed tokens (`routing`: layer -> tokens per expert).
  bool dynamic_experts = false;
  BitRange expert_bits{2, 8};
  std::map<int, std::vector<int64_t>> routing;
};

// What each tensor may become, before anything is measured.
struct TensorCandidates {
  std::string name;
  bool fixed = false;                    // not allocated: stored as fixed_type
  ggml::GgmlType fixed_type = ggml::GgmlType::F32;
  std::string reason;                    // why fixed ("not quantized", "rule ...", "super weight ...")
  std::vector<ggml::GgmlType> types;     // candidates, when not fixed
};

// Throws llmq::Error for a bad rule pattern, or a tensor left without any
// candidate (naming it, its row length and the bounds).
std::vector<TensorCandidates> plan_candidates(const TensorCatalog& catalog, const AllocationOptions& opt);

struct TensorAllocation {
  std::string name;
  ggml::GgmlType type = ggml::GgmlType::F32;
  uint64_t bytes = 0;          // data bytes
  int64_t n_elements = 0;
  bool allocated = false;      // chosen by the solver (false: fixed)
  double sensitivity = 0;      // of the chosen type (allocated tensors)
  std::string reason;          // fixed tensors: why
  double bpw() const { return n_elements ? double(bytes) * 8.0 / double(n_elements) : 0.0; }
};

struct AllocationResult {
  std::vector<TensorAllocation> tensors;  // file order
  Budget budget;
  uint64_t target_bytes = 0;   // the budget in the metric it is given in (tensor bytes or file bytes)
  uint64_t used_bytes = 0;     // ... what the allocation uses in that metric
  uint64_t tensor_bytes = 0;   // sum of data bytes
  uint64_t file_bytes = 0;     // predicted size of the GGUF file
  int64_t n_elements = 0;
  double sensitivity = 0;      // summed over allocated tensors
  double lower_bound = 0;      // no allocation within the budget has a smaller sum
  bool exact = true;           // the solver proved optimality
  bool saturated = false;      // every allocated tensor is at its largest candidate
  double bpw() const { return n_elements ? double(tensor_bytes) * 8.0 / double(n_elements) : 0.0; }
  double budget_use() const { return target_bytes ? double(used_bytes) / double(target_bytes) : 0.0; }
};

// Sensitivity of `name` in `type` as the allocation counts it (routing-weighted
// for stacked experts under dynamic_experts); nullopt when not measured.
std::optional<double> allocation_sensitivity(const SensitivityTable& table, const TensorCatalog& catalog,
                                             const AllocationOptions& opt, const std::string& name,
                                             ggml::GgmlType type);

// Throws llmq::Error when the budget is below the smallest mixture the
// candidates allow, saying how small that is (checked before anything is
// measured, and again by allocate_types).
void check_budget(const TensorCatalog& catalog, const std::vector<TensorCandidates>& candidates, const Budget& budget);

AllocationResult allocate_types(const TensorCatalog& catalog, const std::vector<TensorCandidates>& candidates,
                                const SensitivityTable& table, const AllocationOptions& opt);

// The report of a given assignment (a resolved profile): every quantized
// tensor must have a type in `types`. Throws llmq::Error naming what is
// missing or does not fit.
AllocationResult describe_allocation(const TensorCatalog& catalog, const std::map<std::string, ggml::GgmlType>& types,
                                     const std::string& reason);

}  // namespace llmq
