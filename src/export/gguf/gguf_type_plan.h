#pragma once
// Which ggml type each tensor of a GGUF file gets for a preset: a port of
// the rules llama-quantize applies (llama_tensor_get_type in llama.cpp's
// src/llama-quant.cpp), so that our Q4_K_M is llama.cpp's Q4_K_M tensor for
// tensor. In short, for the quantized presets:
//   - only 2-D/3-D ".weight" tensors are quantized; norms, biases, rope_freqs
//     and the MoE router (ffn_gate_inp) stay F32;
//   - output.weight (or token_embd.weight when tied) becomes Q6_K unless the
//     preset is Q8_0 (Q8_0 if its rows are not a multiple of the block size);
//   - attn_v and ffn_down get more bits in some layers (use_more_bits: the
//     first and last eighth of the layers and every third in between), per
//     preset; attn_output gets more for Q2_K/Q3_K_M/Q3_K_L; models with 8
//     experts (Mixtral) get Q8_0 attn_k/attn_v;
//   - the i-quant and ternary presets have their own rules: below 2.5 bpw
//     (IQ1_S/M, IQ2_XXS/XS/S/M) output Q5_K, token_embd Q2_K or IQ3_S,
//     attn_v/attn_output/the first eighth of ffn_down a step up; IQ3_XXS and
//     IQ3_XS lower attn_q/attn_k, IQ3_M raises attn_v/attn_output, and so on
//     (see mixture_rule);
//   - a row length that is not a multiple of the type's block size falls
//     back (IQ* -> IQ4_NL, Q2_K/Q3_K/TQ1_0/TQ2_0 -> Q4_0, Q4_K -> Q5_0,
//     Q5_K -> Q5_1, Q6_K -> Q8_0, and F16 when even that does not fit).
// Float presets (F16/BF16/F32) store every quantizable tensor in that type.
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "export/gguf/gguf_presets.h"
#include "export/gguf/gguf_tensor_layout.h"
#include "model/config.h"
#include "quant/formats/ggml/ggml_types.h"

namespace llmq {

struct GgufQuantOptions {
  GgufPreset preset = GgufPreset::Q4_K_M;
  std::optional<ggml::GgmlType> output_tensor_type;    // --output-tensor-type
  std::optional<ggml::GgmlType> token_embedding_type;  // --token-embedding-type
  // --tensor-type PATTERN=TYPE: ECMAScript regex searched in the GGUF name;
  // the first pattern that matches wins (quantized presets only).
  std::vector<std::pair<std::string, ggml::GgmlType>> tensor_types;
  // Exact GGUF name -> type (dynamic mixed precision's allocation): wins over
  // every rule above; tensors that are not quantized stay as they are.
  std::map<std::string, ggml::GgmlType> tensor_type_by_name;
  bool pure = false;                 // --pure: the preset's type everywhere (bar fallbacks)
  bool leave_output_tensor = false;  // --leave-output-tensor: output.weight is not quantized
  bool has_imatrix = false;          // changes a few Q4_0/Q5_0, IQ3_XXS and IQ4 choices
};

class Cluster;
// Rank 0's preset and per-name types on every rank of a distributed job (a
// plan is made once, on rank 0: the others encode tensors to it).
void share_gguf_plan(GgufQuantOptions& opt, Cluster& cluster);

struct TensorTypeChoice {
  ggml::GgmlType type = ggml::GgmlType::F32;
  bool quantizable = false;  // false: kept in its source float type (norms, router, ...)
  std::string note;          // why it differs from the preset's type, "" otherwise
  // The type is too coarse to write without an importance matrix (as
  // llama-quantize decides: type_needs_importance, token_embd/output exempt).
  bool needs_importance = false;
};

// One choice per layout entry, same order. `source_type` is the float type
// a tensor that is not quantized keeps when it is a 2-D weight (the
// checkpoint's dtype); 1-D tensors and the router are always F32. Throws
// llmq::Error for a bad --tensor-type regex or a type with no fallback for
// a row length.
std::vector<TensorTypeChoice> plan_tensor_types(const ModelConfig& cfg, const std::vector<GgufTensorSpec>& layout,
                                                const GgufQuantOptions& opt,
                                                ggml::GgmlType source_type = ggml::GgmlType::F32);

}  // namespace llmq
