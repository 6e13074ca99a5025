#include "util/spill_memory.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <new>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/error.h"

namespace llmq {

namespace {

// An unlinked file of `bytes` in `dir`: O_TMPFILE where the file system has it, else mkstemp + unlink.
int unlinked_file(const std::string& dir, size_t bytes) {
  int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) {
    std::string path = (std::filesystem::path(dir) / "hidden-states-XXXXXX").string();
    fd = ::mkstemp(path.data());
    if (fd >= 0) ::unlink(path.c_str());
  }
  if (fd < 0) fail("{}: cannot create a file for hidden states past --max-memory: {}", dir, std::strerror(errno));
  if (::ftruncate(fd, off_t(bytes)) != 0) {
    const int e = errno;
    ::close(fd);
    fail("{}: cannot size a {} byte file for hidden states past --max-memory: {}", dir, bytes, std::strerror(e));
  }
  return fd;
}

}  // namespace

SpillMemory::SpillMemory(int64_t ram_budget_bytes, std::string dir) : budget_(ram_budget_bytes), dir_(std::move(dir)) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) fail("{}: cannot create the folder for hidden states past --max-memory: {}", dir_, ec.message());
}

void* SpillMemory::allocate(size_t bytes) {
  if (bytes == 0) bytes = 1;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (ram_ + int64_t(bytes) <= budget_) {
      void* p = std::malloc(bytes);
      if (!p) throw std::bad_alloc();
      ram_ += int64_t(bytes);
      return p;
    }
  }
  const int fd = unlinked_file(dir_, bytes);
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  const int e = errno;
  ::close(fd);  // the mapping keeps the file alive
  if (p == MAP_FAILED) fail("{}: cannot map {} bytes of hidden states: {}", dir_, bytes, std::strerror(e));
  std::lock_guard<std::mutex> lock(mu_);
  mapped_.insert(p);
  spilled_ += int64_t(bytes);
  peak_spilled_ = std::max(peak_spilled_, spilled_);
  return p;
}

void SpillMemory::deallocate(void* p, size_t bytes) {
  if (!p) return;
  if (bytes == 0) bytes = 1;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = mapped_.find(p);
  if (it == mapped_.end()) {
    std::free(p);
    ram_ -= int64_t(bytes);
    return;
  }
  mapped_.erase(it);
  ::munmap(p, bytes);
  spilled_ -= int64_t(bytes);
}

int64_t SpillMemory::ram_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ram_;
}
int64_t SpillMemory::spilled_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return spilled_;
}
int64_t SpillMemory::peak_spilled_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return peak_spilled_;
}

}  // namespace llmq
