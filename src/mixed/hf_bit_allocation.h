#pragma once
// Budget form of per-linear bit widths for the Hugging Face integer formats
// (`quantize MODEL rtn|gptq --format-out F --imatrix I --target-bpw X`):
// every quantizable linear gets one of the widths the format stores, chosen
// by the exact knapsack (knapsack.h) to minimize the summed fast sensitivity
// (importance-weighted relative squared error of RTN at that width and the
// job's group size, the measure of sensitivity.h) while the bytes the
// format's tensors take (packed codes + scales + zeros + g_idx, counted from
// the writer's own tensor shapes) stay within the budget. The budget counts
// the quantizable linears only: bits per weight = their bytes * 8 / their
// weights, so a 4-bit g128 GPTQ linear is about 4.16 bpw, not 4.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "export/hf/hf_quant_format.h"
#include "export/hf/quantized_model.h"
#include "mixed/type_ladder.h"

namespace llmq {

class ImatrixFile;

struct HfWidthOption {
  int bits = 0;
  uint64_t bytes = 0;        // the format's tensors for this linear at this width
  double sensitivity = 0;    // importance-weighted relative error of RTN at this width
};

struct HfLinearAllocation {
  std::string name;          // Hugging Face weight name
  int64_t rows = 0, cols = 0;
  std::vector<HfWidthOption> options;  // ascending bits
  size_t choice = 0;         // index into options
  bool has_importance = false;
  const HfWidthOption& chosen() const { return options[choice]; }
};

struct HfBitAllocation {
  std::vector<HfLinearAllocation> linears;  // model order
  std::vector<int> widths;   // candidates (format widths within the bit range)
  double target_bpw = 0;
  uint64_t budget_bytes = 0; // floor(target_bpw * weights / 8)
  uint64_t used_bytes = 0;
  int64_t n_elements = 0;    // weights of the quantizable linears
  double sensitivity = 0;    // summed over linears
  double lower_bound = 0;    // no allocation within the budget has a smaller sum
  bool exact = true;
  double bpw() const { return n_elements ? double(used_bytes) * 8.0 / double(n_elements) : 0.0; }
  std::map<std::string, int> linear_bits() const;
  std::map<int, int64_t> linears_per_width() const;
};

// Format widths within `range`. Throws llmq::Error naming the format when none is.
std::vector<int> hf_budget_widths(HfQuantFormat format, const BitRange& range);

// sum_ij imp_j (w_ij - q(w)_ij)^2 / sum_ij imp_j w_ij^2 for RTN with `spec`;
// `importance` (one value per column) may be null (all ones).
double rtn_weighted_error(const Tensor& w, const IntQuantSpec& spec, const float* importance);

// `quant`: the job's options (method, group size, symmetry; its spec as
// spec_for_format made it; --ignore'd linears are left out). Throws
// llmq::Error when the budget is below every linear at the smallest width,
// saying what that smallest is.
HfBitAllocation allocate_hf_bits(ModelWeights& weights, const ImatrixFile& imatrix, HfQuantFormat format,
                                 const IntQuantizeOptions& quant, double target_bpw, const BitRange& range);

// Loads the model and the importance matrix (errors name the file).
HfBitAllocation allocate_hf_bits_for_model(const std::string& model_dir, const std::string& imatrix_path,
                                           HfQuantFormat format, const IntQuantizeOptions& quant, double target_bpw,
                                           const BitRange& range);

nlohmann::json hf_bit_allocation_json(const HfBitAllocation& a);

}  // namespace llmq
