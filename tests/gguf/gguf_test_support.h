#pragma once
// Helpers for the GGUF tests: a scratch directory, whole-file byte I/O, and a
// little-endian byte builder for writing GGUF files by hand (independently of
// the writer under test).
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

namespace gguf_test {

namespace fs = std::filesystem;

// A fresh directory under the system temp dir, removed with its contents.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = fs::temp_directory_path() /
            ("llmq-gguf-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(path_)) names.push_back(e.path().filename().string());
    return names;
  }

 private:
  fs::path path_;
};

inline std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  // Unlink first: ext4 flushes a file rewritten through truncation on close,
  // which made rewriting one file in a loop wait on the disk.
  std::error_code ec;
  fs::remove(path, ec);
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

// Appends little-endian fields; used to hand-build valid and broken files.
struct ByteBuilder {
  std::vector<uint8_t> bytes;

  ByteBuilder& raw(std::string_view s) {
    bytes.insert(bytes.end(), s.begin(), s.end());
    return *this;
  }
  template <typename T> ByteBuilder& num(T v) {
    uint8_t b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    bytes.insert(bytes.end(), b, b + sizeof(T));
    return *this;
  }
  ByteBuilder& u32(uint32_t v) { return num(v); }
  ByteBuilder& u64(uint64_t v) { return num(v); }
  ByteBuilder& i64(int64_t v) { return num(v); }
  ByteBuilder& str(std::string_view s) { return u64(s.size()).raw(s); }
  ByteBuilder& zeros(size_t n) {
    bytes.insert(bytes.end(), n, 0);
    return *this;
  }
  ByteBuilder& pad_to(size_t alignment) { return zeros((alignment - bytes.size() % alignment) % alignment); }
  size_t size() const { return bytes.size(); }
};

}  // namespace gguf_test
