#include "export/hf/checkpoint_size.h"

#include "export/hf/mlx_expert_stacking.h"

namespace llmq {

std::string module_of_weight(const std::string& weight_name) {
  const std::string suffix = ".weight";
  return weight_name.substr(0, weight_name.size() - suffix.size());
}

std::map<std::string, std::string> checkpoint_metadata(HfQuantFormat format) {
  return {{"format", format == HfQuantFormat::Mlx ? "mlx" : "pt"}};
}

std::vector<OutTensor> quantized_linear_layout(HfQuantFormat format, const std::string& weight_name, int64_t rows,
                                               int64_t cols, const IntQuantizeOptions& opt) {
  QuantizedLinear q;
  q.init(rows, cols, opt.spec_of(weight_name));
  // GPTQ act order without static groups permutes g_idx, which compressed-tensors then stores.
  if (opt.method == IntQuantMethod::Gptq && opt.gptq.desc_act && !opt.gptq.static_groups && q.n_groups() > 1)
    std::swap(q.g_idx.front(), q.g_idx.back());
  std::vector<OutTensor> tensors;
  add_quantized_linear(format, module_of_weight(weight_name), q, tensors);
  for (OutTensor& t : tensors) t.bytes = nullptr;  // shapes only: q goes away here
  return tensors;
}

uint64_t quantized_linear_bytes(HfQuantFormat format, const std::string& weight_name, int64_t rows, int64_t cols,
                                const IntQuantizeOptions& opt) {
  uint64_t bytes = 0;
  for (const OutTensor& t : quantized_linear_layout(format, weight_name, rows, cols, opt)) {
    uint64_t n = dtype_size(t.dtype);
    for (int64_t d : t.shape) n *= uint64_t(d);
    bytes += n;
  }
  return bytes;
}

uint64_t hf_checkpoint_bytes(ModelWeights& w, HfQuantFormat format, const IntQuantizeOptions& opt,
                             const std::set<std::string>& quantized, uint64_t max_shard_bytes) {
  // The writer's order (write_hf_quantized): named_tensors, a quantized linear as its format's tensors.
  const DType float_dt = unquantized_dtype(format, w.source_dtype);
  std::vector<OutTensor> tensors;
  for (const NamedTensor& nt : named_tensors(w)) {
    if (quantized.count(nt.name)) {
      for (OutTensor& t : quantized_linear_layout(format, nt.name, nt.shape[0], nt.shape[1], opt))
        tensors.push_back(std::move(t));
    } else {
      tensors.push_back({nt.name, float_dt, nt.shape, nullptr});
    }
  }
  if (format == HfQuantFormat::Mlx) stack_mlx_experts(tensors);  // the headers name the stacked tensors
  return sharded_safetensors_bytes(tensors, checkpoint_metadata(format), max_shard_bytes);
}

}  // namespace llmq
