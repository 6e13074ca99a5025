#include "model/layer_residency.h"

namespace llmq {

std::vector<NamedTensor> layer_tensors(ModelWeights& w, int l) {
  std::vector<NamedTensor> out;
  for (NamedTensor& nt : named_tensors(w))
    if (nt.layer == l) out.push_back(std::move(nt));
  return out;
}

void materialize_layer(ModelWeights& w, int l) {
  for (NamedTensor& nt : layer_tensors(w, l)) nt.tensor->materialize();
}

void release_layer(ModelWeights& w, const ModelWeights& source, int l) {
  ModelWeights& src = const_cast<ModelWeights&>(source);  // named_tensors only reads here
  const std::vector<NamedTensor> from = layer_tensors(src, l);
  std::vector<NamedTensor> to = layer_tensors(w, l);
  for (size_t i = 0; i < to.size() && i < from.size(); ++i) {
    // Copy, then move in: copy-assigning an empty vector would keep the dense buffer's capacity.
    Tensor held = *from[i].tensor;
    *to[i].tensor = std::move(held);
  }
}

}  // namespace llmq
