#include "export/hf/loaders/hf_quant_loader.h"

#include <filesystem>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "export/hf/loaders/checkpoint_reading.h"
#include "export/hf/loaders/hf_quant_decoders.h"
#include "export/hf/mlx_expert_stacking.h"
#include "io/hf_checkpoint.h"
#include "model/decoded_rows.h"
#include "model/safetensors_rows.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "util/json_file.h"
#include "util/user_regex.h"

namespace fs = std::filesystem;

namespace llmq {

namespace {

std::string format_of(const nlohmann::json& cfg) {
  if (cfg.contains("quantization_config") && cfg["quantization_config"].is_object()) {
    const auto& q = cfg["quantization_config"];
    const std::string m = q.value("quant_method", "");
    if (m == "gptq" || m == "awq") return m;
    if (m == "compressed-tensors" && q.value("format", "") == "pack-quantized") return m;
  }
  if (cfg.contains("quantization") && cfg["quantization"].is_object() && cfg["quantization"].contains("bits"))
    return "mlx";
  return "";
}

// The format's parameters, and the modules stored with other bits than the
// config's: MLX per-module {"bits"} objects, GPTQ "dynamic" "+:" rules
// (regular expressions), compressed-tensors config groups naming modules.
struct FormatParams {
  IntFormatParams base;
  std::map<std::string, int> module_bits;                   // exact module names (MLX, compressed-tensors)
  std::vector<std::pair<UserRegex, int>> module_bit_rules;  // GPTQ "+:" rules, first match wins
};

IntFormatParams params_of(const std::string& fmt, const nlohmann::json& cfg, const std::string& cfg_path) {
  IntFormatParams p;
  try {
    if (fmt == "mlx") {
      const auto& q = cfg["quantization"];
      p.bits = q.at("bits").get<int>();
      p.group_size = q.at("group_size").get<int64_t>();
      p.sym = false;
      return p;
    }
    const auto& q = cfg["quantization_config"];
    if (fmt == "gptq") {
      p.bits = q.at("bits").get<int>();
      p.group_size = q.at("group_size").get<int64_t>();
      p.sym = q.value("sym", true);
      p.gptq_v1_zeros = q.value("checkpoint_format", std::string("gptq")) != "gptq_v2";
      p.desc_act = q.value("desc_act", false);
    } else if (fmt == "awq") {
      p.bits = q.contains("bits") ? q["bits"].get<int>() : q.at("w_bit").get<int>();
      p.group_size = q.contains("group_size") ? q["group_size"].get<int64_t>() : q.at("q_group_size").get<int64_t>();
      p.sym = false;
    } else {  // compressed-tensors: the group targeting "Linear" (the only one, or the default of several)
      const auto& groups = q.at("config_groups");
      const nlohmann::json* chosen = groups.size() == 1 ? &groups.begin().value() : nullptr;
      for (const auto& g : groups.items())
        for (const auto& t : g.value().at("targets"))
          if (t == "Linear") chosen = &g.value();
      if (!chosen) throw file_error(cfg_path, "compressed-tensors: several config groups and none targets Linear");
      const auto& w = chosen->at("weights");
      if (w.value("type", "int") != "int") throw file_error(cfg_path, "compressed-tensors: only integer weights are supported");
      p.bits = w.at("num_bits").get<int>();
      p.sym = w.value("symmetric", true);
      p.group_size = (w.value("strategy", "group") == "channel" || w["group_size"].is_null()) ? -1 : w["group_size"].get<int64_t>();
    }
  } catch (const nlohmann::json::exception& e) {
    throw file_error(cfg_path, std::string("malformed quantization config: ") + e.what());
  }
  return p;
}

FormatParams format_params_of(const std::string& fmt, const nlohmann::json& cfg, const std::string& cfg_path) {
  FormatParams fp;
  fp.base = params_of(fmt, cfg, cfg_path);
  try {
    if (fmt == "mlx") {
      for (const auto& [key, v] : cfg["quantization"].items())
        if (v.is_object() && v.contains("bits")) {
          if (v.value("group_size", fp.base.group_size) != fp.base.group_size)
            throw file_error(cfg_path, fmt::format("mlx: per-module group size of {} is not supported", key));
          fp.module_bits[key] = v.at("bits").get<int>();
        }
    } else if (fmt == "gptq" && cfg["quantization_config"].contains("dynamic")) {
      for (const auto& [key, v] : cfg["quantization_config"]["dynamic"].items()) {
        if (key.starts_with("-:") || !v.contains("bits")) continue;  // skips: those modules have no qweight
        if (v.contains("group_size") && v["group_size"].get<int64_t>() != fp.base.group_size)
          throw file_error(cfg_path, fmt::format("gptq: dynamic rule {} changes the group size, which is not supported", key));
        const std::string re = key.starts_with("+:") ? key.substr(2) : key;
        try {
          fp.module_bit_rules.emplace_back(UserRegex(re), v.at("bits").get<int>());
        } catch (const Error& e) {
          throw file_error(cfg_path, std::string("gptq: dynamic rule: ") + e.what());
        }
      }
    } else if (fmt == "compressed-tensors") {
      for (const auto& g : cfg["quantization_config"].at("config_groups").items()) {
        const auto& w = g.value().at("weights");
        const int64_t gs = (w.value("strategy", "group") == "channel" || w["group_size"].is_null()) ? -1 : w["group_size"].get<int64_t>();
        for (const auto& t : g.value().at("targets")) {
          const std::string target = t.get<std::string>();
          if (target == "Linear") continue;
          if (target.starts_with("re:"))
            throw file_error(cfg_path, "compressed-tensors: regular-expression targets are not supported (" + target + ")");
          if (gs != fp.base.group_size || w.value("symmetric", true) != fp.base.sym)
            throw file_error(cfg_path, "compressed-tensors: config groups differing in more than num_bits are not supported");
          fp.module_bits[target] = w.at("num_bits").get<int>();
        }
      }
    }
  } catch (const nlohmann::json::exception& e) {
    throw file_error(cfg_path, std::string("malformed quantization config: ") + e.what());
  }
  return fp;
}

// The parameters `module` (a module name) is stored with.
IntFormatParams params_for_module(const FormatParams& fp, const std::string& module) {
  IntFormatParams p = fp.base;
  if (auto it = fp.module_bits.find(module); it != fp.module_bits.end()) p.bits = it->second;
  for (const auto& [re, bits] : fp.module_bit_rules)
    if (re.search(module)) {  // GPTQModel and vLLM match from the start (re.match); ours are anchored
      p.bits = bits;
      break;
    }
  return p;
}

// Whether the module is stored quantized in this layout.
bool is_quantized(const std::string& fmt, const HfCheckpoint& ck, const std::string& prefix) {
  if (fmt == "gptq" || fmt == "awq") return ck.find(prefix + ".qweight") != nullptr;
  if (fmt == "compressed-tensors") return ck.find(prefix + ".weight_packed") != nullptr;
  return ck.find(prefix + ".scales") != nullptr;  // mlx
}

Tensor decode(const std::string& fmt, const HfCheckpoint& ck, const std::string& prefix, int64_t out, int64_t in,
              const IntFormatParams& p) {
  if (fmt == "gptq") return decode_gptq_linear(ck, prefix, out, in, p);
  if (fmt == "awq") return decode_awq_linear(ck, prefix, out, in, p);
  if (fmt == "compressed-tensors") return decode_compressed_tensors_linear(ck, prefix, out, in, p);
  return decode_mlx_linear(ck, prefix, out, in, p);
}

}  // namespace

std::string detect_hf_quant_format(const std::string& dir) {
  const fs::path cfg = fs::path(dir) / "config.json";
  if (!fs::is_directory(dir) || !fs::exists(cfg)) return "";
  return format_of(read_json_file(cfg.string()));
}

std::unique_ptr<LoadedModel> load_hf_quantized_model(const std::string& path, const LoadOptions& opt) {
  const std::string fmt = detect_hf_quant_format(path);
  if (fmt.empty()) return nullptr;
  const std::shared_ptr<const HfCheckpoint> ck = [&] {
    auto c = std::make_shared<HfCheckpoint>(path);
    if (fmt == "mlx") add_mlx_expert_views(*c);  // MoE experts stored stacked, as mlx-lm holds them
    return c;
  }();
  const std::string cfg_path = (fs::path(path) / "config.json").string();
  const FormatParams fp = format_params_of(fmt, ck->config(), cfg_path);
  const IntFormatParams& p = fp.base;
  auto w = std::make_shared<ModelWeights>();
  w->cfg = ModelConfig::from_json(ck->config(), cfg_path);
  const auto cache = make_decoded_weight_cache();
  for (NamedTensor& nt : named_tensors(*w)) {
    const std::string suffix = ".weight";
    const bool linear = nt.name.size() > suffix.size() && nt.name.ends_with(suffix) && nt.shape.size() == 2;
    const std::string prefix = linear ? nt.name.substr(0, nt.name.size() - suffix.size()) : nt.name;
    if (linear && is_quantized(fmt, *ck, prefix)) {
      const IntFormatParams mp = params_for_module(fp, prefix);
      const int64_t out = nt.shape[0], in = nt.shape[1];
      if (!opt.lazy) {
        *nt.tensor = decode(fmt, *ck, prefix, out, in, mp);
        continue;
      }
      // Decoded whole when the forward pass first reads it (model/decoded_rows.h). What decoding would
      // refuse only then is checked now: act order without the g_idx it groups by.
      if (fmt == "gptq" && mp.desc_act && !ck->find(prefix + ".g_idx"))
        throw file_error(path, prefix + ".g_idx is missing, but the config says desc_act (act order) groups the columns by it");
      nt.tensor->shape = nt.shape;
      nt.tensor->rows_source = decoded_rows(cache, out, in, size_t(in * mp.bits / 8),
                                            [ck, fmt, prefix, out, in, mp] { return decode(fmt, *ck, prefix, out, in, mp); });
      continue;
    }
    if (opt.lazy && nt.shape.size() == 2) {  // embeddings, lm_head, routers, ignored linears: rows from the mapping
      const TensorView& tv = checked_float_view(*ck, nt);
      nt.tensor->shape = nt.shape;
      nt.tensor->rows_source = safetensors_rows(ck, &tv);
      continue;
    }
    read_float_tensor(*ck, nt);
  }
  const size_t n_own = fp.module_bits.size() + fp.module_bit_rules.size();
  return make_loaded_model(std::move(w), *ck, fmt,
                           fmt::format("int{}{} {}{}", p.bits, n_own ? fmt::format(" (+{} modules of other bits)", n_own) : "",
                                       p.group_size < 0 ? std::string("per-channel") : fmt::format("g{}", p.group_size),
                                       p.sym ? " sym" : ""));
}

std::map<std::string, MlxLinearParts> read_mlx_linears(const std::string& dir) {
  if (detect_hf_quant_format(dir) != "mlx") throw file_error(dir, "not an MLX quantized checkpoint (config.json has no \"quantization\")");
  HfCheckpoint ck(dir);
  add_mlx_expert_views(ck);
  const std::string cfg_path = (fs::path(dir) / "config.json").string();
  const FormatParams fp = format_params_of("mlx", ck.config(), cfg_path);
  ModelWeights w;
  w.cfg = ModelConfig::from_json(ck.config(), cfg_path);
  std::map<std::string, MlxLinearParts> out;
  for (const NamedTensor& nt : named_tensors(w)) {
    const std::string suffix = ".weight";
    if (nt.shape.size() != 2 || !nt.name.ends_with(suffix)) continue;
    const std::string prefix = nt.name.substr(0, nt.name.size() - suffix.size());
    if (!is_quantized("mlx", ck, prefix)) continue;
    out.emplace(nt.name, read_mlx_linear(ck, prefix, nt.shape[0], nt.shape[1], params_for_module(fp, prefix)));
  }
  return out;
}

void register_hf_quant_loaders() {
  static std::once_flag once;
  std::call_once(once, [] {
    register_model_loader("hf-quantized",
                          [](const std::string& path, const LoadOptions& opt) { return load_hf_quantized_model(path, opt); });
  });
}

}  // namespace llmq
