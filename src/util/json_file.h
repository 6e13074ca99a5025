#pragma once
// Reading the small JSON files of a checkpoint and of our own outputs
// (config.json, tokenizer.json, profiles, caches, ...), with failures
// reported as llmq::Error naming the file.
#include <optional>
#include <string>
#include <type_traits>

#include <nlohmann/json.hpp>

namespace llmq {

// Throws llmq::Error "path: ..." if the file is missing, cannot be read or is not JSON.
nlohmann::json read_json_file(const std::string& path);

// Like read_json_file, but nullopt if the file does not exist.
std::optional<nlohmann::json> read_json_file_if_present(const std::string& path);

// Value of key as T if present and of that type, else nullopt (JSON null counts as absent).
template <typename T>
std::optional<T> json_value(const nlohmann::json& object, const char* key) {
  if (!object.is_object()) return std::nullopt;
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::nullopt;
  if constexpr (std::is_same_v<T, bool>) {
    if (!it->is_boolean()) return std::nullopt;
  } else if constexpr (std::is_integral_v<T>) {
    if (!it->is_number_integer()) return std::nullopt;
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!it->is_number()) return std::nullopt;
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!it->is_string()) return std::nullopt;
  }
  return it->get<T>();
}

}  // namespace llmq
