#pragma once
#include <vector>

#include "model/weights.h"

namespace llmq {
// Layer-by-layer work on lazily loaded weights (quantizers that stream a
// finished layer out and go on): the tensors of decoder layer `l` in
// named_tensors order, made dense before the layer is edited, and handed back
// afterwards to how `source` holds them (lazy rows go back to disk).
std::vector<NamedTensor> layer_tensors(ModelWeights& w, int l);
void materialize_layer(ModelWeights& w, int l);
void release_layer(ModelWeights& w, const ModelWeights& source, int l);

}  // namespace llmq
