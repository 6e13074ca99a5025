#include "runtime/deterministic_gemm.h"

#include <algorithm>

#include <cblas.h>

namespace llmq::runtime {

OneBlasThreadPerCall::OneBlasThreadPerCall() {
  if (openblas_get_parallel() == 1) {  // 1: pthreads; 2: OpenMP; 0: sequential
    saved_ = openblas_get_num_threads();
    openblas_set_num_threads(1);
  }
}

OneBlasThreadPerCall::~OneBlasThreadPerCall() {
  if (saved_ > 0) openblas_set_num_threads(saved_);
}

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  // Tiles big enough that packing the operands costs little next to the
  // multiply (256 x 256 x K), small enough to give many cores work.
  constexpr int64_t kTileM = 256, kTileN = 256;
  const int64_t tm = (M + kTileM - 1) / kTileM, tn = (N + kTileN - 1) / kTileN;
  const auto ta = trans_a ? CblasTrans : CblasNoTrans, tb = trans_b ? CblasTrans : CblasNoTrans;
  const OneBlasThreadPerCall one_thread;
  // Inside a parallel region OpenBLAS (OpenMP build) runs each call on the calling thread alone;
  // the region is entered even for one tile, which would otherwise get OpenBLAS's own threads.
#pragma omp parallel for schedule(dynamic, 1) collapse(2)
  for (int64_t i = 0; i < tm; ++i)
    for (int64_t j = 0; j < tn; ++j) {
      const int64_t i0 = i * kTileM, j0 = j * kTileN;
      const int64_t m = std::min(kTileM, M - i0), n = std::min(kTileN, N - j0);
      const float* a = trans_a ? A + i0 : A + i0 * lda;
      const float* b = trans_b ? B + j0 * ldb : B + j0;
      cblas_sgemm(CblasRowMajor, ta, tb, int(m), int(n), int(K), alpha, a, int(lda), b, int(ldb), beta,
                  C + i0 * ldc + j0, int(ldc));
    }
}

}  // namespace llmq::runtime
