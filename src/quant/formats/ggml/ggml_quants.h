#pragma once
// Quantize / dequantize rows in ggml's block formats, bit-exact in layout with
// ggml so that llama.cpp reads what we write and we read what it writes.
//
// Every quantizer takes an optional importance vector `imatrix` (one weight per
// column of the row, from an importance matrix; nullptr = unweighted) and
// picks scales/mins to minimise the (weighted) squared error.
#include <cstdint>

#include "quant/formats/ggml/ggml_types.h"

namespace llmq::ggml {

// --- whole-tensor entry points (multithreaded over rows) --------------------
// dst must hold n_rows * row_size(type, n_per_row) bytes. Returns bytes written.
size_t quantize_rows(GgmlType type, const float* src, void* dst, int64_t n_rows, int64_t n_per_row,
                     const float* imatrix = nullptr);
// Dequantize n values (a multiple of the block size) stored in `type`.
void dequantize_row(GgmlType type, const void* src, float* dst, int64_t n);
// Whether quantize_rows / dequantize_row support the type.
bool can_quantize(GgmlType type);
bool can_dequantize(GgmlType type);

// --- per-type row functions (n is a multiple of the block size) -------------
// plain floats
void quantize_row_f32(const float* x, void* y, int64_t n, const float* imatrix);
void quantize_row_f16(const float* x, void* y, int64_t n, const float* imatrix);
void quantize_row_bf16(const float* x, void* y, int64_t n, const float* imatrix);
void dequantize_row_f32(const void* x, float* y, int64_t n);
void dequantize_row_f16(const void* x, float* y, int64_t n);
void dequantize_row_bf16(const void* x, float* y, int64_t n);

// legacy 32-value blocks
void quantize_row_q4_0(const float* x, void* y, int64_t n, const float* imatrix);
void quantize_row_q4_1(const float* x, void* y, int64_t n, const float* imatrix);
void quantize_row_q5_0(const float* x, void* y, int64_t n, const float* imatrix);
void quantize_row_q5_1(const float* x, void* y, int64_t n, const float* imatrix);
void quantize_row_q8_0(const float* x, void* y, int64_t n, const float* imatrix);
void dequantize_row_q4_0(const void* x, float* y, int64_t n);
void dequantize_row_q4_1(const void* x, float* y, int64_t n);
void dequantize_row_q5_0(const void* x, float* y, int64_t n);
void dequantize_row_q5_1(const void* x, float* y, int64_t n);
void dequantize_row_q8_0(const void* x, float* y, int64_t n);

// k-quants: 256-value super-blocks
void quantize_row_q2_K(const float* x, void* y, int64_t n, const float* imatrix);
void quantize_row_q3_K(const float* x, void* y, int64_t n, const float* imatrix);
void quantize_row_q4_K(const float* x, void* y, int64_t n, const float* imatrix);
void quantize_row_q5_K(const float* x, void* y, int64_t n, const float* imatrix);
void quantize_row_q6_K(const float* x, void* y, int64_t n, const float* imatrix);
void quantize_row_q8_K(const float* x, void* y, int64_t n, const float* imatrix);
void dequantize_row_q2_K(const void* x, float* y, int64_t n);
void dequantize_row_q3_K(const void* x, float* y, int64_t n);
void dequantize_row_q4_K(const void* x, float* y, int64_t n);
void dequantize_row_q5_K(const void* x, float* y, int64_t n);
void dequantize_row_q6_K(const void* x, float* y, int64_t n);
void dequantize_row_q8_K(const void* x, float* y, int64_t n);

// ternary: 256-value blocks of -d, 0, +d
void quantize_row_tq1_0(const float* x, void* y, int64_t n, const float* imatrix);
void quantize_row_tq2_0(const float* x, void* y, int64_t n, const float* imatrix);
void dequantize_row_tq1_0(const void* x, float* y, int64_t n);
void dequantize_row_tq2_0(const void* x, float* y, int64_t n);

// i-quants: non-linear 4-bit levels (IQ4_NL: 32-value blocks, IQ4_XS: 256)
void quantize_row_iq4_nl(const float* x, void* y, int64_t n, const float* imatrix);
void quantize_row_iq4_xs(const float* x, void* y, int64_t n, const float* imatrix);
void dequantize_row_iq4_nl(const void* x, float* y, int64_t n);
void dequantize_row_iq4_xs(const void* x, float* y, int64_t n);

// i-quants on lattice grids (256-value super-blocks)
void quantize_row_iq1_s(const float* x, void* y, int64_t n, const float* imatrix);
void quantize_row_iq1_m(const float* x, void* y, int64_t n, const float* imatrix);
void quantize_row_iq2_xxs(const float* x, void* y, int64_t n, const float* imatrix);
void quantize_row_iq2_xs(const float* x, void* y, int64_t n, const float* imatrix);
void quantize_row_iq2_s(const float* x, void* y, int64_t n, const float* imatrix);
void quantize_row_iq3_xxs(const float* x, void* y, int64_t n, const float* imatrix);
void quantize_row_iq3_s(const float* x, void* y, int64_t n, const float* imatrix);
void dequantize_row_iq1_s(const void* x, float* y, int64_t n);
void dequantize_row_iq1_m(const void* x, float* y, int64_t n);
void dequantize_row_iq2_xxs(const void* x, float* y, int64_t n);
void dequantize_row_iq2_xs(const void* x, float* y, int64_t n);
void dequantize_row_iq2_s(const void* x, float* y, int64_t n);
void dequantize_row_iq3_xxs(const void* x, float* y, int64_t n);
void dequantize_row_iq3_s(const void* x, float* y, int64_t n);

// MXFP4 (GGUF type 39): 32-value blocks of one E8M0 exponent and 16 bytes of
// E2M1 nibbles (value j low, j + 16 high); the scale is searched for the
// lowest importance-weighted error (quant/formats/fp/mxfp4.h).
void quantize_row_mxfp4(const float* x, void* y, int64_t n, const float* imatrix);
void dequantize_row_mxfp4(const void* x, float* y, int64_t n);

}  // namespace llmq::ggml
