#pragma once
// What `quantize ... gguf --gptq` reports (docs/gguf_gptq.md): for --format
// json an object {windows, tokens, tensors, notes}, for text one line.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "export/gguf/gguf_exporter.h"
#include "export/gguf/gguf_gptq.h"

namespace llmq::cli {

nlohmann::json gptq_report_json(const GgufExportResult& r, const GgufGptq& g, const std::vector<std::string>& notes);
void print_gptq_report(const GgufExportResult& r, const GgufGptq& g);

}  // namespace llmq::cli
