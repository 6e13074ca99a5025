#pragma once
// The quantized model DWQ trains, read from an MLX checkpoint: the tensors it
// keeps in floating point (embeddings, norms, lm_head, routers, biases,
// linears left unquantized) stay fixed and lazily read; every quantized
// linear becomes an AffineLinear whose scales and biases carry gradients.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "dwq/affine_linear.h"
#include "model/weights.h"

namespace llmq::dwq {

struct Trainable {
  AffineLinear a;
  std::vector<float> gs, gb;  // gradients of scales and biases, summed over a step
};

class Student {
 public:
  // Throws llmq::Error naming the directory when it is not an MLX checkpoint.
  explicit Student(const std::string& mlx_dir);

  const ModelConfig& cfg() const { return w_->cfg; }
  ModelWeights& weights() { return *w_; }
  const std::string& dir() const { return dir_; }
  Trainable* find(const std::string& weight_name);
  // Every trainable linear, in weight-name order (the order of checkpoints and optimizer state).
  std::vector<Trainable*> trainables();
  void zero_gradients();
  int64_t trainable_values() const;  // scales + biases

 private:
  std::string dir_;
  std::shared_ptr<ModelWeights> w_;
  std::map<std::string, Trainable> linears_;
};

// A linear of one layer in fp32 for the step at hand: dequantized from its
// trainable parts, or read from the fixed weights.
struct LayerLinear {
  std::vector<float> w;  // [rows, cols]
  int64_t rows = 0, cols = 0;
  Trainable* trainable = nullptr;  // null: fixed (router, a linear kept in floating point)
};
struct ExpertLinears {
  LayerLinear gate, up, down;
};
struct LayerLinears {
  LayerLinear q, k, v, o, gate, up, down, router;
  std::vector<ExpertLinears> experts;
};
LayerLinears layer_linears(Student& s, int layer);

}  // namespace llmq::dwq
