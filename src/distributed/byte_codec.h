#pragma once
// Flat byte encoding of what ranks send each other (collector states,
// quantized tensors). The reader checks every length against the bytes it
// has, so a short or corrupt message is an error, never a read past the end.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "util/error.h"

namespace llmq {

class ByteWriter {
 public:
  template <typename T>
  void put(const T& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    append(&v, sizeof v);
  }
  void put_string(const std::string& s) {
    put<uint64_t>(s.size());
    append(s.data(), s.size());
  }
  template <typename T>
  void put_vector(const std::vector<T>& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    put<uint64_t>(v.size());
    append(v.data(), v.size() * sizeof(T));
  }
  void append(const void* p, size_t n) {
    const size_t at = bytes_.size();
    bytes_.resize(at + n);
    if (n) std::memcpy(bytes_.data() + at, p, n);
  }
  std::vector<uint8_t>& bytes() { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

class ByteReader {
 public:
  ByteReader(const std::vector<uint8_t>& bytes, std::string what) : p_(bytes.data()), n_(bytes.size()), what_(std::move(what)) {}
  template <typename T>
  T get() {
    T v;
    take(&v, sizeof v);
    return v;
  }
  std::string get_string() {
    const uint64_t n = get<uint64_t>();
    need(n);
    std::string s(reinterpret_cast<const char*>(p_ + at_), size_t(n));
    at_ += n;
    return s;
  }
  template <typename T>
  std::vector<T> get_vector() {
    const uint64_t n = get<uint64_t>();
    if (n > (n_ - at_) / sizeof(T)) fail("{}: message holds {} bytes, an array of {} values does not fit", what_, n_, n);
    std::vector<T> v(static_cast<size_t>(n));
    take(v.data(), size_t(n) * sizeof(T));
    return v;
  }
  bool done() const { return at_ == n_; }

 private:
  void need(uint64_t n) const {
    if (n > n_ - at_) fail("{}: message of {} bytes ends before byte {}", what_, n_, at_ + n);
  }
  void take(void* out, size_t n) {
    need(n);
    if (n) std::memcpy(out, p_ + at_, n);
    at_ += n;
  }
  const uint8_t* p_;
  size_t n_, at_ = 0;
  std::string what_;
};

}  // namespace llmq
