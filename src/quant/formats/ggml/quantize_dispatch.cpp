// Whole-tensor entry points: pick the row codec for a ggml type and run it
// over the rows in parallel (rows are independent, so OpenMP splits them).
#include <exception>

#include "quant/formats/ggml/ggml_quants.h"
#include "util/error.h"

namespace llmq::ggml {

namespace {

using QuantizeRowFn = void (*)(const float*, void*, int64_t, const float*);
using DequantizeRowFn = void (*)(const void*, float*, int64_t);

struct RowCodec {
  QuantizeRowFn quantize;
  DequantizeRowFn dequantize;
};

// nullptr for types we neither write nor read.
const RowCodec* codec_for(GgmlType type) {
  static constexpr RowCodec f32{quantize_row_f32, dequantize_row_f32};
  static constexpr RowCodec f16{quantize_row_f16, dequantize_row_f16};
  static constexpr RowCodec bf16{quantize_row_bf16, dequantize_row_bf16};
  static constexpr RowCodec q4_0{quantize_row_q4_0, dequantize_row_q4_0};
  static constexpr RowCodec q4_1{quantize_row_q4_1, dequantize_row_q4_1};
  static constexpr RowCodec q5_0{quantize_row_q5_0, dequantize_row_q5_0};
  static constexpr RowCodec q5_1{quantize_row_q5_1, dequantize_row_q5_1};
  static constexpr RowCodec q8_0{quantize_row_q8_0, dequantize_row_q8_0};
  static constexpr RowCodec q2_k{quantize_row_q2_K, dequantize_row_q2_K};
  static constexpr RowCodec q3_k{quantize_row_q3_K, dequantize_row_q3_K};
  static constexpr RowCodec q4_k{quantize_row_q4_K, dequantize_row_q4_K};
  static constexpr RowCodec q5_k{quantize_row_q5_K, dequantize_row_q5_K};
  static constexpr RowCodec q6_k{quantize_row_q6_K, dequantize_row_q6_K};
  static constexpr RowCodec q8_k{quantize_row_q8_K, dequantize_row_q8_K};
  static constexpr RowCodec tq1_0{quantize_row_tq1_0, dequantize_row_tq1_0};
  static constexpr RowCodec tq2_0{quantize_row_tq2_0, dequantize_row_tq2_0};
  static constexpr RowCodec iq4_nl{quantize_row_iq4_nl, dequantize_row_iq4_nl};
  static constexpr RowCodec iq4_xs{quantize_row_iq4_xs, dequantize_row_iq4_xs};
  static constexpr RowCodec iq1_s{quantize_row_iq1_s, dequantize_row_iq1_s};
  static constexpr RowCodec iq1_m{quantize_row_iq1_m, dequantize_row_iq1_m};
  static constexpr RowCodec iq2_xxs{quantize_row_iq2_xxs, dequantize_row_iq2_xxs};
  static constexpr RowCodec iq2_xs{quantize_row_iq2_xs, dequantize_row_iq2_xs};
  static constexpr RowCodec iq2_s{quantize_row_iq2_s, dequantize_row_iq2_s};
  static constexpr RowCodec iq3_xxs{quantize_row_iq3_xxs, dequantize_row_iq3_xxs};
  static constexpr RowCodec iq3_s{quantize_row_iq3_s, dequantize_row_iq3_s};
  static constexpr RowCodec mxfp4{quantize_row_mxfp4, dequantize_row_mxfp4};
  switch (type) {
    case GgmlType::F32: return &f32;
    case GgmlType::F16: return &f16;
    case GgmlType::BF16: return &bf16;
    case GgmlType::Q4_0: return &q4_0;
    case GgmlType::Q4_1: return &q4_1;
    case GgmlType::Q5_0: return &q5_0;
    case GgmlType::Q5_1: return &q5_1;
    case GgmlType::Q8_0: return &q8_0;
    case GgmlType::Q2_K: return &q2_k;
    case GgmlType::Q3_K: return &q3_k;
    case GgmlType::Q4_K: return &q4_k;
    case GgmlType::Q5_K: return &q5_k;
    case GgmlType::Q6_K: return &q6_k;
    case GgmlType::Q8_K: return &q8_k;
    case GgmlType::TQ1_0: return &tq1_0;
    case GgmlType::TQ2_0: return &tq2_0;
    case GgmlType::IQ4_NL: return &iq4_nl;
    case GgmlType::IQ4_XS: return &iq4_xs;
    case GgmlType::IQ1_S: return &iq1_s;
    case GgmlType::IQ1_M: return &iq1_m;
    case GgmlType::IQ2_XXS: return &iq2_xxs;
    case GgmlType::IQ2_XS: return &iq2_xs;
    case GgmlType::IQ2_S: return &iq2_s;
    case GgmlType::IQ3_XXS: return &iq3_xxs;
    case GgmlType::IQ3_S: return &iq3_s;
    case GgmlType::MXFP4: return &mxfp4;
    default: return nullptr;
  }
}

// Below this many values a tensor is converted on the calling thread: waking
// the OpenMP team would cost more than the work.
constexpr int64_t kParallelMinValues = 1 << 16;

}  // namespace

bool can_quantize(GgmlType type) { return codec_for(type) != nullptr; }
bool can_dequantize(GgmlType type) { return codec_for(type) != nullptr; }

size_t quantize_rows(GgmlType type, const float* src, void* dst, int64_t n_rows, int64_t n_per_row,
                     const float* imatrix) {
  const RowCodec* codec = codec_for(type);
  if (!codec) fail("cannot quantize to ggml type {}", type_name(type));
  if (n_rows < 0 || n_per_row < 0) fail("cannot quantize {} rows of {} values", n_rows, n_per_row);
  const size_t bytes_per_row = row_size(type, n_per_row);  // throws unless whole blocks

  // An exception must not leave an OpenMP region: keep the first, rethrow after.
  std::exception_ptr error;
#pragma omp parallel for schedule(static) if (n_rows * n_per_row >= kParallelMinValues)
  for (int64_t r = 0; r < n_rows; ++r) {
    try {
      codec->quantize(src + r * n_per_row, static_cast<uint8_t*>(dst) + size_t(r) * bytes_per_row, n_per_row,
                      imatrix);
    } catch (...) {
#pragma omp critical(llmq_quantize_rows_error)
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
  return size_t(n_rows) * bytes_per_row;
}

void dequantize_row(GgmlType type, const void* src, float* dst, int64_t n) {
  const RowCodec* codec = codec_for(type);
  if (!codec) fail("cannot dequantize ggml type {}", type_name(type));
  if (n < 0) fail("cannot dequantize {} values", n);
  row_size(type, n);  // throws unless n is a whole number of blocks
  codec->dequantize(src, dst, n);
}

}  // namespace llmq::ggml
