#pragma once
// SmoothQuant applied to a decoder (see quant/methods/smoothquant.h for the
// factors). Every smoothing is folded exactly, so the full-precision model
// computes the same function afterwards:
//
//   input of     divided in (producer)                multiplied in (consumers)
//   q/k/v        input RMSNorm weight                 q, k, v columns
//   gate/up      post-attention RMSNorm weight        gate, up columns (all experts; the
//                                                     MoE router's columns too, as it reads the norm)
//   o            v_proj rows (and bias)               o columns
//   down         up_proj rows                         down columns (per expert)
//
// For o, a v_proj row feeds every query head of its KV group (GQA), so the
// factor of channel d is shared by the group: activation and weight maxima
// are taken over the group's heads, which keeps the fold exact.
#include <map>
#include <vector>

#include "calibration/activation_range_collector.h"
#include "model/weights.h"

namespace llmq {

struct SmoothQuantOptions {
  float alpha = 0.5f;
  bool norms_only = false;  // only q/k/v and gate/up
};

// The factors s applied to each linear input (the consumer's columns were
// multiplied by s, its input divided by s), keyed like the calibration
// statistics; MoE gate/up factors appear under every expert's key.
using SmoothingFactors = std::map<LinearKey, std::vector<float>>;

// Smooths w in place from the per-channel activation maxima of `ranges`
// (collected on w before smoothing). Inputs without statistics are left alone.
SmoothingFactors smooth_model(ModelWeights& w, const ActivationRangeCollector& ranges, const SmoothQuantOptions& opt);

// The same for decoder layer l alone (its tensors must be dense); factors are added to `out`.
void smooth_layer(ModelWeights& w, int l, const ActivationRangeCollector& ranges, const SmoothQuantOptions& opt,
                  SmoothingFactors& out);

}  // namespace llmq
