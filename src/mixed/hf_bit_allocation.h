#pragma once
// Budget form of per-linear bit widths for the Hugging Face integer formats
// (`quantize MODEL rtn|gptq --format-out F --imatrix I --target-bpw X` or
// `--target-size S`): every quantizable linear gets one of the widths the
// format stores, chosen by the exact knapsack (knapsack.h) to minimize the
// summed sensitivity while the bytes the format's tensors take (packed codes
// + scales + zeros + g_idx, counted from the writer's own tensor shapes) stay
// within the budget.
//
// Sensitivity of a linear at a width, as in sensitivity.h:
//   fast      importance-weighted relative squared error of RTN at that
//             width and the job's group size;
//   accurate  KL of the logits with that linear alone RTN-quantized at that
//             width (a forward pass per linear and width, kld_sensitivity.h);
//   hybrid    KL at two reference widths, the others on the power law
//             through the fast values (hybrid_sensitivity.h).
//
// --target-bpw counts the quantizable linears only: bits per weight = their
// bytes * 8 / their weights, so a 4-bit g128 GPTQ linear is about 4.16 bpw.
// --target-size counts the whole checkpoint's safetensors files: what stays
// in floating point (embeddings, norms, lm_head, --ignore'd linears) and the
// headers are subtracted and the rest goes to the linears.
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "export/hf/hf_quant_format.h"
#include "export/hf/quantized_model.h"
#include "export/hf/safetensors_shards.h"
#include "mixed/sensitivity.h"
#include "mixed/type_ladder.h"

namespace llmq {

class ImatrixFile;

struct HfWidthOption {
  int bits = 0;
  uint64_t bytes = 0;        // the format's tensors for this linear at this width
  double fast = 0;           // importance-weighted relative error of RTN at this width
  double sensitivity = 0;    // what the knapsack minimizes: fast, measured KL, or KL on the hybrid curve
  bool measured = false;     // KL measured by a forward pass at this width
};

struct HfLinearAllocation {
  std::string name;          // Hugging Face weight name
  int layer = 0;             // decoder layer
  int64_t rows = 0, cols = 0;
  std::vector<HfWidthOption> options;  // ascending bits
  size_t choice = 0;         // index into options
  bool has_importance = false;
  const HfWidthOption& chosen() const { return options[choice]; }
};

struct HfBitAllocation {
  std::vector<HfLinearAllocation> linears;  // model order
  std::vector<int> widths;   // candidates (format widths within the bit range)
  SensitivityMode mode = SensitivityMode::Fast;
  double target_bpw = 0;     // --target-bpw (0: by size)
  uint64_t target_bytes = 0; // --target-size: the whole checkpoint (0: by bpw)
  uint64_t fixed_bytes = 0;  // --target-size: checkpoint bytes besides the quantized linears (float tensors, headers)
  uint64_t checkpoint_bytes = 0;  // --target-size: the safetensors files of this allocation, exactly
  uint64_t budget_bytes = 0; // the linears' budget: floor(target_bpw * weights / 8), or what the size leaves them
  uint64_t used_bytes = 0;   // the linears' bytes
  int64_t n_elements = 0;    // weights of the quantizable linears
  double sensitivity = 0;    // summed over linears
  double lower_bound = 0;    // no allocation within the budget has a smaller sum
  bool exact = true;
  int64_t measured = 0, reused = 0;  // forward passes run / taken from the cache
  double measure_seconds = 0;  // sensitivities, fast and forward passes
  std::string cache;         // the KL cache file ("" = none)
  std::string cache_note;    // why an existing cache file was not reused
  double bpw() const { return n_elements ? double(used_bytes) * 8.0 / double(n_elements) : 0.0; }
  std::map<std::string, int> linear_bits() const;
  std::map<int, int64_t> linears_per_width() const;
};

// Format widths within `range`. Throws llmq::Error naming the format when none is.
std::vector<int> hf_budget_widths(HfQuantFormat format, const BitRange& range);

// sum_ij imp_j (w_ij - q(w)_ij)^2 / sum_ij imp_j w_ij^2 for RTN with `spec`;
// `importance` (one value per column) may be null (all ones).
double rtn_weighted_error(const Tensor& w, const IntQuantSpec& spec, const float* importance);

// One of the two budgets.
struct HfBudget {
  double target_bpw = 0;      // over the quantized linears
  uint64_t target_bytes = 0;  // the whole checkpoint's safetensors files
  uint64_t max_shard_bytes = kDefaultMaxShardBytes;  // shards each have a header
};

// Forward-pass KL (nats per token) of the model with `linear` (of decoder
// layer `layer`) alone quantized at `bits`; accurate and hybrid modes.
using HfKlMeasure = std::function<double(const std::string& linear, int layer, int bits)>;

struct HfSensitivitySource {
  SensitivityMode mode = SensitivityMode::Fast;
  HfKlMeasure kl;             // required unless fast
  // After each linear's forward passes: linears done, total, the linear.
  std::function<void(size_t, size_t, const std::string&)> progress;
};

// The widths measured by a forward pass in `mode` among a linear's options
// (hybrid: those nearest 2.6 and 4.5 bpw, hybrid_reference_indices).
std::vector<size_t> hf_measured_options(SensitivityMode mode, const HfLinearAllocation& linear);

// `quant`: the job's options (method, group size, symmetry; its spec as
// spec_for_format made it; --ignore'd linears are left out). Throws
// llmq::Error when the budget is below every linear at the smallest width,
// saying what that smallest is.
HfBitAllocation allocate_hf_bits(ModelWeights& weights, const ImatrixFile& imatrix, HfQuantFormat format,
                                 const IntQuantizeOptions& quant, const HfBudget& budget, const BitRange& range,
                                 const HfSensitivitySource& source = {});

nlohmann::json hf_bit_allocation_json(const HfBitAllocation& a);

}  // namespace llmq
