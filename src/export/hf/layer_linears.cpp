#include "export/hf/layer_linears.h"

#include "util/error.h"

namespace llmq {

static LinearSlot slot_of(TensorRole r) {
  switch (r) {
    case TensorRole::AttnQ: case TensorRole::AttnK: case TensorRole::AttnV: return LinearSlot::QKV;
    case TensorRole::AttnO: return LinearSlot::O;
    case TensorRole::FfnGate: case TensorRole::FfnUp: return LinearSlot::GateUp;
    default: return LinearSlot::Down;
  }
}

std::vector<LayerLinear> model_linears(ModelWeights& w) {
  std::vector<LayerLinear> out;
  for (const NamedTensor& nt : named_tensors(w)) {
    if (!is_linear_weight(nt.role) || nt.layer < 0) continue;
    out.push_back({nt.name, nt.tensor, LinearKey{nt.layer, slot_of(nt.role), nt.expert}, nt.role});
  }
  return out;
}

std::vector<LayerLinear> layer_linears(ModelWeights& w, int layer) {
  std::vector<LayerLinear> out;
  for (LayerLinear& l : model_linears(w))
    if (l.key.layer == layer) out.push_back(std::move(l));
  return out;
}

IgnoreList::IgnoreList(const std::vector<std::string>& patterns) {
  for (const std::string& p : patterns) {
    try {
      res_.emplace_back(p);
    } catch (const Error& e) {
      fail("--ignore: {}", e.what());
    }
  }
}

bool IgnoreList::ignored(const std::string& weight_name) const {
  for (const UserRegex& re : res_)
    if (re.search(weight_name)) return true;
  return false;
}

std::vector<LayerLinear> without_ignored(std::vector<LayerLinear> linears, const IgnoreList& ignore) {
  std::erase_if(linears, [&](const LayerLinear& l) { return ignore.ignored(l.name); });
  return linears;
}

}  // namespace llmq
