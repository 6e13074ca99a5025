#pragma once
// Bounds-checked reading of GGUF header pieces from a mapped file. Every read
// is checked against the end of the file, and every count against the bytes
// that remain, so a corrupt file fails with a one-line error instead of a
// crash or a huge allocation.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "io/gguf/gguf_value.h"

namespace llmq::gguf {

class ByteCursor {
 public:
  ByteCursor(const uint8_t* data, size_t size, const std::string& path) : data_(data), size_(size), path_(path) {}

  size_t pos() const { return pos_; }
  size_t remaining() const { return size_ - pos_; }
  const std::string& path() const { return path_; }

  template <typename T> T read(std::string_view what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string read_string(std::string_view what);
  const uint8_t* take(size_t n, std::string_view what);  // pointer to the next n bytes

  // Throws llmq::Error "<path>: <problem>" (the path once, at the front).
  [[noreturn]] void fail(const std::string& problem) const;
  // Throws unless n more bytes are present.
  void need(size_t n, std::string_view what) const;

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  const std::string& path_;
};

// The value of a key/value entry after its type id: reads the payload of a
// scalar, or element type + count + elements of an array. `key` names the
// entry in errors.
GgufValue read_value(ByteCursor& in, uint32_t type_id, std::string_view key);

}  // namespace llmq::gguf
