#pragma once
// Paths to the fixture models and data, and small helpers shared by tests.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace llmq::test {

inline std::string shared_dir() { return LLMQ_SHARED_DIR; }
inline std::string model_dir(const std::string& name) {
  // The bundled example model lives in the repo; the others beside it in shared/.
  if (name == "tiny-llama") return std::string(LLMQ_SOURCE_DIR) + "/models/tiny-llama";
  return shared_dir() + "/models/" + name;
}
inline std::string data_file(const std::string& name) { return shared_dir() + "/data/" + name; }
inline nlohmann::json reference(const std::string& model) {
  std::ifstream f(model_dir(model) + "/reference.json");
  return nlohmann::json::parse(f);
}
inline std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}
inline void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << bytes;
}

// The message of the exception `fn` throws; "" when it throws none.
inline std::string thrown_message(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

// A fresh temporary directory removed at scope exit.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    path = std::filesystem::temp_directory_path() /
           ("llmq-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
  static int& counter() {
    static int c = 0;
    return c;
  }
};

}  // namespace llmq::test
