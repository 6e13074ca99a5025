#include "export/gguf/gguf_gptq.h"

#include <optional>

#include "export/hf/layer_inputs.h"
#include "model/transformer.h"
#include "util/error.h"

namespace llmq {

namespace {

// The linear input a GGUF tensor reads, by its role.
std::optional<LinearSlot> slot_of(TensorRole role) {
  switch (role) {
    case TensorRole::AttnQ:
    case TensorRole::AttnK:
    case TensorRole::AttnV: return LinearSlot::QKV;
    case TensorRole::AttnO: return LinearSlot::O;
    case TensorRole::FfnGate:
    case TensorRole::FfnUp: return LinearSlot::GateUp;
    case TensorRole::FfnDown: return LinearSlot::Down;
    default: return std::nullopt;
  }
}

}  // namespace

struct GgufGptq::State {
  LoadedModel model;
  std::unique_ptr<Transformer> transformer;
  std::unique_ptr<LayerInputs> inputs;  // hidden states entering layer `layer + 1`
  int layer = -1;                       // the layer whose Gram matrices `gram` holds
  GramCollector gram;
};

GgufGptq::GgufGptq(LoadedModel model, GgufGptqOptions opt) : opt_(std::move(opt)), state_(std::make_unique<State>()) {
  if (opt_.windows.empty()) fail("GPTQ needs at least one calibration window");
  state_->model = std::move(model);
  state_->transformer = std::make_unique<Transformer>(state_->model.weights);
  state_->inputs = std::make_unique<LayerInputs>(*state_->transformer, opt_.windows);
}

GgufGptq::~GgufGptq() = default;

int64_t GgufGptq::tokens() const { return state_->inputs->tokens(); }

const GramStats* GgufGptq::find(const GgufTensorSpec& spec, int expert) {
  const std::optional<LinearSlot> slot = slot_of(spec.role);
  if (!slot || spec.layer < 0) return nullptr;
  State& s = *state_;
  if (spec.layer < s.layer)
    fail("GPTQ: tensor {} of layer {} asked for after layer {} (the export must go in layer order)", spec.name,
         spec.layer, s.layer);
  // The full-precision model carries the states forward: each layer's inputs are what the original
  // model feeds it (the statistics of one pass, as an importance matrix's are).
  while (s.layer < spec.layer) {
    ++s.layer;
    s.gram = GramCollector({}, {s.layer});
    s.inputs->run(s.layer, &s.gram, true);
  }
  const GramStats* g = s.gram.find(LinearKey{spec.layer, *slot, spec.is_stacked() ? expert : -1});
  if (!g || g->tokens == 0) return nullptr;
  if (spec.is_stacked() && g->tokens < opt_.min_expert_tokens) return nullptr;
  return g;
}

std::shared_ptr<GgufGptq> make_gguf_gptq(const std::string& model_dir, const std::string& calibration_path,
                                         const WindowOptions& windows, const GptqOptions& gptq,
                                         std::vector<std::string>* notes) {
  const std::string path = calibration_path_or_default(calibration_path, model_dir, "--gptq");
  LoadedModel model = load_hf_model(model_dir, {.lazy = true});  // its tokenizer cuts the windows
  std::vector<std::string> warnings;
  GgufGptqOptions opt;
  opt.windows = read_calibration_windows(path, *model.tokenizer, windows, warnings).windows;
  opt.gptq = gptq;
  if (notes) notes->insert(notes->end(), warnings.begin(), warnings.end());
  return std::make_shared<GgufGptq>(std::move(model), std::move(opt));
}

}  // namespace llmq
