#include "mixed/bit_allocation.h"

#include <cmath>

#include <fmt/format.h>

#include "io/gguf/gguf_format.h"
#include "mixed/knapsack.h"
#include "util/error.h"
#include "util/user_regex.h"

namespace llmq {

namespace {

using ggml::GgmlType;

bool fits(const GgufTensorSpec& s, GgmlType t) { return s.row_length() % ggml::block_size(t) == 0; }

std::string range_string(const BitRange& r) {
  return fmt::format("{:g}..{}", r.min_bits, r.max_bits >= 1e8 ? std::string("any") : fmt::format("{:g}", r.max_bits));
}

}  // namespace

std::string Budget::describe() const {
  if (kind == Kind::BitsPerWeight) return fmt::format("{:.3f} bpw", bpw);
  return fmt::format("{} bytes ({:.3f} GB)", file_bytes, double(file_bytes) / 1e9);
}

std::vector<TensorCandidates> plan_candidates(const TensorCatalog& catalog, const AllocationOptions& opt) {
  std::vector<std::pair<UserRegex, const TypeRule*>> rules;
  for (const TypeRule& r : opt.rules) {
    try {
      rules.emplace_back(UserRegex(r.pattern), &r);
    } catch (const Error& e) {
      fail("type rule: {}", e.what());
    }
  }
  const std::vector<GgmlType> ladder = opt.ladder.empty() ? default_type_ladder() : opt.ladder;
  std::vector<TensorCandidates> out;
  for (const CatalogTensor& t : catalog.tensors()) {
    TensorCandidates c;
    c.name = t.spec.name;
    auto fix = [&](GgmlType type, std::string why) {
      if (!fits(t.spec, type))
        fail("tensor {} ({}): rows of {} values cannot be stored as {} (blocks of {})", t.spec.name, why,
             t.spec.row_length(), ggml::type_name(type), ggml::block_size(type));
      c.fixed = true;
      c.fixed_type = type;
      c.reason = std::move(why);
    };
    if (!t.quantizable) {
      c.fixed = true;
      c.fixed_type = t.fixed_type;
      c.reason = "not quantized";
    } else if (auto p = opt.pinned.find(t.spec.name); p != opt.pinned.end()) {
      fix(p->second.first, p->second.second);
    } else {
      BitRange range = opt.bits;
      const TypeRule* rule = nullptr;
      for (const auto& [re, r] : rules)
        if (re.search(t.spec.name)) {
          rule = r;
          break;
        }
      if (rule && rule->type) {
        fix(*rule->type, fmt::format("rule '{}'", rule->pattern));
      } else {
        if (rule) range = range.intersect(rule->bits);
        if (t.spec.is_stacked() && opt.dynamic_experts) range = range.intersect(opt.expert_bits);
        c.types = fitting_types(ladder, t.spec.row_length(), range);
        if (c.types.empty())
          fail("tensor {}: no candidate type: none of the ladder ({}) stores rows of {} values within bit classes {}{}",
               t.spec.name, type_list_string(ladder), t.spec.row_length(), range_string(range),
               rule ? fmt::format(" (rule '{}')", rule->pattern) : std::string());
      }
    }
    out.push_back(std::move(c));
  }
  return out;
}

std::optional<double> allocation_sensitivity(const SensitivityTable& table, const TensorCatalog& catalog,
                                             const AllocationOptions& opt, const std::string& name, GgmlType type) {
  const TypeSensitivity* s = table.find(name, type);
  if (!s) return std::nullopt;
  if (opt.dynamic_experts && !s->experts.empty()) {
    const CatalogTensor* t = catalog.find(name);
    auto it = t ? opt.routing.find(t->spec.layer) : opt.routing.end();
    if (it != opt.routing.end() && it->second.size() == s->experts.size()) {
      double total = 0, v = 0;
      for (size_t e = 0; e < it->second.size(); ++e) {
        total += double(it->second[e]);
        v += double(it->second[e]) * s->experts[e];
      }
      if (total > 0) return v / total;
    }
  }
  return s->value;
}

namespace {

// The budget in the metric it is counted in: data bytes (bits per weight),
// or file bytes (each tensor padded to the alignment, plus the header).
struct BudgetMetric {
  bool file = false;
  uint64_t target = 0, base = 0;  // base: what the metric counts besides tensor data
  int64_t n_elements = 0;
  BudgetMetric(const TensorCatalog& catalog, const Budget& b)
      : file(b.kind == Budget::Kind::FileBytes),
        target(file ? b.file_bytes : uint64_t(std::floor(b.bpw * double(catalog.n_elements()) / 8.0))),
        base(file ? catalog.header_bytes() : 0),
        n_elements(catalog.n_elements()) {}
  uint64_t operator()(uint64_t bytes) const { return file ? gguf::align_up(bytes, TensorCatalog::kAlignment) : bytes; }
  std::string in_units(uint64_t b) const {
    return file ? fmt::format("{} bytes", b) : fmt::format("{:.3f} bpw", double(b) * 8.0 / double(n_elements));
  }
  void require(uint64_t smallest, const Budget& b) const {
    if (smallest > target)
      fail("target {} is below the smallest mixture the candidate types allow ({}); lower --min-bits, widen the "
           "ladder or raise the target",
           b.describe(), in_units(smallest));
  }
};

}  // namespace

void check_budget(const TensorCatalog& catalog, const std::vector<TensorCandidates>& candidates, const Budget& budget) {
  const BudgetMetric metric(catalog, budget);
  uint64_t smallest = metric.base;
  for (size_t i = 0; i < candidates.size(); ++i) {
    const GgufTensorSpec& s = catalog.tensors()[i].spec;
    if (candidates[i].fixed) {
      smallest += metric(tensor_data_bytes(s, candidates[i].fixed_type));
      continue;
    }
    uint64_t lo = UINT64_MAX;
    for (GgmlType t : candidates[i].types) lo = std::min(lo, metric(tensor_data_bytes(s, t)));
    smallest += lo;
  }
  metric.require(smallest, budget);
}

AllocationResult allocate_types(const TensorCatalog& catalog, const std::vector<TensorCandidates>& candidates,
                                const SensitivityTable& table, const AllocationOptions& opt) {
  const BudgetMetric metric(catalog, opt.budget);
  const auto& tensors = catalog.tensors();
  if (candidates.size() != tensors.size()) fail("internal error: candidates do not match the model's tensors");

  AllocationResult r;
  r.budget = opt.budget;
  r.n_elements = catalog.n_elements();
  r.target_bytes = metric.target;
  uint64_t fixed = metric.base;
  std::vector<KnapsackItem> items;
  std::vector<std::vector<GgmlType>> item_types;
  std::vector<size_t> item_of(tensors.size(), SIZE_MAX);
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorCandidates& c = candidates[i];
    if (c.fixed) {
      fixed += metric(tensor_data_bytes(tensors[i].spec, c.fixed_type));
      continue;
    }
    KnapsackItem item;
    std::vector<GgmlType> types;
    for (GgmlType t : c.types)
      if (auto v = allocation_sensitivity(table, catalog, opt, c.name, t)) {
        item.options.push_back({metric(tensor_data_bytes(tensors[i].spec, t)), *v});
        types.push_back(t);
      }
    if (item.options.empty()) {
      std::string why;
      if (auto it = table.refused.find(c.name); it != table.refused.end() && !it->second.empty())
        why = ": " + it->second.begin()->second;
      fail("tensor {}: none of its candidate types ({}) could be measured{}", c.name, type_list_string(c.types), why);
    }
    item_of[i] = items.size();
    items.push_back(std::move(item));
    item_types.push_back(std::move(types));
  }

