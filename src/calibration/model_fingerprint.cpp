#include "calibration/model_fingerprint.h"

#include <vector>

#include <fmt/format.h>

#include "model/model_loader.h"
#include "model/weights.h"
#include "util/checksum.h"
#include "util/error.h"
#include "util/half.h"

namespace llmq {

namespace {

constexpr int kSampledRows = 16;

bool stored_as_floats(const Tensor& t) {
  if (!t.lazy()) return true;  // dense fp32 copy of a float checkpoint
  const size_t b = t.rows_source->row_bytes();
  return b == size_t(t.cols()) * 2 || b == size_t(t.cols()) * 4;
}

}  // namespace

std::string model_fingerprint(const ModelWeights& w) {
  const Tensor& e = w.embed;
  if (e.empty() || e.rows() <= 0 || e.cols() <= 0 || !stored_as_floats(e)) return {};
  Checksum sum;
  const int64_t shape[2] = {e.rows(), e.cols()};
  sum.add(shape, sizeof shape);
  std::vector<float> row(size_t(e.cols()));
  std::vector<uint16_t> bf(row.size());
  const int64_t n = std::min<int64_t>(kSampledRows, e.rows());
  for (int64_t i = 0; i < n; ++i) {
    e.read_rows(i * e.rows() / n, 1, row.data());
    for (size_t c = 0; c < row.size(); ++c) bf[c] = f32_to_bf16(row[c]);
    sum.add(bf.data(), bf.size() * sizeof(uint16_t));
  }
  return "v1:" + sum.hex();
}

void check_imatrix_model(const ImatrixFile& imatrix, const std::string& imatrix_path, const ModelWeights& w,
                         const std::string& model_path) {
  const std::string& made_on = imatrix.data().model_fingerprint;
  if (made_on.empty() || made_on.rfind("v1:", 0) != 0) return;
  const std::string here = model_fingerprint(w);
  if (here.empty() || here == made_on) return;
  throw file_error(imatrix_path, fmt::format("was made for another model: computed on weights other than {}'s "
                                             "(fingerprint {}, this model's {}); run `llm-quantize analyze {}`",
                                             model_path, made_on, here, model_path));
}

ImatrixFile open_imatrix_for_model(const std::string& imatrix_path, const std::string& model_path,
                                   int64_t n_experts) {
  ImatrixFile imatrix(imatrix_path, n_experts);
  if (!imatrix.data().model_fingerprint.empty()) {
    const LoadedModel m = load_model(model_path, {.lazy = true});
    check_imatrix_model(imatrix, imatrix_path, *m.weights, model_path);
  }
  return imatrix;
}

}  // namespace llmq
