#pragma once
// Reader for the safetensors format: an 8-byte little-endian header length,
// a JSON header {name: {dtype, shape, data_offsets}}, then raw tensor bytes.
// The file is memory-mapped; tensors are views into the mapping.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "util/mapped_file.h"

namespace llmq {

enum class DType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL, F8_E4M3, F8_E5M2, U16, U32, U64 };

const char* dtype_name(DType t);
size_t dtype_size(DType t);
bool dtype_is_float16_or_32(DType t);  // the dtypes weights may be stored in

struct TensorView {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;
  size_t nbytes = 0;
  std::string file;  // the file the bytes live in, for error messages

  int64_t numel() const;
  // Converts BF16/F16/F32 data to fp32; throws llmq::Error for other dtypes.
  void to_f32(float* out) const;
  // Elements [first, first + n) of the flattened tensor, converted the same way.
  void range_to_f32(int64_t first, int64_t n, float* out) const;
  std::vector<float> to_f32() const;
};

class SafetensorsFile {
 public:
  // Maps and validates the header: length inside the file, JSON well formed,
  // known dtypes, offsets inside the data section and not overlapping, and
  // byte length == numel * dtype size. Throws llmq::Error naming the file.
  explicit SafetensorsFile(const std::string& path);

  const std::string& path() const { return file_.path(); }
  const std::map<std::string, TensorView>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const TensorView* find(const std::string& name) const;

 private:
  MappedFile file_;
  std::map<std::string, TensorView> tensors_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace llmq
