#include "util/json_file.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "util/error.h"

namespace llmq {

nlohmann::json read_json_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw file_error(path, std::filesystem::exists(path) ? "cannot read file" : "file not found");
  std::stringstream buffer;
  buffer << in.rdbuf();
  try {
    return nlohmann::json::parse(buffer.str());
  } catch (const nlohmann::json::exception& e) {  // parse errors, and numbers beyond double (out_of_range)
    throw file_error(path, std::string("malformed JSON: ") + e.what());
  }
}

std::optional<nlohmann::json> read_json_file_if_present(const std::string& path) {
  if (!std::filesystem::exists(path)) return std::nullopt;
  return read_json_file(path);
}

}  // namespace llmq
