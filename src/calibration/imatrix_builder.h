#pragma once
// Turns the importance statistics of a calibration pass into the entries of
// an importance-matrix file: one per linear weight, keyed by llama.cpp's
// tensor name. q/k/v (and gate/up) repeat their shared input's statistics,
// as llama-imatrix records each matmul separately; the experts of an MoE
// layer stack into one entry per projection with a token count per expert.
#include <string>
#include <vector>

#include "calibration/imatrix_file.h"
#include "calibration/importance_collector.h"
#include "calibration/tensor_namer.h"
#include "model/config.h"

namespace llmq {

// The collector slot a linear weight reads from (QKV for q/k/v, ...).
LinearSlot linear_slot_of(TensorRole role);

ImatrixData build_imatrix(const ImportanceCollector& stats, const ModelConfig& cfg, const GgufNamer& gguf_name,
                          std::vector<std::string> datasets, int32_t chunk_count, int32_t chunk_size);

}  // namespace llmq
