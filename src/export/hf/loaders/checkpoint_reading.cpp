#include "export/hf/loaders/checkpoint_reading.h"

#include "model/safetensors_rows.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace llmq {

void read_float_tensor(const HfCheckpoint& ck, const NamedTensor& nt) {
  const TensorView& tv = checked_float_view(ck, nt);
  nt.tensor->resize(nt.shape);
  tv.to_f32(nt.tensor->data.data());
}

std::unique_ptr<LoadedModel> make_loaded_model(std::shared_ptr<ModelWeights> w, const HfCheckpoint& ck,
                                               const std::string& format, const std::string& dtype) {
  auto m = std::make_unique<LoadedModel>();
  m->weights = std::move(w);
  m->tokenizer = Tokenizer::load(ck.dir());
  m->path = ck.dir();
  m->format = format;
  m->dtype = dtype;
  m->file_bytes = ck.total_bytes();
  m->n_params = count_params(*m->weights);
  return m;
}

}  // namespace llmq
