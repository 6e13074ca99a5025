#include "mixed/sensitivity.h"

#include <cmath>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "util/atomic_output.h"
#include "util/error.h"
#include "util/mapped_file.h"

namespace llmq {

namespace {

constexpr const char* kFormat = "llm-quantize-sensitivity";
constexpr int kVersion = 1;

ggml::GgmlType type_named(const std::string& s, const std::string& source) {
  const auto t = ggml::type_from_name(s);
  if (!t) throw file_error(source, "unknown ggml type '" + s + "'");
  return *t;
}

}  // namespace

const char* sensitivity_mode_name(SensitivityMode m) {
  switch (m) {
    case SensitivityMode::Fast: return "fast";
    case SensitivityMode::Accurate: return "accurate";
    case SensitivityMode::Hybrid: return "hybrid";
  }
  return "?";
}

std::optional<SensitivityMode> sensitivity_mode_from_name(const std::string& s) {
  if (s == "fast") return SensitivityMode::Fast;
  if (s == "accurate") return SensitivityMode::Accurate;
  if (s == "hybrid") return SensitivityMode::Hybrid;
  return std::nullopt;
}

const TypeSensitivity* SensitivityTable::find(const std::string& name, ggml::GgmlType type) const {
  auto it = tensors.find(name);
  if (it == tensors.end()) return nullptr;
  auto jt = it->second.find(type);
  return jt == it->second.end() ? nullptr : &jt->second;
}

bool SensitivityTable::has_all(const std::string& name, const std::vector<ggml::GgmlType>& types) const {
  auto r = refused.find(name);
  for (ggml::GgmlType t : types)
    if (!find(name, t) && (r == refused.end() || !r->second.count(t))) return false;
  return true;
}

nlohmann::json SensitivityTable::to_json() const {
  nlohmann::json tj = nlohmann::json::object();
  for (const auto& [name, by_type] : tensors) {
    nlohmann::json e = nlohmann::json::object();
    for (const auto& [type, s] : by_type) {
      if (s.experts.empty()) e[ggml::type_name(type)] = s.value;
      else e[ggml::type_name(type)] = {{"value", s.value}, {"experts", s.experts}};
    }
    tj[name] = e;
  }
  nlohmann::json rj = nlohmann::json::object();
  for (const auto& [name, by_type] : refused)
    for (const auto& [type, why] : by_type) rj[name][ggml::type_name(type)] = why;
  return {{"format", kFormat}, {"version", kVersion},  {"mode", sensitivity_mode_name(mode)},
          {"fingerprint", fingerprint}, {"tensors", tj}, {"refused", rj}};
}

SensitivityTable SensitivityTable::from_json(const nlohmann::json& j, const std::string& source) {
  if (!j.is_object() || j.value("format", "") != kFormat)
    throw file_error(source, std::string("not a sensitivity table (no \"format\": \"") + kFormat + "\")");
  if (j.value("version", 0) != kVersion)
    throw file_error(source, "sensitivity table version " + j.value("version", nlohmann::json()).dump() +
                                 " (this build reads " + std::to_string(kVersion) + ")");
  SensitivityTable t;
  const auto mode = sensitivity_mode_from_name(j.value("mode", ""));
  if (!mode) throw file_error(source, "\"mode\" must be \"fast\", \"accurate\" or \"hybrid\"");
  t.mode = *mode;
  t.fingerprint = j.value("fingerprint", nlohmann::json::object());
  try {
    for (const auto& [name, by_type] : j.at("tensors").items())
      for (const auto& [type, v] : by_type.items()) {
        TypeSensitivity s;
        if (v.is_number()) {
          s.value = v.get<double>();
        } else {
          s.value = v.at("value").get<double>();
          s.experts = v.at("experts").get<std::vector<double>>();
        }
        if (!std::isfinite(s.value)) throw file_error(source, name + " " + type + ": value is not a finite number");
        t.tensors[name][type_named(type, source)] = std::move(s);
      }
    if (j.contains("refused"))
      for (const auto& [name, by_type] : j.at("refused").items())
        for (const auto& [type, why] : by_type.items()) t.refused[name][type_named(type, source)] = why.get<std::string>();
  } catch (const nlohmann::json::exception& e) {
    throw file_error(source, std::string("malformed sensitivity table: ") + e.what());
  }
  return t;
}

SensitivityCache::SensitivityCache(std::string path, SensitivityMode mode, nlohmann::json fingerprint)
    : path_(std::move(path)) {
  table_.mode = mode;
  table_.fingerprint = fingerprint;
  std::error_code ec;
  if (path_.empty() || !std::filesystem::exists(path_, ec)) return;
  try {
    std::ifstream f(path_);
    SensitivityTable saved = SensitivityTable::from_json(nlohmann::json::parse(f), path_);
    if (saved.mode != mode || saved.fingerprint != fingerprint) {
      note_ = "computed from other inputs (model, importance matrix, mode or windows); recomputing";
      return;
    }
    table_ = std::move(saved);
    loaded_ = int64_t(table_.tensors.size());
  } catch (const nlohmann::json::exception& e) {
    note_ = std::string("unreadable (") + e.what() + "); recomputing";
  } catch (const Error& e) {
    note_ = std::string(e.what()) + "; recomputing";
  }
}

void SensitivityCache::save() const {
  if (!path_.empty()) save_json_atomically(path_, table_.to_json());
}

void save_json_atomically(const std::string& path, const nlohmann::json& j) {
  const std::string text = j.dump(1);
  AtomicOutputFile out(path);
  out.write(text.data(), text.size());
  out.commit();
}

std::string file_fingerprint(const std::string& path) {
  MappedFile f(path);
  uint64_t h = 1469598103934665603ull;
  const auto* p = static_cast<const uint8_t*>(f.data());
  for (size_t i = 0; i < f.size(); ++i) {
    h ^= p[i];
    h *= 1099511628211ull;
  }
  return fmt::format("{:016x}", h);
}

nlohmann::json model_fingerprint(const std::string& model_dir, uint64_t weights_bytes) {
  return {{"model", std::filesystem::weakly_canonical(model_dir).string()},
          {"weights_bytes", weights_bytes},
          {"config", file_fingerprint((std::filesystem::path(model_dir) / "config.json").string())}};
}

}  // namespace llmq
