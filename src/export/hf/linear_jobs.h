#pragma once
// The linears of one quantization step (a GPTQ stage of a layer) shared out
// over the ranks of a distributed job: each rank quantizes the linears it
// owns, then every result travels from its owner to every rank, which
// applies them in the step's order, so all ranks continue with the same
// weights and rank 0 holds every quantized linear for writing. On a cluster
// of one this is a loop over the linears.
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "distributed/cluster.h"
#include "export/hf/layer_linears.h"
#include "export/hf/quantized_model.h"
#include "quant/formats/intq/quantized_linear.h"

namespace llmq {

// What quantizing one linear gives: the codes, its report entry, and the
// notes the model collects.
struct LinearOutcome {
  QuantizedLinear q;
  nlohmann::json report;
  std::vector<std::string> rtn_fallbacks, warnings;
};

// Owner rank of each linear: the most expensive first, each to the rank
// with the least work so far (GPTQ costs about rows * cols^2 + cols^3).
std::vector<int> assign_linear_owners(const std::vector<LayerLinear>& linears, int ranks);

// Runs quantize(i) for this rank's linears, exchanges the outcomes, and
// applies every one in order (the weight becomes its dequantized value; the
// codes, report and notes go into `qm`).
void quantize_linears_across_ranks(std::vector<LayerLinear>& linears, Cluster& cluster,
                                   const std::function<LinearOutcome(size_t i)>& quantize, QuantizedModel& qm);

// A linear's outcome as bytes and back (checked against the message length).
std::vector<uint8_t> linear_outcome_bytes(const LinearOutcome& o);
LinearOutcome linear_outcome_from_bytes(const std::vector<uint8_t>& bytes, const std::string& name);

}  // namespace llmq
