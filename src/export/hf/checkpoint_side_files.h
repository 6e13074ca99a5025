#pragma once
// What every Hugging Face-style checkpoint writer does besides the weights:
// write JSON configs, and copy the tokenizer and generation files a
// consumer needs from the source checkpoint.
#include <string>

#include <nlohmann/json.hpp>

#include "util/atomic_output.h"

namespace llmq {

// Pretty-printed, two-space indent; throws llmq::Error naming the file.
void write_json_file(const std::string& path, const nlohmann::json& j);

// Copies tokenizer.json, tokenizer.model, tokenizer_config.json, special
// tokens, vocab/merges, generation_config.json and chat_template.jinja where
// the source has them.
void copy_checkpoint_side_files(const std::string& source_dir, const AtomicOutputDir& out);

}  // namespace llmq
