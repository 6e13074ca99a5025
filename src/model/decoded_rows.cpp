#include "model/decoded_rows.h"

#include <algorithm>
#include <cstring>
#include <list>
#include <mutex>
#include <utility>

#include "util/error.h"

namespace llmq {

class DecodedWeightCache {
 public:
  explicit DecodedWeightCache(size_t capacity) : capacity_(std::max<size_t>(capacity, 1)) {}

  // The decoded weight of `key`, decoding it (under the lock, so that threads
  // asking for tiles of one weight decode it once) when it is not resident.
  std::shared_ptr<const Tensor> get(const void* key, const std::function<Tensor()>& decode) {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = entries_.begin(); it != entries_.end(); ++it)
      if (it->first == key) {
        entries_.splice(entries_.begin(), entries_, it);  // most recently used first
        return entries_.front().second;
      }
    while (entries_.size() >= capacity_) entries_.pop_back();  // readers still holding one keep it alive
    entries_.emplace_front(key, std::make_shared<const Tensor>(decode()));
    return entries_.front().second;
  }

 private:
  size_t capacity_;
  std::mutex mu_;
  std::list<std::pair<const void*, std::shared_ptr<const Tensor>>> entries_;
};

namespace {

class DecodedRows final : public RowSource {
 public:
  DecodedRows(std::shared_ptr<DecodedWeightCache> cache, int64_t rows, int64_t cols, size_t row_bytes,
              std::function<Tensor()> decode)
      : cache_(std::move(cache)), rows_(rows), cols_(cols), row_bytes_(row_bytes), decode_(std::move(decode)) {}

  void read_rows(int64_t r0, int64_t n, float* out) const override {
    const std::shared_ptr<const Tensor> t = cache_->get(this, decode_);
    if (t->numel() != rows_ * cols_) fail("a decoded weight has {} values, expected {} x {}", t->numel(), rows_, cols_);
    std::memcpy(out, t->data.data() + r0 * cols_, size_t(n * cols_) * sizeof(float));
  }
  size_t row_bytes() const override { return row_bytes_; }

 private:
  std::shared_ptr<DecodedWeightCache> cache_;
  int64_t rows_, cols_;
  size_t row_bytes_;
  std::function<Tensor()> decode_;
};

}  // namespace

std::shared_ptr<DecodedWeightCache> make_decoded_weight_cache(size_t capacity) {
  return std::make_shared<DecodedWeightCache>(capacity);
}

std::shared_ptr<const RowSource> decoded_rows(std::shared_ptr<DecodedWeightCache> cache, int64_t rows, int64_t cols,
                                              size_t stored_row_bytes, std::function<Tensor()> decode) {
  return std::make_shared<DecodedRows>(std::move(cache), rows, cols, stored_row_bytes, std::move(decode));
}

}  // namespace llmq
