#pragma once
// The readers of untrusted files, as fuzz targets (issue 21): each target
// writes one input where its reader looks for it, reads it, and uses what it
// accepts (converts the weights, runs a forward pass, encodes text). A target
// returns normally when the input was read or refused with llmq::Error
// naming the file; any other exception, a crash or a hang is a finding.
//
// Shared by CI's short fuzz (deterministic_fuzz_test.cpp), the CI replay of
// the kept corpus (corpus_replay_test.cpp) and the long fork-per-input driver
// (driver/fuzz_main.cpp).
#include <filesystem>
#include <string>
#include <vector>

namespace llmq::fuzz {

struct Target {
  std::string name;       // safetensors, gguf, config, tokenizer, imatrix
  std::string file_name;  // the input's name inside the work folder
  // Bytes that mutations may touch (header region); 0: the whole input.
  size_t mutable_prefix = 0;
};

const std::vector<Target>& targets();
const Target& target(const std::string& name);  // throws std::invalid_argument listing the names

// A folder holding what the target's input needs beside it (symlinks to a
// fixture model's other files). Made once per process.
class Workspace {
 public:
  Workspace(const Target& t, const std::filesystem::path& dir);
  std::string input_path() const { return (dir_ / target_.file_name).string(); }
  // Writes the bytes as the input and runs the reader on them: true when
  // read and used, false when refused with llmq::Error naming the file.
  // Throws Finding on anything else. `refusal` gets the error's message.
  bool run(const std::string& bytes, std::string* refusal = nullptr) const;

 private:
  Target target_;
  std::filesystem::path dir_;
};

struct Finding : std::exception {
  explicit Finding(std::string w) : what_(std::move(w)) {}
  const char* what() const noexcept override { return what_.c_str(); }
  std::string what_;
};

// Seed inputs made from the fixture models (a small safetensors, tiny-llama's
// config.json and tokenizer.json, a tiny GGUF model, an imatrix).
std::vector<std::string> seed_inputs(const Target& t, const std::filesystem::path& scratch);

std::string read_bytes(const std::filesystem::path& path);
void write_bytes(const std::filesystem::path& path, const std::string& bytes);

// The folder of kept inputs of a target: tests/fuzz/corpus/<name>.
std::filesystem::path corpus_dir(const Target& t);

}  // namespace llmq::fuzz
