#include "mixed/hf_bit_allocation.h"

#include <cmath>
#include <filesystem>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "calibration/imatrix_file.h"
#include "export/gguf/gguf_names.h"
#include "export/hf/layer_linears.h"
#include "export/hf/super_weight_protection.h"
#include "mixed/fast_sensitivity.h"
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

HfBitAllocation allocate_hf_bits(ModelWeights& weights, const ImatrixFile& imatrix, HfQuantFormat format,
                                 const IntQuantizeOptions& quant, double target_bpw, const BitRange& range) {
  if (!(target_bpw > 0)) fail("--target-bpw must be positive");
  HfBitAllocation a;
  a.widths = hf_budget_widths(format, range);
  a.target_bpw = target_bpw;
  std::map<std::string, const NamedTensor*> by_name;
  const std::vector<NamedTensor> all = named_tensors(weights);
  for (const NamedTensor& t : all) by_name[t.name] = &t;
  const IgnoreList ignore(quant.ignore);
  for (const LayerLinear& l : model_linears(weights)) {
    if (ignore.ignored(l.name)) continue;
    HfLinearAllocation la;
    la.name = l.name;
    la.rows = l.weight->rows();
    la.cols = l.weight->cols();
    const float* imp = nullptr;
    if (auto it = by_name.find(l.name); it != by_name.end()) {
      const std::vector<float>* v = imatrix.importance(gguf_tensor_name(*it->second), it->second->expert);
      if (v && int64_t(v->size()) == la.cols) imp = v->data();
    }
    la.has_importance = imp != nullptr;
    for (int b : a.widths) {
      IntQuantizeOptions o = quant;
      o.linear_bits = {{l.name, b}};
      HfWidthOption opt;
      opt.bits = b;
      opt.bytes = quantized_linear_bytes(format, l.name, la.rows, la.cols, o);
      opt.sensitivity = rtn_weighted_error(*l.weight, o.spec_of(l.name), imp);
      la.options.push_back(opt);
    }
    a.n_elements += la.rows * la.cols;
    a.linears.push_back(std::move(la));
  }
  if (a.linears.empty()) fail("no quantizable linear left to allocate (all matched --ignore)");
  a.budget_bytes = uint64_t(std::floor(target_bpw * double(a.n_elements) / 8.0));
  std::vector<KnapsackItem> items;
  uint64_t smallest = 0;
  for (const HfLinearAllocation& l : a.linears) {
    KnapsackItem it;
    for (const HfWidthOption& o : l.options) it.options.push_back({o.bytes, o.sensitivity});
    smallest += l.options.front().bytes;
    items.push_back(std::move(it));
  }
  const auto sol = solve_knapsack(items, a.budget_bytes);
  if (!sol)
    fail("--target-bpw {:g} is below the smallest allocation {} allows: {:.3f} bpw (every linear at {} bits, scales "
         "and zeros included)",
         target_bpw, hf_quant_format_name(format), double(smallest) * 8.0 / double(a.n_elements), a.widths.front());
  for (size_t i = 0; i < a.linears.size(); ++i) a.linears[i].choice = sol->choice[i];
  a.used_bytes = sol->cost;
  a.sensitivity = sol->value;
  a.lower_bound = sol->lower_bound;
  a.exact = sol->exact;
  return a;
}

HfBitAllocation allocate_hf_bits_for_model(const std::string& model_dir, const std::string& imatrix_path,
                                           HfQuantFormat format, const IntQuantizeOptions& quant, double target_bpw,
                                           const BitRange& range) {
  if (imatrix_path.empty())
    fail("--target-bpw for gptq/rtn needs --imatrix FILE (the importance matrix weighs each linear's error)");
  if (!std::filesystem::exists(std::filesystem::path(model_dir) / "config.json"))
    throw file_error(model_dir, "not a Hugging Face model directory (no config.json)");
  const ImatrixFile imatrix(imatrix_path);
  LoadedModel m = load_hf_model(model_dir);
  return allocate_hf_bits(*m.weights, imatrix, format, quant, target_bpw, range);
}

nlohmann::json hf_bit_allocation_json(const HfBitAllocation& a) {
  nlohmann::json linears = nlohmann::json::array();
  for (const HfLinearAllocation& l : a.linears) {
    nlohmann::json opts = nlohmann::json::array();
    for (const HfWidthOption& o : l.options)
      opts.push_back({{"bits", o.bits}, {"bytes", o.bytes}, {"sensitivity", o.sensitivity}});
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
  return {{"target_bpw", a.target_bpw}, {"bpw", a.bpw()},           {"budget_bytes", a.budget_bytes},
          {"used_bytes", a.used_bytes}, {"weights", a.n_elements},  {"widths", a.widths},
          {"linears_per_width", per_width}, {"sensitivity", a.sensitivity}, {"lower_bound", a.lower_bound},
          {"exact", a.exact},           {"linears", linears}};
}

}  // namespace llmq
