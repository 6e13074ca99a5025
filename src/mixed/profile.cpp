#include "mixed/profile.h"

#include <cctype>
#include <cmath>
#include <filesystem>
#include <set>

#include <fmt/format.h>

#include "calibration/imatrix_file.h"
#include "calibration/model_fingerprint.h"
#include "io/gguf/gguf_format.h"
#include "quant/formats/ggml/ggml_quants.h"
#include "util/atomic_output.h"
#include "util/byte_size.h"
#include "util/error.h"
#include "util/json_file.h"
#include "util/user_regex.h"

namespace fs = std::filesystem;

namespace llmq {

namespace {

using ggml::GgmlType;
using json = nlohmann::json;

constexpr const char* kFormat = "llm-quantize-dqprofile";
constexpr int kVersion = 1;

void only_keys(const json& j, const std::set<std::string>& allowed, const std::string& where,
               const std::string& source) {
  for (const auto& [k, v] : j.items())
    if (!allowed.count(k)) throw file_error(source, fmt::format("{}: unknown key \"{}\"", where, k));
}

GgmlType quant_type(const json& v, const std::string& where, const std::string& source) {
  if (!v.is_string()) throw file_error(source, where + ": a type name is expected");
  const auto t = ggml::type_from_name(v.get<std::string>());
  if (!t || ggml::block_size(*t) == 1)
    throw file_error(source, fmt::format("{}: '{}' is not a quantized ggml type", where, v.get<std::string>()));
  return *t;
}

double number(const json& v, const std::string& where, const std::string& source) {
  if (!v.is_number()) throw file_error(source, where + ": a number is expected");
  const double d = v.get<double>();
  if (!std::isfinite(d) || d < 0) throw file_error(source, where + ": must be a non-negative number");
  return d;
}

BitRange bit_range(const json& j, const std::string& where, const std::string& source) {
  BitRange r;
  if (j.contains("min_bits")) r.min_bits = number(j["min_bits"], where + ".min_bits", source);
  if (j.contains("max_bits")) r.max_bits = number(j["max_bits"], where + ".max_bits", source);
  if (r.min_bits > r.max_bits)
    throw file_error(source, fmt::format("{}: min_bits {:g} is above max_bits {:g}", where, r.min_bits, r.max_bits));
  return r;
}

void put_range(json& j, const BitRange& r) {
  if (r.min_bits > 0) j["min_bits"] = r.min_bits;
  if (r.max_bits < 1e8) j["max_bits"] = r.max_bits;
}

DynamicProfile builtin(const char* name, const char* description, double bpw, std::vector<TypeRule> rules) {
  DynamicProfile p;
  p.name = name;
  p.description = description;
  p.target_bpw = bpw;
  p.rules = std::move(rules);
  return p;
}

}  // namespace

std::optional<Budget> DynamicProfile::budget() const {
  if (target_bytes) return Budget{Budget::Kind::FileBytes, 0, *target_bytes};
  if (target_bpw) return Budget{Budget::Kind::BitsPerWeight, *target_bpw, 0};
  return std::nullopt;
}

DynamicProfile profile_from_json(const json& j, const std::string& source) {
  if (!j.is_object()) throw file_error(source, "a profile is a JSON object");
  only_keys(j, {"format", "version", "name", "description", "target", "sensitivity", "min_bits", "max_bits", "ladder",
                "rules", "experts", "protect_super_weights", "super_weight_type", "imatrix", "tensor_types"},
            "profile", source);
  if (j.value("format", "") != kFormat)
    throw file_error(source, std::string("not a dynamic quantization profile (\"format\" must be \"") + kFormat + "\")");
  if (!j.contains("version") || !j["version"].is_number_integer() || j["version"].get<int>() != kVersion)
    throw file_error(source, fmt::format("profile version {} (this build reads {})", j.value("version", json()).dump(), kVersion));
  DynamicProfile p;
  p.source = source;
  try {
    p.name = j.at("name").get<std::string>();
    p.description = j.value("description", "");
  } catch (const json::exception&) {
    throw file_error(source, "\"name\" (a string) is required");
  }
  if (p.name.empty()) throw file_error(source, "\"name\" is empty");
  if (j.contains("target")) {
    const json& t = j["target"];
    if (!t.is_object() || t.size() != 1 || !(t.contains("bpw") || t.contains("size") || t.contains("bytes")))
      throw file_error(source, "target: one of {\"bpw\": X}, {\"size\": \"3.0GB\"} or {\"bytes\": N} is expected");
    if (t.contains("bpw")) {
      p.target_bpw = number(t["bpw"], "target.bpw", source);
      if (*p.target_bpw <= 0) throw file_error(source, "target.bpw must be positive");
    } else if (t.contains("size")) {
      if (!t["size"].is_string()) throw file_error(source, "target.size: a string such as \"3.0GB\" is expected");
      try {
        p.target_bytes = parse_byte_size(t["size"].get<std::string>(), "target.size");
      } catch (const Error& e) {
        throw file_error(source, e.what());
      }
    } else {
      if (!t["bytes"].is_number_unsigned()) throw file_error(source, "target.bytes: a byte count is expected");
      p.target_bytes = t["bytes"].get<uint64_t>();
    }
  }
  if (j.contains("sensitivity")) {
    const auto m = j["sensitivity"].is_string() ? sensitivity_mode_from_name(j["sensitivity"].get<std::string>()) : std::nullopt;
    if (!m) throw file_error(source, "sensitivity: \"fast\", \"accurate\" or \"hybrid\" is expected");
    p.sensitivity = *m;
  }
  p.bits = bit_range(j, "profile", source);
  if (j.contains("ladder")) {
    if (!j["ladder"].is_array() || j["ladder"].empty()) throw file_error(source, "ladder: a non-empty array of type names is expected");
    for (const json& t : j["ladder"]) p.ladder.push_back(quant_type(t, "ladder", source));
  }
  if (j.contains("rules")) {
    if (!j["rules"].is_array()) throw file_error(source, "rules: an array is expected");
    size_t i = 0;
    for (const json& r : j["rules"]) {
      const std::string where = fmt::format("rules[{}]", i++);
      if (!r.is_object()) throw file_error(source, where + ": an object is expected");
      only_keys(r, {"match", "type", "min_bits", "max_bits"}, where, source);
      TypeRule rule;
      if (!r.contains("match") || !r["match"].is_string()) throw file_error(source, where + ": \"match\" (a regex) is required");
      rule.pattern = r["match"].get<std::string>();
      try {
        UserRegex re(rule.pattern);
      } catch (const Error& e) {
        throw file_error(source, fmt::format("{}: {}", where, e.what()));
      }
      if (r.contains("type")) {
        if (r.contains("min_bits") || r.contains("max_bits"))
          throw file_error(source, where + ": give either \"type\" or bit bounds, not both");
        rule.type = quant_type(r["type"], where + ".type", source);
      } else if (!r.contains("min_bits") && !r.contains("max_bits")) {
        throw file_error(source, where + ": a rule needs \"type\" or \"min_bits\"/\"max_bits\"");
      }
      rule.bits = bit_range(r, where, source);
      p.rules.push_back(std::move(rule));
    }
  }
  if (j.contains("experts")) {
    const json& e = j["experts"];
    if (!e.is_object()) throw file_error(source, "experts: an object is expected");
    only_keys(e, {"dynamic", "min_bits", "max_bits", "hot_fraction"}, "experts", source);
    if (e.contains("dynamic")) {
      if (!e["dynamic"].is_boolean()) throw file_error(source, "experts.dynamic: true or false is expected");
      p.experts.dynamic = e["dynamic"].get<bool>();
    }
    const BitRange r = bit_range(e, "experts", source);
    if (e.contains("min_bits")) p.experts.bits.min_bits = r.min_bits;
    if (e.contains("max_bits")) p.experts.bits.max_bits = r.max_bits;
    if (p.experts.bits.min_bits > p.experts.bits.max_bits) throw file_error(source, "experts: min_bits is above max_bits");
    if (e.contains("hot_fraction")) {
      p.experts.hot_fraction = number(e["hot_fraction"], "experts.hot_fraction", source);
      if (p.experts.hot_fraction > 1) throw file_error(source, "experts.hot_fraction must be in [0, 1]");
    }
  }
  if (j.contains("protect_super_weights")) {
    if (!j["protect_super_weights"].is_boolean()) throw file_error(source, "protect_super_weights: true or false is expected");
    p.protect_super_weights = j["protect_super_weights"].get<bool>();
  }
  if (j.contains("super_weight_type")) p.super_weight_type = quant_type(j["super_weight_type"], "super_weight_type", source);
  if (j.contains("imatrix")) {
    if (!j["imatrix"].is_string()) throw file_error(source, "imatrix: a path is expected");
    p.imatrix = j["imatrix"].get<std::string>();
  }
  if (j.contains("tensor_types")) {
    if (!j["tensor_types"].is_object()) throw file_error(source, "tensor_types: an object {\"GGUF name\": \"TYPE\"} is expected");
    for (const auto& [name, t] : j["tensor_types"].items()) p.tensor_types[name] = quant_type(t, "tensor_types." + name, source);
  }
  if (!p.budget() && p.tensor_types.empty())
    throw file_error(source, "the profile has neither a target nor tensor_types: give \"target\"");
  return p;
}

json profile_to_json(const DynamicProfile& p) {
  json j = {{"format", kFormat}, {"version", kVersion}, {"name", p.name}};
  if (!p.description.empty()) j["description"] = p.description;
  if (p.target_bytes) j["target"] = {{"bytes", *p.target_bytes}};
  else if (p.target_bpw) j["target"] = {{"bpw", *p.target_bpw}};
  if (p.sensitivity) j["sensitivity"] = sensitivity_mode_name(*p.sensitivity);
  put_range(j, p.bits);
  if (!p.ladder.empty()) {
    j["ladder"] = json::array();
    for (GgmlType t : p.ladder) j["ladder"].push_back(ggml::type_name(t));
  }
  j["rules"] = json::array();
  for (const TypeRule& r : p.rules) {
    json rj = {{"match", r.pattern}};
    if (r.type) rj["type"] = ggml::type_name(*r.type);
    else put_range(rj, r.bits);
    j["rules"].push_back(rj);
  }
  j["experts"] = {{"dynamic", p.experts.dynamic}, {"hot_fraction", p.experts.hot_fraction}};
  put_range(j["experts"], p.experts.bits);
  j["protect_super_weights"] = p.protect_super_weights;
  j["super_weight_type"] = ggml::type_name(p.super_weight_type);
  if (!p.imatrix.empty()) j["imatrix"] = p.imatrix;
  if (!p.tensor_types.empty()) {
    j["tensor_types"] = json::object();
    for (const auto& [name, t] : p.tensor_types) j["tensor_types"][name] = ggml::type_name(t);
  }
  return j;
}

const std::vector<DynamicProfile>& builtin_profiles() {
  static const std::vector<DynamicProfile> kProfiles = [] {
    const std::string attention = R"(attn_(q|k|v|output)\.weight$)";
    const std::string mlp = R"(ffn_(gate|up|down)(_exps)?\.weight$)";
    return std::vector<DynamicProfile>{
        builtin("attention-high",
                "Attention in the 4-bit class, MLP in the 2-bit class; embeddings and output head by sensitivity; "
                "about 3.0 bits per weight",
                3.0, {{attention, std::nullopt, {4, 4}}, {mlp, std::nullopt, {2, 2}}}),
        builtin("balanced",
                "Every tensor by measured sensitivity (exact allocation), about 3.5 bits per weight; the default", 3.5, {}),
        builtin("compression-max", "Every tensor by measured sensitivity, about 2.5 bits per weight", 2.5, {}),
    };
  }();
  return kProfiles;
}

DynamicProfile load_profile(const std::string& name_or_path) {
  for (const DynamicProfile& p : builtin_profiles())
    if (p.name == name_or_path) return p;
  std::error_code ec;
  if (!fs::exists(name_or_path, ec)) {
    std::string names;
    for (const DynamicProfile& p : builtin_profiles()) names += (names.empty() ? "" : ", ") + p.name;
    throw file_error(name_or_path, "no such profile file, and not a built-in profile (" + names + ")");
  }
  return profile_from_json(read_json_file(name_or_path), name_or_path);
}

void write_profile(const DynamicProfile& p, const std::string& path) {
  const std::string text = profile_to_json(p).dump(2) + "\n";
  AtomicOutputFile out(path);
  out.write(text.data(), text.size());
  out.commit();
}

ProfileCheck validate_profile(const DynamicProfile& p, const TensorCatalog& catalog) {
  ProfileCheck c;
  const auto& tensors = catalog.tensors();
  const std::vector<GgmlType> ladder = p.ladder.empty() ? default_type_ladder() : p.ladder;
  for (GgmlType t : p.ladder)
    if (!ggml::can_quantize(t)) c.problems.push_back(fmt::format("ladder: this build cannot write {}", ggml::type_name(t)));

  // Rules: each must match something, and what it asks must be storable.
  for (size_t i = 0; i < p.rules.size(); ++i) {
    const TypeRule& r = p.rules[i];
    const UserRegex re(r.pattern);
    std::vector<std::string> matched, unfit;
    for (const CatalogTensor& t : tensors) {
      if (!t.quantizable || !re.search(t.spec.name)) continue;
      matched.push_back(t.spec.name);
      const bool ok = r.type ? t.spec.row_length() % ggml::block_size(*r.type) == 0
                             : !fitting_types(ladder, t.spec.row_length(), p.bits.intersect(r.bits)).empty();
      if (!ok) unfit.push_back(t.spec.name);
    }
    const std::string what = fmt::format("rule {} ('{}')", i, r.pattern);
    if (matched.empty()) c.problems.push_back(what + " matches no quantized tensor of the model");
    else c.notes.push_back(fmt::format("{} matches {} tensor(s)", what, matched.size()));
    if (!unfit.empty())
      c.problems.push_back(fmt::format("{}: {} of the matched tensors cannot be stored as asked (first: {}, rows of {} values)",
                                       what, unfit.size(), unfit.front(), catalog.find(unfit.front())->spec.row_length()));
  }

  // Resolved types: every name known and quantized, every type storable, nothing missing.
  if (!p.tensor_types.empty()) {
    for (const auto& [name, type] : p.tensor_types) {
      const CatalogTensor* t = catalog.find(name);
      if (!t) c.problems.push_back(fmt::format("tensor_types: the model has no tensor {}", name));
      else if (!t->quantizable) c.problems.push_back(fmt::format("tensor_types: {} is not quantized (it stays {})", name, ggml::type_name(t->fixed_type)));
      else if (t->spec.row_length() % ggml::block_size(type) != 0)
        c.problems.push_back(fmt::format("tensor_types: {} has rows of {} values, not a multiple of {}'s block of {}", name,
                                         t->spec.row_length(), ggml::type_name(type), ggml::block_size(type)));
      else if (!ggml::can_quantize(type))
        c.problems.push_back(fmt::format("tensor_types: this build cannot write {} ({})", ggml::type_name(type), name));
    }
    std::vector<std::string> missing;
    for (const CatalogTensor& t : tensors)
      if (t.quantizable && !p.tensor_types.count(t.spec.name)) missing.push_back(t.spec.name);
    if (!missing.empty())
      c.problems.push_back(fmt::format("tensor_types: no type for {} quantized tensor(s) of the model (first: {})",
                                       missing.size(), missing.front()));
  }

  // Candidates and the budget: the smallest mixture must fit the target.
  if (p.tensor_types.empty()) {
    AllocationOptions ao;
    ao.ladder = ladder;
    ao.bits = p.bits;
    ao.rules = p.rules;
    ao.dynamic_experts = p.experts.dynamic;
    ao.expert_bits = p.experts.bits;
    try {
      const std::vector<TensorCandidates> cands = plan_candidates(catalog, ao);
      uint64_t lo = 0, hi = 0, lo_file = catalog.header_bytes(), hi_file = catalog.header_bytes();
      for (size_t i = 0; i < cands.size(); ++i) {
        const GgufTensorSpec& s = tensors[i].spec;
        uint64_t a = UINT64_MAX, b = 0;
        if (cands[i].fixed) a = b = tensor_data_bytes(s, cands[i].fixed_type);
        for (GgmlType t : cands[i].types) a = std::min(a, tensor_data_bytes(s, t)), b = std::max(b, tensor_data_bytes(s, t));
        lo += a, hi += b;
        lo_file += gguf::align_up(a, TensorCatalog::kAlignment), hi_file += gguf::align_up(b, TensorCatalog::kAlignment);
      }
      const double n = double(catalog.n_elements());
      if (p.target_bpw && !p.target_bytes) {
        if (double(lo) * 8 / n > *p.target_bpw)
          c.problems.push_back(fmt::format("target {:.3f} bpw is below the smallest mixture the candidates allow ({:.3f} bpw)",
                                           *p.target_bpw, double(lo) * 8 / n));
        else if (double(hi) * 8 / n < *p.target_bpw)
          c.notes.push_back(fmt::format("target {:.3f} bpw is above the largest mixture ({:.3f} bpw): every tensor gets its largest candidate",
                                        *p.target_bpw, double(hi) * 8 / n));
        else
          c.notes.push_back(fmt::format("target {:.3f} bpw lies within the reachable {:.3f}..{:.3f} bpw", *p.target_bpw,
                                        double(lo) * 8 / n, double(hi) * 8 / n));
      }
      if (p.target_bytes) {
        if (lo_file > *p.target_bytes)
          c.problems.push_back(fmt::format("target {} bytes is below the smallest file the candidates allow ({} bytes)",
                                           *p.target_bytes, lo_file));
        else
          c.notes.push_back(fmt::format("target {} bytes; reachable files {}..{} bytes", *p.target_bytes, lo_file, hi_file));
      }
    } catch (const Error& e) {
      c.problems.push_back(e.what());
    }
  }

  if (p.experts.dynamic && catalog.config().n_experts <= 1)
    c.notes.push_back("experts.dynamic is set but the model has no MoE layers: the expert settings are unused");

  // The recorded importance matrix: present, and about this model.
  if (!p.imatrix.empty()) {
    std::error_code ec;
    if (!fs::exists(p.imatrix, ec)) {
      c.notes.push_back(fmt::format("imatrix {} does not exist here; pass --imatrix when quantizing", p.imatrix));
    } else {
      try {
        const ImatrixFile im = open_imatrix_for_model(p.imatrix, catalog.model_dir());
        std::vector<std::string> foreign;
        for (const std::string& n : im.names())
          if (!catalog.find(n)) foreign.push_back(n);
        if (!foreign.empty())
          c.problems.push_back(fmt::format("imatrix {} has {} entries for tensors the model does not have (first: {}): "
                                           "it was made for another model",
                                           p.imatrix, foreign.size(), foreign.front()));
        else
          c.notes.push_back(fmt::format("imatrix {}: {} entries, all of the model's tensors", p.imatrix, im.size()));
      } catch (const Error& e) {
        c.problems.push_back(e.what());
      }
    }
  }
  return c;
}

}  // namespace llmq
