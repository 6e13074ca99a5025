#pragma once
// Matrix products whose bits do not depend on the thread count.
#include <cstdint>

namespace llmq::runtime {

// C = alpha * op(A) * op(B) + beta * C (row-major, op = transpose when the
// flag is set; C is M x N, the inner dimension K), with the same bits for
// any thread count: C is cut into tiles of a fixed size and each tile is one
// single-threaded BLAS call (OpenBLAS's own threading sums in an order that
// depends on how many threads it has). Every product whose result feeds
// calibration statistics or a quantizer goes through here, so that a run
// gives the same file on 2 cores or 128, and across the ranks of an MPI job.
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

// While alive, a BLAS call made inside an OpenMP parallel region runs on the
// calling thread alone. The OpenMP build of OpenBLAS that we link does so by
// itself; a pthread build that another module loaded first (numpy does, in
// a Python process) would start its own threads in every call, so it is
// set to one thread and restored afterwards.
class OneBlasThreadPerCall {
 public:
  OneBlasThreadPerCall();
  ~OneBlasThreadPerCall();
  OneBlasThreadPerCall(const OneBlasThreadPerCall&) = delete;
  OneBlasThreadPerCall& operator=(const OneBlasThreadPerCall&) = delete;

 private:
  int saved_ = 0;
};

}  // namespace llmq::runtime
