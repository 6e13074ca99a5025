#pragma once
// Settings the math libraries read once, when they are loaded: they must be in
// the environment before the program starts, so the program restarts itself
// once with them when they are missing.

namespace llmq {

// Call first thing in main(). When OpenBLAS picked generic kernels on a CPU it
// did not recognise (virtual machines often hide the CPU model: "Intel Xeon
// Processor"), or OpenMP's wait policy is unset, sets OPENBLAS_CORETYPE to
// the kernels the CPU's instruction set supports and a wait policy that
// suits the OpenBLAS build (a short spin when OpenBLAS shares our OpenMP
// threads, passive when it has a pool of its own), then re-executes the program with the same arguments. Returns normally when
// nothing needs changing or the restart is not possible. LLMQ_NO_REEXEC=1
// turns the restart off. Also keeps freed activation buffers of up to 32 MB
// in the heap for reuse (mallopt), which needs no restart.
void restart_with_tuned_math_libraries(char** argv);

// The OpenBLAS kernel family in use ("SkylakeX", "Haswell", "Prescott", ...).
const char* blas_core_name();

// The kernel family this CPU's instruction set supports best among those
// OpenBLAS 0.3.x offers, or nullptr when nothing better than generic applies.
const char* best_blas_core_for_this_cpu();

}  // namespace llmq
