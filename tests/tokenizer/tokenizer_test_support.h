#pragma once
// Fixture paths, reference data and scratch directories for the tokenizer tests.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

namespace llmq::tokenizer_test {

inline std::string fixture_dir(const std::string& model) { return std::string(LLMQ_SHARED_DIR) + "/models/" + model; }

inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

inline nlohmann::json reference(const std::string& model) {
  return nlohmann::json::parse(read_text(fixture_dir(model) + "/reference.json"));
}

inline std::string replace_all(const std::string& s, const std::string& from, const std::string& to) {
  std::string out;
  size_t last = 0, hit;
  while ((hit = s.find(from, last)) != std::string::npos) {
    out.append(s, last, hit - last);
    out += to;
    last = hit + from.size();
  }
  out.append(s, last);
  return out;
}

inline std::string wikitext() { return read_text(std::string(LLMQ_SHARED_DIR) + "/data/wikitext2_test.txt"); }

// A fresh directory under /tmp, removed with everything in it at scope exit.
class ScratchDir {
 public:
  ScratchDir() {
    static int counter = 0;
    path_ = std::filesystem::temp_directory_path() /
            ("llmq-tokenizer-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  std::string path() const { return path_.string(); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  void write(const std::string& name, const std::string& content) const {
    std::ofstream(file(name), std::ios::binary) << content;
  }
  void write_json(const std::string& name, const nlohmann::json& j) const { write(name, j.dump()); }
  void copy_from(const std::string& dir, const std::string& name) const {
    std::filesystem::copy_file(dir + "/" + name, file(name));
  }

 private:
  std::filesystem::path path_;
};

}  // namespace llmq::tokenizer_test
