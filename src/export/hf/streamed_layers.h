#pragma once
// The plumbing both HF quantize pipelines (gptq/awq/rtn and the low-bit
// schemes) share to run a layer at a time: where the resume checkpoint goes,
// a fingerprint of the job, the layer to start from, and the checkpoint's
// tensor list with the finished layers read back from the spill.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "export/hf/layer_spill.h"
#include "model/weights.h"

namespace llmq {

// <output>.checkpoint (the same convention as analyze's checkpoint folder).
std::string default_checkpoint_dir(const std::string& output_dir);

// What identifies the source checkpoint for a resume: its path, config.json
// and every weight file's name, size and modification time.
nlohmann::json checkpoint_identity(const std::string& model_dir);

// A hash of the calibration windows' tokens.
std::string windows_hash(const std::vector<std::vector<int32_t>>& windows);

// Where a job resumes: after the spill's finished layers, or for quantizers
// that carry hidden states from layer to layer, at the layer its saved
// states enter (0 when there are none). Fills `states` for the latter.
int resume_layer(const LayerSpill& spill, bool carries_states, int n_layers, WindowStates& states);

// Whether to save the hidden states after this layer: always when they are
// small, else at most every 30 s (they can be GBs for many long windows).
class StateSaveClock {
 public:
  bool due(const WindowStates& s, bool last_layer);

 private:
  double last_ = -1e30;
};

// Refuses NaN/Inf in the weights the pipeline quantizes or copies
// (util/finite_check.h): the tensors outside the decoder layers (read a tile
// at a time when lazy), and layer l once it is dense. `source` names the
// checkpoint in the message.
void check_outer_tensors_finite(ModelWeights& w, const std::string& source);
void check_layer_finite(ModelWeights& w, int l, const std::string& source);

// The checkpoint's tensors in file order: the tensors outside the decoder
// layers from `w` (embeddings, final norm, lm_head; lazy ones stream from the
// source), each decoder layer's from the spill. `outside` appends one tensor
// of `w` in the output's form.
std::vector<OutTensor> tensors_with_spilled_layers(
    ModelWeights& w, const LayerSpill& spill,
    const std::function<void(const NamedTensor&, std::vector<OutTensor>&)>& outside);

}  // namespace llmq
