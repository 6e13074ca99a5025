#pragma once
// The student's loss on one sequence and its gradients: the KL divergence
// from the teacher's next-token distribution (its top-k logits, softened by
// the temperature) to the student's, summed over the sequence's positions,
// backpropagated through every layer to the trainable scales and biases.
//
// Memory: the layers' tapes are kept when they fit `tape_budget_bytes`;
// otherwise only each layer's input is kept and the layer is run again just
// before its backward pass (gradient checkpointing per layer).
#include <cstdint>
#include <vector>

#include "dwq/student.h"
#include "model/rope.h"

namespace llmq::dwq {

struct SequenceTargets {
  const float* logits = nullptr;  // [T, k] the teacher's largest logits
  const int32_t* ids = nullptr;   // [T, k] their token ids
  const float* lse = nullptr;     // [T] log sum exp(z / temperature) over the teacher's whole vocabulary
  int64_t k = 0;
};

class Backprop {
 public:
  explicit Backprop(Student& s, size_t tape_budget_bytes = size_t(2) << 30);
  // Sum over positions of KL(teacher || student) at `temperature`, in nats.
  double loss(const int32_t* tokens, int64_t T, const SequenceTargets& targets, float temperature);
  // The same, and grad_scale times its gradient added to every trainable's gs and gb.
  double loss_and_gradients(const int32_t* tokens, int64_t T, const SequenceTargets& targets, float temperature,
                            float grad_scale);

 private:
  double run(const int32_t* tokens, int64_t T, const SequenceTargets& targets, float temperature, float grad_scale,
             bool gradients);
  // The head's loss over X [T, hidden]; with dX non-null, its gradient (times grad_scale) with respect to X.
  double head(const float* X, int64_t T, const SequenceTargets& targets, float temperature, float grad_scale, float* dX);
  Student& s_;
  Rope rope_;
  std::vector<float> wout_;  // lm_head (or the tied embedding) [vocab, hidden], fixed
  size_t tape_budget_;
};

// KL(p || q) for one position between the teacher's distribution p and the
// student's q (softmax of its logits z [vocab]), both at the temperature,
// over k + 1 outcomes: the teacher's top-k tokens one by one, and all other
// tokens as one (p's rest of the mass, from the teacher's log-sum-exp). It is
// zero exactly when the student gives each top-k token the teacher's
// probability, and never pulls the student's mass into the top-k (as a KL
// against p renormalized over the top k would). With dz non-null, writes
// scale * dKL/dz.
double topk_kl(const float* z, int64_t vocab, const float* t_logits, const int32_t* t_ids, float t_lse, int64_t k,
               float temperature, float scale, float* dz);

}  // namespace llmq::dwq
