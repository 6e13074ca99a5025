#include "mixed/hf_bit_allocation.h"

#include <cmath>
#include <filesystem>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "calibration/imatrix_file.h"
#include "export/gguf/gguf_names.h"
#include "export/hf/checkpoint_size.h"
#include "export/hf/layer_linears.h"
#include "export/hf/super_weight_protection.h"
#include "mixed/fast_sensitivity.h"
#include "mixed/hybrid_sensitivity.h"
#include "mixed/knapsack.h"
#include "model/model_loader.h"
#include "quant/methods/rtn.h"
#include "util/error.h"

namespace llmq {

std::map<std::string, int> HfBitAllocation::linear_bits() const {
  std::map<std::string, int> m;
  for (const HfLinearAllocation& l : linears) m[l.name] = l.chosen().bits;
  return m;
}

std::map<int, int64_t> HfBitAllocation::linears_per_width() const {
  std::map<int, int64_t> m;
  for (const HfLinearAllocation& l : linears) ++m[l.chosen().bits];
  return m;
}

std::vector<int> hf_budget_widths(HfQuantFormat format, const BitRange& range) {
  std::vector<int> out;
  for (int b : format_bit_widths(format))
    if (b >= range.min_bits && b <= range.max_bits) out.push_back(b);
  if (out.empty())
    fail("{} stores {} bits; none lies within --min-bits {:g} .. --max-bits {:g}", hf_quant_format_name(format),
         fmt::join(format_bit_widths(format), ", "), range.min_bits, range.max_bits);
  return out;
}

double rtn_weighted_error(const Tensor& w, const IntQuantSpec& spec, const float* importance) {
  Tensor q = w;
  fake_quantize_rtn(q, spec);
  return weighted_relative_error(w.data.data(), q.data.data(), w.rows(), w.cols(), importance);
}

std::vector<size_t> hf_measured_options(SensitivityMode mode, const HfLinearAllocation& linear) {
  std::vector<size_t> all(linear.options.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  if (mode == SensitivityMode::Accurate) return all;
  if (mode == SensitivityMode::Fast) return {};
  std::vector<double> bpw;
  for (const HfWidthOption& o : linear.options) bpw.push_back(double(o.bytes) * 8.0 / double(linear.rows * linear.cols));
  return hybrid_reference_indices(bpw);
}

namespace {

// The options' values from forward passes: measured at hf_measured_options,
// the others (hybrid) on the power law through the fast values.
void measure_linear(HfLinearAllocation& l, const HfSensitivitySource& source) {
  const std::vector<size_t> refs = hf_measured_options(source.mode, l);
  std::vector<std::pair<double, double>> points;
  for (size_t i : refs) {
    HfWidthOption& o = l.options[i];
    o.sensitivity = source.kl(l.name, l.layer, o.bits);
    o.measured = true;
    points.emplace_back(o.fast, o.sensitivity);
  }
  const PowerLaw law = fit_power_law(points);
  for (HfWidthOption& o : l.options)
    if (!o.measured) o.sensitivity = law.at(o.fast);
}

// The whole checkpoint's bytes with every linear at its chosen width.
uint64_t checkpoint_bytes_of(ModelWeights& weights, HfQuantFormat format, const IntQuantizeOptions& quant,
                             const HfBitAllocation& a, const std::vector<size_t>& choice, uint64_t max_shard_bytes) {
  IntQuantizeOptions o = quant;
  std::set<std::string> names;
  for (size_t i = 0; i < a.linears.size(); ++i) {
    o.linear_bits[a.linears[i].name] = a.linears[i].options[choice[i]].bits;
    names.insert(a.linears[i].name);
  }
  return hf_checkpoint_bytes(weights, format, o, names, max_shard_bytes);
}

uint64_t linear_bytes_of(const HfBitAllocation& a, const std::vector<size_t>& choice) {
  uint64_t n = 0;
  for (size_t i = 0; i < a.linears.size(); ++i) n += a.linears[i].options[choice[i]].bytes;
  return n;
}

}  // namespace

HfBitAllocation allocate_hf_bits(ModelWeights& weights, const ImatrixFile& imatrix, HfQuantFormat format,
                                 const IntQuantizeOptions& quant_in, const HfBudget& budget, const BitRange& range,
                                 const HfSensitivitySource& source) {
  IntQuantizeOptions quant = quant_in;
  quant.spec = spec_for_source(format, quant.spec, weights.source_dtype);  // sizes and errors as the writer stores it
  const bool by_size = budget.target_bytes > 0;
  if (!by_size && !(budget.target_bpw > 0)) fail("--target-bpw must be positive");
  if (source.mode != SensitivityMode::Fast && !source.kl)
    fail("internal error: {} sensitivity without a forward-pass measure", sensitivity_mode_name(source.mode));
  HfBitAllocation a;
  a.widths = hf_budget_widths(format, range);
  a.mode = source.mode;
  a.target_bpw = by_size ? 0.0 : budget.target_bpw;
  a.target_bytes = budget.target_bytes;
  std::map<std::string, const NamedTensor*> by_name;
  const std::vector<NamedTensor> all = named_tensors(weights);
  for (const NamedTensor& t : all) by_name[t.name] = &t;
  const IgnoreList ignore(quant.ignore);
  for (const LayerLinear& l : model_linears(weights)) {
    if (ignore.ignored(l.name)) continue;
    HfLinearAllocation la;
    la.name = l.name;
    la.layer = l.key.layer;
    la.rows = l.weight->rows();
    la.cols = l.weight->cols();
    const float* imp = nullptr;
    if (auto it = by_name.find(l.name); it != by_name.end()) {
      const std::vector<float>* v = imatrix.importance(gguf_tensor_name(*it->second), it->second->expert);
      if (v && int64_t(v->size()) == la.cols) imp = v->data();
    }
    la.has_importance = imp != nullptr;
    Tensor dense = *l.weight;  // one linear at a time in fp32 (the model may be lazy)
    dense.materialize();
    for (int b : a.widths) {
      IntQuantizeOptions o = quant;
      o.linear_bits = {{l.name, b}};
      HfWidthOption opt;
      opt.bits = b;
      opt.bytes = quantized_linear_bytes(format, l.name, la.rows, la.cols, o);
      opt.fast = rtn_weighted_error(dense, o.spec_of(l.name), imp);
      opt.sensitivity = opt.fast;
      la.options.push_back(opt);
    }
    a.n_elements += la.rows * la.cols;
    a.linears.push_back(std::move(la));
  }
  if (a.linears.empty()) fail("no quantizable linear left to allocate (all matched --ignore)");

  std::vector<size_t> lowest(a.linears.size(), 0), highest(a.linears.size(), a.widths.size() - 1);
  uint64_t smallest = linear_bytes_of(a, lowest);
  if (by_size) {
    // What is not a quantized linear: measured with every linear at its widest
    // width, whose headers (larger shapes and offsets) are the longest.
    const uint64_t smallest_file = checkpoint_bytes_of(weights, format, quant, a, lowest, budget.max_shard_bytes);
    if (budget.target_bytes < smallest_file)
      fail("--target-size {} bytes is below the smallest {} checkpoint of this model: {} bytes ({:.2f} MiB: every "
           "linear at {} bits, scales and zeros included, plus {} bytes kept in floating point and headers)",
           budget.target_bytes, hf_quant_format_name(format), smallest_file, double(smallest_file) / 1048576.0,
           a.widths.front(), smallest_file - smallest);
    a.fixed_bytes = checkpoint_bytes_of(weights, format, quant, a, highest, budget.max_shard_bytes) -
                    linear_bytes_of(a, highest);
    a.budget_bytes = budget.target_bytes > a.fixed_bytes ? std::max(budget.target_bytes - a.fixed_bytes, smallest) : smallest;
  } else {
    a.budget_bytes = uint64_t(std::floor(budget.target_bpw * double(a.n_elements) / 8.0));
    if (a.budget_bytes < smallest)
      fail("--target-bpw {:g} is below the smallest allocation {} allows: {:.3f} bpw (every linear at {} bits, scales "
           "and zeros included)",
           budget.target_bpw, hf_quant_format_name(format), double(smallest) * 8.0 / double(a.n_elements), a.widths.front());
  }

  if (source.mode != SensitivityMode::Fast)
    for (size_t i = 0; i < a.linears.size(); ++i) {
      measure_linear(a.linears[i], source);
      if (source.progress) source.progress(i + 1, a.linears.size(), a.linears[i].name);
    }

  std::vector<KnapsackItem> items;
  for (const HfLinearAllocation& l : a.linears) {
    KnapsackItem it;
    for (const HfWidthOption& o : l.options) it.options.push_back({o.bytes, o.sensitivity});
    items.push_back(std::move(it));
  }
  std::optional<KnapsackSolution> sol = solve_knapsack(items, a.budget_bytes);
  // By size the headers' exact length is known once the widths are: should the
  // file come out above the target (not seen: the fixed part is counted at
  // its longest), the linears give back the excess and the knapsack reruns.
  for (int round = 0; by_size && sol; ++round) {
    a.checkpoint_bytes = checkpoint_bytes_of(weights, format, quant, a, sol->choice, budget.max_shard_bytes);
    if (a.checkpoint_bytes <= budget.target_bytes) break;
    if (round == 8) fail("internal error: --target-size allocation does not converge below {} bytes", budget.target_bytes);
    a.budget_bytes -= std::min(a.budget_bytes, a.checkpoint_bytes - budget.target_bytes);
    sol = solve_knapsack(items, a.budget_bytes);
  }
  if (!sol) fail("internal error: no allocation within {} bytes for the linears", a.budget_bytes);
  for (size_t i = 0; i < a.linears.size(); ++i) a.linears[i].choice = sol->choice[i];
  a.used_bytes = sol->cost;
  a.sensitivity = sol->value;
  a.lower_bound = sol->lower_bound;
  a.exact = sol->exact;
  return a;
}

nlohmann::json hf_bit_allocation_json(const HfBitAllocation& a) {
  nlohmann::json linears = nlohmann::json::array();
  for (const HfLinearAllocation& l : a.linears) {
    nlohmann::json opts = nlohmann::json::array();
    for (const HfWidthOption& o : l.options)
      opts.push_back({{"bits", o.bits}, {"bytes", o.bytes}, {"sensitivity", o.sensitivity}, {"fast", o.fast},
                      {"measured", o.measured}});
    linears.push_back({{"name", l.name},
                       {"shape", {l.rows, l.cols}},
                       {"bits", l.chosen().bits},
                       {"bytes", l.chosen().bytes},
                       {"bpw", double(l.chosen().bytes) * 8.0 / double(l.rows * l.cols)},
                       {"sensitivity", l.chosen().sensitivity},
                       {"imatrix", l.has_importance},
                       {"options", opts}});
  }
  nlohmann::json per_width = nlohmann::json::object();
  for (const auto& [b, n] : a.linears_per_width()) per_width[std::to_string(b)] = n;
  nlohmann::json j = {{"target_bpw", a.target_bpw}, {"bpw", a.bpw()},           {"budget_bytes", a.budget_bytes},
          {"used_bytes", a.used_bytes}, {"weights", a.n_elements},  {"widths", a.widths},
          {"linears_per_width", per_width}, {"sensitivity", a.sensitivity}, {"lower_bound", a.lower_bound},
          {"exact", a.exact},           {"sensitivity_mode", sensitivity_mode_name(a.mode)}, {"linears", linears}};
  if (a.mode != SensitivityMode::Fast)
    j["sensitivity_run"] = {{"measured", a.measured}, {"reused", a.reused}, {"seconds", a.measure_seconds},
                            {"cache", a.cache}, {"cache_note", a.cache_note}};
  if (a.target_bytes > 0) {
    j["target_bytes"] = a.target_bytes;
    j["fixed_bytes"] = a.fixed_bytes;
    j["checkpoint_bytes"] = a.checkpoint_bytes;
  }
  return j;
}

}  // namespace llmq
