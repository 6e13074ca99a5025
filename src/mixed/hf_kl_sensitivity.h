#pragma once
// The forward-pass measure of the Hugging Face budget path
// (`quantize MODEL rtn|gptq --target-bpw|--target-size ... --sensitivity
// accurate|hybrid`): KldSensitivityMeter with one linear RTN-quantized at a
// width by the job's own spec (group size, symmetry), each value saved to a
// cache file as soon as it is measured, so an interrupted run resumes and
// another budget reuses every forward pass.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "mixed/hf_bit_allocation.h"
#include "mixed/kld_sensitivity.h"

namespace llmq {

struct HfAllocationOptions {
  // nullopt: hybrid when calibration text is found (--sensitivity-data, or the
  // default text GGUF's accurate mode uses), else fast.
  std::optional<SensitivityMode> mode;
  std::string data_path;   // "" = default_calibration_path(model)
  KldMeterOptions kld;
  std::string cache_path;  // "" = default_hf_sensitivity_cache_path
  bool no_cache = false;
  std::function<void(size_t, size_t, const std::string&)> progress;  // per measured linear
};

// <imatrix>.sensitivity-hf-g<group>[-asym].json: KL depends on the RTN spec
// the linears are quantized with (not on the layout that stores them), so
// each spec keeps its own file.
std::string default_hf_sensitivity_cache_path(const std::string& imatrix_path, const IntQuantSpec& spec);

// Loads the model and the importance matrix (errors name the file), measures
// and allocates (hf_bit_allocation.h).
HfBitAllocation allocate_hf_bits_for_model(const std::string& model_dir, const std::string& imatrix_path,
                                           HfQuantFormat format, const IntQuantizeOptions& quant, const HfBudget& budget,
                                           const BitRange& range, const HfAllocationOptions& opt = {});

}  // namespace llmq
