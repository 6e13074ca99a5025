#include "calibration/super_weights.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>

#include "util/atomic_output.h"
#include "util/error.h"

namespace llmq {

std::vector<SuperWeight> down_proj_peaks(const SuperWeightCollector& spikes, const ModelWeights& w,
                                         const GgufNamer& gguf_name) {
  // Names come from the model's tensor list, so they follow the architecture's spelling.
  ModelWeights names_only;
  names_only.cfg = w.cfg;
  std::map<std::pair<int, int>, NamedTensor> down;
  for (const NamedTensor& t : named_tensors(names_only))
    if (t.role == TensorRole::FfnDown) down[{t.layer, t.expert}] = t;

  std::vector<float> peaks;
  for (const auto& [key, s] : spikes.spikes())
    if (s.row >= 0 && s.max_out > 0) peaks.push_back(s.max_out);
  if (peaks.empty()) return {};
  std::sort(peaks.begin(), peaks.end());
  const size_t n = peaks.size();
  const double median = n % 2 ? peaks[n / 2] : 0.5 * (double(peaks[n / 2 - 1]) + double(peaks[n / 2]));

  std::vector<SuperWeight> out;
  for (const auto& [key, s] : spikes.spikes()) {
    if (s.row < 0 || s.col < 0) continue;
    auto it = down.find(key);
    if (it == down.end()) fail("down_proj spike recorded for layer {} expert {}, which the model lacks", key.first, key.second);
    const LayerWeights& L = w.layers.at(size_t(key.first));
    const Tensor& W = key.second >= 0 ? L.experts.at(size_t(key.second)).down : L.down;
    if (s.row >= W.rows() || s.col >= W.cols()) fail("down_proj spike at [{}, {}] outside {} {}", s.row, s.col, it->second.name, shape_str(W.shape));
    SuperWeight sw;
    sw.layer = key.first;
    sw.expert = key.second;
    sw.tensor = it->second.name;
    sw.gguf_tensor = gguf_name ? gguf_name(it->second) : std::string();
    sw.row = s.row;
    sw.col = s.col;
    sw.value = W.at(s.row, s.col);
    sw.output_activation = s.max_out;
    sw.input_activation = s.in_at_peak;
    sw.spike_ratio = median > 0 ? double(s.max_out) / median : 0.0;
    out.push_back(sw);
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const SuperWeight& a, const SuperWeight& b) { return a.output_activation > b.output_activation; });
  return out;
}

std::vector<SuperWeight> identify_super_weights(const SuperWeightCollector& spikes, const ModelWeights& w,
                                                const GgufNamer& gguf_name, const SuperWeightOptions& opt) {
  std::vector<SuperWeight> out;
  for (const SuperWeight& s : down_proj_peaks(spikes, w, gguf_name))
    if (s.spike_ratio >= opt.min_spike_ratio && int(out.size()) < opt.max_count) out.push_back(s);
  return out;
}

nlohmann::json super_weight_to_json(const SuperWeight& s) {
  return {{"layer", s.layer},
          {"expert", s.expert},
          {"tensor", s.tensor},
          {"gguf_tensor", s.gguf_tensor},
          {"row", s.row},
          {"col", s.col},
          {"value", s.value},
          {"output_activation", s.output_activation},
          {"input_activation", s.input_activation},
          {"spike_ratio", s.spike_ratio}};
}

SuperWeight super_weight_from_json(const nlohmann::json& j) {
  SuperWeight s;
  try {
    s.layer = j.at("layer").get<int>();
    s.expert = j.value("expert", -1);
    s.tensor = j.at("tensor").get<std::string>();
    s.gguf_tensor = j.value("gguf_tensor", std::string());
    s.row = j.at("row").get<int64_t>();
    s.col = j.at("col").get<int64_t>();
    s.value = j.value("value", 0.0f);
    s.output_activation = j.value("output_activation", 0.0f);
    s.input_activation = j.value("input_activation", 0.0f);
    s.spike_ratio = j.value("spike_ratio", 0.0);
  } catch (const nlohmann::json::exception& e) {
    fail("super weight entry: {}", e.what());
  }
  return s;
}

std::string super_weights_path_for(const std::string& imatrix_path) { return imatrix_path + ".superweights.json"; }

void write_super_weights(const std::string& path, const std::vector<SuperWeight>& sw, const nlohmann::json& extra) {
  nlohmann::json j = extra.is_object() ? extra : nlohmann::json::object();
  j["super_weights"] = nlohmann::json::array();
  for (const SuperWeight& s : sw) j["super_weights"].push_back(super_weight_to_json(s));
  const std::string text = j.dump(2) + "\n";
  AtomicOutputFile out(path);
  out.write(text.data(), text.size());
  out.commit();
}

std::vector<SuperWeight> read_super_weights(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    throw file_error(path, "no super-weight list: run `llm-quantize analyze MODEL --identify-super-weights` "
                           "(it writes this file beside the importance matrix) or pass --super-weights FILE");
  std::ifstream f(path);
  if (!f) throw file_error(path, "cannot open super weight list");
  nlohmann::json j = nlohmann::json::parse(f, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("super_weights") || !j["super_weights"].is_array())
    throw file_error(path, "not a super weight list (expected an object with a \"super_weights\" array)");
  std::vector<SuperWeight> out;
  try {
    for (const auto& e : j["super_weights"]) out.push_back(super_weight_from_json(e));
  } catch (const Error& e) {
    throw file_error(path, e.what());
  }
  return out;
}

}  // namespace llmq
