#pragma once
// Memory that goes to a file once a budget is used up: the calibration
// windows' hidden states of the layer pipeline (4 bytes x windows x tokens x
// hidden: 1 GB for 128 x 512 at 7B, 2 GB at 70B width, 8 GB at ctx 2048)
// under `--max-memory`.
//
// Past the budget an allocation is a shared mapping of an unlinked file in
// the spill folder: its pages are file pages, which the kernel writes back
// and drops under memory pressure instead of counting them as anonymous
// memory, and nothing is left on disk when the process ends, however it ends.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>

namespace llmq {

class SpillMemory {
 public:
  // ram_budget_bytes: what may stay anonymous memory; dir: where the rest goes.
  SpillMemory(int64_t ram_budget_bytes, std::string dir);
  ~SpillMemory() = default;  // containers give their memory back before the pool goes
  SpillMemory(const SpillMemory&) = delete;
  SpillMemory& operator=(const SpillMemory&) = delete;

  void* allocate(size_t bytes);
  void deallocate(void* p, size_t bytes);

  int64_t ram_bytes() const;      // held in anonymous memory now
  int64_t spilled_bytes() const;  // held in spill files now
  int64_t peak_spilled_bytes() const;

 private:
  int64_t budget_;
  std::string dir_;
  mutable std::mutex mu_;
  int64_t ram_ = 0, spilled_ = 0, peak_spilled_ = 0;
  std::set<void*> mapped_;
};

// std::allocator where no SpillMemory is given; SpillMemory's otherwise.
template <typename T>
struct SpillAllocator {
  using value_type = T;
  using propagate_on_container_copy_assignment = std::true_type;
  using propagate_on_container_move_assignment = std::true_type;
  using propagate_on_container_swap = std::true_type;

  SpillMemory* memory = nullptr;

  SpillAllocator() = default;
  explicit SpillAllocator(SpillMemory* m) : memory(m) {}
  template <typename U>
  SpillAllocator(const SpillAllocator<U>& o) : memory(o.memory) {}

  T* allocate(size_t n) {
    return memory ? static_cast<T*>(memory->allocate(n * sizeof(T))) : std::allocator<T>().allocate(n);
  }
  void deallocate(T* p, size_t n) {
    if (memory) memory->deallocate(p, n * sizeof(T));
    else std::allocator<T>().deallocate(p, n);
  }
  template <typename U>
  bool operator==(const SpillAllocator<U>& o) const { return memory == o.memory; }
};

}  // namespace llmq
