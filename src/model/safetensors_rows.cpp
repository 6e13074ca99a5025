#include "model/safetensors_rows.h"

#include "model/kernels/dot_kernels.h"
#include "util/error.h"

namespace llmq {

namespace {

// Rows of a safetensors weight, converted from bf16/f16/f32 on demand.
class SafetensorsRows final : public RowSource {
 public:
  SafetensorsRows(std::shared_ptr<const HfCheckpoint> ckpt, const TensorView* tv)
      : ckpt_(std::move(ckpt)), tv_(tv), cols_(tv->shape.back()) {}
  void read_rows(int64_t r0, int64_t n, float* out) const override { tv_->range_to_f32(r0 * cols_, n * cols_, out); }
  size_t row_bytes() const override { return size_t(cols_) * dtype_size(tv_->dtype); }
  // bf16/f16/f32 rows are multiplied where they are mapped, converted in registers.
  void dot_rows(int64_t r0, int64_t n, const ActivationRows& X, float* Y, int64_t ldy) const override {
    if (r0 < 0 || n < 0 || (r0 + n) * cols_ > tv_->numel() || X.cols != cols_)
      throw file_error(tv_->file, "tensor " + tv_->name + ": rows [" + std::to_string(r0) + ", " +
                                      std::to_string(r0 + n) + ") outside the tensor");
    const kernels::RowType type = tv_->dtype == DType::F32   ? kernels::RowType::F32
                                  : tv_->dtype == DType::F16 ? kernels::RowType::F16
                                                             : kernels::RowType::BF16;
    kernels::dot_rows(type, tv_->data + size_t(r0 * cols_) * dtype_size(tv_->dtype), n, cols_, X.f32, X.T, Y, ldy);
  }

 private:
  std::shared_ptr<const HfCheckpoint> ckpt_;  // keeps the mapping alive
  const TensorView* tv_;
  int64_t cols_;
};

}  // namespace

const TensorView& checked_float_view(const HfCheckpoint& ckpt, const NamedTensor& nt) {
  const TensorView* tv = ckpt.find(nt.name);
  if (!tv) throw file_error(ckpt.dir(), "tensor " + nt.name + " is missing from the checkpoint");
  if (tv->shape != nt.shape)
    throw file_error(tv->file, "tensor " + nt.name + " has shape " + shape_str(tv->shape) + ", expected " +
                                   shape_str(nt.shape) + " from config.json");
  if (!dtype_is_float16_or_32(tv->dtype))
    throw file_error(tv->file, "tensor " + nt.name + " has dtype " + dtype_name(tv->dtype) +
                                   "; only BF16, F16 and F32 weights are supported");
  return *tv;
}

std::shared_ptr<const RowSource> safetensors_rows(std::shared_ptr<const HfCheckpoint> ckpt, const TensorView* tv) {
  return std::make_shared<SafetensorsRows>(std::move(ckpt), tv);
}

}  // namespace llmq
