#include "model/decoded_rows.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <string>
#include <list>
#include <mutex>
#include <utility>

#include "util/error.h"

namespace llmq {

class DecodedWeightCache {
 public:
  explicit DecodedWeightCache(size_t budget_bytes) : budget_(budget_bytes) {}

  // The decoded weight of `key`, decoding it (under the lock, so that threads
  // asking for tiles of one weight decode it once) when it is not resident.
  std::shared_ptr<const Tensor> get(const void* key, const std::function<Tensor()>& decode) {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = entries_.begin(); it != entries_.end(); ++it)
      if (it->first == key) {
        entries_.splice(entries_.begin(), entries_, it);  // most recently used first
        return entries_.front().second;
      }
    auto t = std::make_shared<const Tensor>(decode());
    held_ += bytes_of(*t);
    entries_.emplace_front(key, std::move(t));
    // Readers still holding an evicted weight keep it alive until they are done.
    while (entries_.size() > 2 && held_ > budget_) {
      held_ -= bytes_of(*entries_.back().second);
      entries_.pop_back();
    }
    return entries_.front().second;
  }

 private:
  static size_t bytes_of(const Tensor& t) { return t.data.size() * sizeof(float); }
  size_t budget_, held_ = 0;
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

namespace {

// A quarter of MemAvailable: generous enough to keep a small model decoded, never a large one's fp32 form.
size_t default_budget() {
  std::ifstream f("/proc/meminfo");
  std::string key;
  size_t kb = 0;
  std::string unit;
  while (f >> key >> kb >> unit)
    if (key == "MemAvailable:") return std::max<size_t>(kb * 1024 / 4, size_t(256) << 20);
  return size_t(1) << 30;
}

}  // namespace

std::shared_ptr<DecodedWeightCache> make_decoded_weight_cache(size_t budget_bytes) {
  return std::make_shared<DecodedWeightCache>(budget_bytes ? budget_bytes : default_budget());
}

std::shared_ptr<const RowSource> decoded_rows(std::shared_ptr<DecodedWeightCache> cache, int64_t rows, int64_t cols,
                                              size_t stored_row_bytes, std::function<Tensor()> decode) {
  return std::make_shared<DecodedRows>(std::move(cache), rows, cols, stored_row_bytes, std::move(decode));
}

}  // namespace llmq
