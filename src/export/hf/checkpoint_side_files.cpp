#include "export/hf/checkpoint_side_files.h"

#include <filesystem>
#include <fstream>

#include "util/error.h"

namespace fs = std::filesystem;

namespace llmq {

void write_json_file(const std::string& path, const nlohmann::json& j) {
  std::ofstream f(path);
  f << j.dump(2) << "\n";
  if (!f) throw file_error(path, "cannot write");
}

void copy_checkpoint_side_files(const std::string& source_dir, const AtomicOutputDir& out) {
  static constexpr const char* kSideFiles[] = {
      "tokenizer.json",    "tokenizer.model", "tokenizer_config.json",  "special_tokens_map.json", "added_tokens.json",
      "vocab.json",        "merges.txt",      "generation_config.json", "chat_template.jinja"};
  for (const char* name : kSideFiles) {
    const fs::path src = fs::path(source_dir) / name;
    if (fs::exists(src)) fs::copy_file(src, out.file(name), fs::copy_options::overwrite_existing);
  }
}

}  // namespace llmq
