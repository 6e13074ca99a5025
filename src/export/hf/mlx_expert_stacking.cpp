#include "export/hf/mlx_expert_stacking.h"

#include <cctype>
#include <map>
#include <set>
#include <utility>

#include <fmt/format.h>

#include "io/hf_checkpoint.h"
#include "model/tensor.h"
#include "util/error.h"

namespace llmq {

namespace {

// Mixtral names its expert projections w1 (gate), w2 (down), w3 (up); mlx-lm's switch_mlp uses the Llama names.
const std::pair<const char*, const char*> kMixtralNames[] = {{"w1", "gate_proj"}, {"w2", "down_proj"}, {"w3", "up_proj"}};
constexpr const char* kSwitch = ".switch_mlp.";
constexpr const char* kExperts = ".experts.";

bool is_mixtral_block(const std::string& prefix) { return prefix.ends_with(".block_sparse_moe"); }

bool is_stackable_part(const std::string& suffix) {
  return suffix == "weight" || suffix == "scales" || suffix == "biases";
}

// "PROJ.SUFFIX" split at its first dot.
std::optional<std::pair<std::string, std::string>> split_projection(const std::string& s) {
  const size_t dot = s.find('.');
  if (dot == std::string::npos) return std::nullopt;
  std::pair<std::string, std::string> r{s.substr(0, dot), s.substr(dot + 1)};
  if (!is_stackable_part(r.second)) return std::nullopt;
  return r;
}

}  // namespace

std::optional<StackedName> mlx_stacked_name(const std::string& t) {
  const size_t at = t.rfind(kExperts);
  if (at == std::string::npos) return std::nullopt;
  const std::string prefix = t.substr(0, at);
  size_t p = at + std::string(kExperts).size();
  const size_t digits = p;
  while (p < t.size() && std::isdigit(static_cast<unsigned char>(t[p]))) ++p;
  if (p == digits || p - digits > 6 || p >= t.size() || t[p] != '.') return std::nullopt;
  const int expert = std::stoi(t.substr(digits, p - digits));
  const auto proj = split_projection(t.substr(p + 1));
  if (!proj) return std::nullopt;
  std::string name = proj->first;
  if (is_mixtral_block(prefix)) {
    name.clear();
    for (const auto& [hf, mlx] : kMixtralNames)
      if (proj->first == hf) name = mlx;
  } else if (name != "gate_proj" && name != "up_proj" && name != "down_proj") {
    name.clear();
  }
  if (name.empty()) return std::nullopt;
  return StackedName{prefix + kSwitch + name + "." + proj->second, expert};
}

namespace {

// One stacked tensor's parts: indices into the list, by expert.
struct Group {
  std::map<int, size_t> parts;
};

OutTensor stacked(const std::string& name, const std::vector<OutTensor>& parts) {
  OutTensor s;
  s.name = name;
  s.dtype = parts.front().dtype;
  s.shape = parts.front().shape;
  s.shape.insert(s.shape.begin(), int64_t(parts.size()));
  bool all_bytes = true;
  for (const OutTensor& p : parts) all_bytes &= bool(p.bytes);
  if (!all_bytes) return s;  // a layout: shapes only
  s.bytes = [parts] {
    std::vector<uint8_t> out;
    for (const OutTensor& p : parts) {
      const std::vector<uint8_t> b = p.bytes();
      out.insert(out.end(), b.begin(), b.end());
    }
    return out;
  };
  s.stream = [parts](const SafetensorsWriter::ByteSink& sink) {
    for (const OutTensor& p : parts) {
      if (p.stream) {
        p.stream(sink);
        continue;
      }
      const std::vector<uint8_t> b = p.bytes();
      sink(b.data(), b.size());
    }
  };
  return s;
}

std::string projection_of(const std::string& stacked_name) { return stacked_name.substr(0, stacked_name.rfind('.')); }

}  // namespace

void stack_mlx_experts(std::vector<OutTensor>& tensors) {
  std::map<std::string, Group> groups;  // stacked name -> parts
  std::map<std::string, std::set<std::string>> suffixes;  // projection -> stacked names present
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto sn = mlx_stacked_name(tensors[i].name);
    if (!sn) continue;
    if (!groups[sn->name].parts.emplace(sn->expert, i).second)
      fail("{}: expert {} appears twice", tensors[i].name, sn->expert);
    suffixes[projection_of(sn->name)].insert(sn->name);
  }
  std::map<size_t, std::string> first_part;  // list index -> stacked name emitted there
  std::set<size_t> absorbed;
  for (const auto& [name, g] : groups) {
    const std::string proj = projection_of(name);
    if (!suffixes[proj].count(proj + ".scales")) continue;  // unquantized: mlx-lm stacks these itself
    const size_t n = g.parts.size();
    const std::string first = tensors[g.parts.begin()->second].name;
    for (const std::string& part : {proj + ".weight", proj + ".scales", proj + ".biases"}) {
      auto it = groups.find(part);
      if (it == groups.end() || it->second.parts.size() != n)
        fail("mlx output: the experts of {} are partly quantized (e.g. {}); mlx-lm holds them in one SwitchLinear "
             "(all quantized or none): adjust --ignore", proj, first);
    }
    int want = 0;
    for (const auto& [e, i] : g.parts) {
      if (e != want++) fail("mlx output: {} has no expert {}", proj, want - 1);
      const OutTensor& a = tensors[g.parts.begin()->second];
      if (tensors[i].shape != a.shape || tensors[i].dtype != a.dtype)
        fail("mlx output: {} and {} differ in shape or type; one SwitchLinear cannot hold both", a.name, tensors[i].name);
      absorbed.insert(i);
    }
    first_part[g.parts.begin()->second] = name;
  }
  if (absorbed.empty()) return;
  std::vector<OutTensor> out;
  out.reserve(tensors.size() - absorbed.size() + first_part.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (auto f = first_part.find(i); f != first_part.end()) {
      std::vector<OutTensor> parts;
      for (const auto& [e, j] : groups[f->second].parts) parts.push_back(tensors[j]);
      out.push_back(stacked(f->second, parts));
      continue;
    }
    if (!absorbed.count(i)) out.push_back(std::move(tensors[i]));
  }
  tensors = std::move(out);
}

void add_mlx_expert_views(HfCheckpoint& ck) {
  for (const std::string& name : ck.tensor_names()) {
    const size_t at = name.rfind(kSwitch);
    if (at == std::string::npos) continue;
    const std::string prefix = name.substr(0, at);
    const auto proj = split_projection(name.substr(at + std::string(kSwitch).size()));
    if (!proj) continue;
    std::string hf = proj->first;
    if (is_mixtral_block(prefix))
      for (const auto& [h, mlx] : kMixtralNames)
        if (proj->first == mlx) hf = h;
    const TensorView& tv = ck.get(name);
    if (tv.shape.size() < 2 || tv.shape[0] <= 0)
      throw file_error(tv.file, fmt::format("tensor {} has shape {}, expected [experts, rows, columns]", name, shape_str(tv.shape)));
    const int64_t n = tv.shape[0];
    const size_t each = tv.nbytes / size_t(n);
    for (int64_t e = 0; e < n; ++e) {
      TensorView v = tv;
      v.name = fmt::format("{}{}{}.{}.{}", prefix, kExperts, e, hf, proj->second);
      v.shape.erase(v.shape.begin());
      v.data = tv.data + size_t(e) * each;
      v.nbytes = each;
      ck.add_view(std::move(v));
    }
  }
}

}  // namespace llmq
