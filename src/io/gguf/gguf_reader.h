#pragma once
// Reads a GGUF file (v2 or v3) through a memory map. The constructor parses
// and validates the whole header and tensor table, so afterwards every tensor's
// `data` points at `nbytes` bytes inside the file and nothing else can fail
// except lookups of keys or tensors that are not there. Tensor data is paged in
// only when touched.
//
// All errors are llmq::Error with one line "<path>: <problem>".
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "io/gguf/gguf_metadata.h"
#include "io/gguf/gguf_tensor_info.h"
#include "io/gguf/gguf_value.h"
#include "util/mapped_file.h"

namespace llmq {

class GgufReader {
 public:
  explicit GgufReader(const std::string& path);

  const std::string& path() const { return file_.path(); }
  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  size_t data_offset() const { return data_offset_; }  // file offset of the tensor data section
  size_t file_size() const { return file_.size(); }

  // --- metadata, in file order ---
  const GgufMetadata& metadata() const { return metadata_; }
  const GgufValue* find(std::string_view key) const { return metadata_.find(key); }
  bool contains(std::string_view key) const { return metadata_.contains(key); }
  const GgufValue& at(std::string_view key) const;  // throws "<path>: missing metadata key 'k'"
  // Exact type (uint32_t, std::string, std::vector<float>, ...); throws
  // "<path>: metadata key 'k': expected uint32, found string" or the missing-key error.
  template <typename T> const T& get(std::string_view key) const {
    const GgufValue& v = at(key);
    if (const T* p = v.get_if<T>()) return *p;
    throw_type_mismatch(key, gguf_detail::description_of<T>(), v);
  }
  // std::nullopt when the key is absent; the type error when it has another type.
  template <typename T> std::optional<T> get_optional(std::string_view key) const {
    if (!contains(key)) return std::nullopt;
    return get<T>(key);
  }
  // Any integer type, range-checked (writers disagree on widths, e.g. u32 vs i32).
  int64_t get_int(std::string_view key) const;
  std::optional<int64_t> get_int_optional(std::string_view key) const;

  // --- tensors, in file order ---
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* find_tensor(std::string_view name) const;
  const GgufTensorInfo& tensor(std::string_view name) const;  // throws "<path>: no tensor named 'x'"

 private:
  void parse();
  [[noreturn]] void throw_type_mismatch(std::string_view key, const std::string& expected, const GgufValue& v) const;

  MappedFile file_;
  uint32_t version_ = 0;
  uint32_t alignment_ = 0;
  size_t data_offset_ = 0;
  GgufMetadata metadata_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
};

}  // namespace llmq