  uint64_t smallest = fixed, largest = fixed;
  for (const KnapsackItem& it : items) {
    uint64_t lo = UINT64_MAX, hi = 0;
    for (const KnapsackOption& o : it.options) lo = std::min(lo, o.cost), hi = std::max(hi, o.cost);
    smallest += lo;
    largest += hi;
  }
  metric.require(smallest, opt.budget);
  std::optional<KnapsackSolution> sol = solve_knapsack(items, r.target_bytes - fixed);
  if (!sol) fail("internal error: no allocation within {}", opt.budget.describe());

  r.sensitivity = sol->value;
  r.lower_bound = sol->lower_bound;
  r.exact = sol->exact;
  r.used_bytes = fixed + sol->cost;
  r.saturated = largest <= r.target_bytes;
  r.file_bytes = catalog.header_bytes();
  for (size_t i = 0; i < tensors.size(); ++i) {
    TensorAllocation a;
    a.name = tensors[i].spec.name;
    a.n_elements = tensors[i].spec.n_elements();
    if (item_of[i] == SIZE_MAX) {
      a.type = candidates[i].fixed_type;
      a.reason = candidates[i].reason;
    } else {
      const size_t k = sol->choice[item_of[i]];
      a.type = item_types[item_of[i]][k];
      a.allocated = true;
      a.sensitivity = items[item_of[i]].options[k].value;
    }
    a.bytes = tensor_data_bytes(tensors[i].spec, a.type);
    r.tensor_bytes += a.bytes;
    r.file_bytes += gguf::align_up(a.bytes, TensorCatalog::kAlignment);
    r.tensors.push_back(std::move(a));
  }
  return r;
}

AllocationResult describe_allocation(const TensorCatalog& catalog, const std::map<std::string, GgmlType>& types,
                                     const std::string& reason) {
  AllocationResult r;
  r.n_elements = catalog.n_elements();
  r.file_bytes = catalog.header_bytes();
  for (const CatalogTensor& t : catalog.tensors()) {
    TensorAllocation a;
    a.name = t.spec.name;
    a.n_elements = t.spec.n_elements();
    a.type = t.fixed_type;
    a.reason = "not quantized";
    if (t.quantizable) {
      auto it = types.find(t.spec.name);
      if (it == types.end()) fail("no type given for tensor {}", t.spec.name);
      if (!fits(t.spec, it->second))
        fail("tensor {}: rows of {} values cannot be stored as {}", t.spec.name, t.spec.row_length(),
             ggml::type_name(it->second));
      a.type = it->second;
      a.reason = reason;
    }
    a.bytes = tensor_data_bytes(t.spec, a.type);
    r.tensor_bytes += a.bytes;
    r.file_bytes += gguf::align_up(a.bytes, TensorCatalog::kAlignment);
    r.tensors.push_back(std::move(a));
  }
  r.used_bytes = r.file_bytes;
  r.target_bytes = r.file_bytes;
  r.budget = {Budget::Kind::FileBytes, 0, r.file_bytes};
  return r;
}

}  // namespace llmq
