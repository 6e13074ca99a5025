#include "mixed/kld_sensitivity.h"

#include <omp.h>

#include <map>

#include "calibration/calibration_data.h"
#include "eval/kl_divergence.h"
#include "eval/log_prob_codec.h"
#include "mixed/fake_quant.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace llmq {

KldSensitivityMeter::KldSensitivityMeter(std::shared_ptr<ModelWeights> weights, const std::vector<int32_t>& tokens,
                                         const KldMeterOptions& opt, ImportanceLookup importance)
    : w_(std::move(weights)), importance_(std::move(importance)) {
  model_ = std::make_unique<Transformer>(w_);
  plan_ = plan_windows(int64_t(tokens.size()), opt.ctx, opt.windows, 0);
  tokens_.assign(tokens.begin(), tokens.begin() + plan_.tokens_needed());
  const ModelConfig& c = w_->cfg;
  record_bytes_ = log_prob_record_bytes(c.vocab);
  base_records_.resize(size_t(plan_.windows * plan_.ctx * record_bytes_));
  hidden_.resize(size_t(plan_.windows));
  KvCache cache = model_->make_cache(plan_.ctx);
  std::vector<float> X, logits;
  for (int64_t w = 0; w < plan_.windows; ++w) {
    const int32_t* win = tokens_.data() + w * plan_.ctx;
    cache.clear();
    model_->embed(win, plan_.ctx, X);
    for (int l = 0; l < c.n_layers; ++l) {
      hidden_[size_t(w)].push_back(X);
      model_->run_layer(l, X.data(), plan_.ctx, cache);
    }
    hidden_[size_t(w)].push_back(X);
    model_->head(X.data(), plan_.ctx, 0, logits);
    uint8_t* rec = base_records_.data() + size_t(w * plan_.ctx * record_bytes_);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < plan_.ctx; ++i)
      encode_log_probs(logits.data() + i * c.vocab, c.vocab, win[i + 1], rec + i * record_bytes_);
  }
}

KldSensitivityMeter::~KldSensitivityMeter() = default;

std::vector<Tensor*> KldSensitivityMeter::find_parts(const std::vector<std::string>& names, const std::string& what) const {
  std::map<std::string, Tensor*> by_name;
  for (NamedTensor& t : named_tensors(*w_)) by_name[t.name] = t.tensor;
  std::vector<Tensor*> parts;
  for (const std::string& s : names) {
    auto it = by_name.find(s);
    if (it == by_name.end()) fail("tensor {} of {} is not in the model", s, what);
    parts.push_back(it->second);
  }
  return parts;
}

double KldSensitivityMeter::measure(const GgufTensorSpec& spec, ggml::GgmlType type) {
  // The fp32 tensors behind the GGUF tensor, one per expert when stacked.
  const std::vector<Tensor*> parts = find_parts(spec.sources, spec.name);
  if (parts.empty()) fail("tensor {} is computed from the config, not stored weights", spec.name);
  const int n_layers = int(w_->cfg.n_layers);
  const int first = spec.role == TensorRole::TokenEmbedding ? -1 : spec.layer >= 0 ? spec.layer : n_layers;
  // Rows are quantized independently, so quantizing the Hugging Face rows
  // equals quantizing the (row-permuted) GGUF tensor.
  return measure_parts(parts, first, [&](size_t e, Tensor& t) {
    if (t.cols() != spec.row_length())
      fail("tensor {} has rows of {}, GGUF {} expects {}", spec.sources[e], t.cols(), spec.name, spec.row_length());
    std::vector<float> deq(t.data.size());
    fake_quantize_rows(spec, int64_t(e), type, t.data.data(), deq.data(), t.rows(), importance_);
    t.data = std::move(deq);
  });
}

double KldSensitivityMeter::measure(const std::vector<std::string>& names, int layer, const FakeQuantize& fake_quantize) {
  if (layer < 0 || layer >= int(w_->cfg.n_layers)) fail("layer {} is not a decoder layer of the model", layer);
  return measure_parts(find_parts(names, "layer " + std::to_string(layer)), layer,
                       [&](size_t, Tensor& t) { fake_quantize(t); });
}

double KldSensitivityMeter::measure_parts(const std::vector<Tensor*>& parts, int first,
                                          const std::function<void(size_t, Tensor&)>& quantize) {
  // The tensors as they were (a lazy one stays a cheap handle on its rows),
  // then dense copies that the quantizer edits; restored however this ends.
  std::vector<Tensor> saved;
  for (Tensor* t : parts) saved.push_back(*t);
  struct Restore {
    const std::vector<Tensor*>& parts;
    std::vector<Tensor>& saved;
    ~Restore() {
      for (size_t i = 0; i < saved.size(); ++i) *parts[i] = std::move(saved[i]);
    }
  } restore{parts, saved};
  for (size_t e = 0; e < parts.size(); ++e) {
    parts[e]->materialize();
    quantize(e, *parts[e]);
  }

  const ModelConfig& c = w_->cfg;
  const bool embedding = first < 0;
  if (embedding) first = 0;
  KvCache cache = model_->make_cache(plan_.ctx);
  std::vector<float> X, logits;
  std::vector<CompareScratch> scratch(static_cast<size_t>(omp_get_max_threads()));
  double kl_sum = 0;
  std::vector<double> token_kld;
  for (int64_t w = 0; w < plan_.windows; ++w) {
    const int32_t* win = tokens_.data() + w * plan_.ctx;
    cache.clear();
    if (embedding) model_->embed(win, plan_.ctx, X);
    else X = hidden_[size_t(w)][size_t(first)];
    for (int l = first; l < c.n_layers; ++l) model_->run_layer(l, X.data(), plan_.ctx, cache);
    model_->head(X.data(), plan_.ctx, 0, logits);
    const uint8_t* rec = base_records_.data() + size_t(w * plan_.ctx * record_bytes_);
    // Tokens in parallel, added in order: the same value for any thread count.
    token_kld.resize(size_t(plan_.ctx));
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < plan_.ctx; ++i)
      token_kld[size_t(i)] = compare_token(logits.data() + i * c.vocab, LogProbRecord(rec + i * record_bytes_), c.vocab,
                                           win[i + 1], 1.0, scratch[size_t(omp_get_thread_num())])
                                 .kld;
    double window_sum = 0;
    for (double k : token_kld) window_sum += k;
    kl_sum += window_sum;
  }
  return kl_sum / double(plan_.windows * plan_.ctx);
}

std::unique_ptr<KldSensitivityMeter> make_kld_meter(const LoadedModel& model, const std::string& data_path,
                                                    const KldMeterOptions& opt, ImportanceLookup importance) {
  const CalibrationText text = read_calibration_text(data_path);
  const std::vector<int32_t> tokens = model.tokenizer->encode(text.text, false);
  if (int64_t(tokens.size()) <= opt.ctx)
    throw file_error(data_path, fmt::format("has {} tokens, too few for one window of {} (+1)", tokens.size(), opt.ctx));
  return std::make_unique<KldSensitivityMeter>(model.weights, tokens, opt, std::move(importance));
}

}  // namespace llmq
