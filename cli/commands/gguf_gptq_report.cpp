#include "gguf_gptq_report.h"

#include <fmt/format.h>

namespace llmq::cli {

namespace {
int64_t tensors_with_gptq(const GgufExportResult& r) {
  int64_t n = 0;
  for (const GgufTensorResult& t : r.tensors) n += t.used_gptq;
  return n;
}
}  // namespace

nlohmann::json gptq_report_json(const GgufExportResult& r, const GgufGptq& g, const std::vector<std::string>& notes) {
  return {{"windows", g.windows()}, {"tokens", g.tokens()}, {"tensors", tensors_with_gptq(r)}, {"notes", notes}};
}

void print_gptq_report(const GgufExportResult& r, const GgufGptq& g) {
  const int64_t n = tensors_with_gptq(r);
  fmt::print("GPTQ: {} tensors with error feedback, Hessians from {} windows ({} tokens){}\n", n, g.windows(),
             g.tokens(), n ? "" : " (no tensor of this file is a k-quant or IQ4_XS: nothing to do)");
}

}  // namespace llmq::cli
