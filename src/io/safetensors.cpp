#include "io/safetensors.h"

#include <algorithm>
#include <cstring>

#include <nlohmann/json.hpp>

#include "util/error.h"
#include "util/half.h"

namespace llmq {

namespace {
struct DTypeInfo {
  DType t;
  const char* name;
  size_t size;
};
constexpr DTypeInfo kDTypes[] = {
    {DType::F64, "F64", 8},  {DType::F32, "F32", 4},   {DType::F16, "F16", 2},    {DType::BF16, "BF16", 2},
    {DType::I64, "I64", 8},  {DType::I32, "I32", 4},   {DType::I16, "I16", 2},    {DType::I8, "I8", 1},
    {DType::U8, "U8", 1},    {DType::BOOL, "BOOL", 1}, {DType::F8_E4M3, "F8_E4M3", 1},
    {DType::F8_E5M2, "F8_E5M2", 1}, {DType::U16, "U16", 2}, {DType::U32, "U32", 4}, {DType::U64, "U64", 8},
};
}  // namespace

const char* dtype_name(DType t) {
  for (const auto& d : kDTypes)
    if (d.t == t) return d.name;
  return "?";
}
size_t dtype_size(DType t) {
  for (const auto& d : kDTypes)
    if (d.t == t) return d.size;
  return 0;
}
bool dtype_is_float16_or_32(DType t) { return t == DType::F32 || t == DType::F16 || t == DType::BF16; }

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

void TensorView::to_f32(float* out) const { range_to_f32(0, numel(), out); }

void TensorView::range_to_f32(int64_t first, int64_t n, float* out) const {
  if (first < 0 || n < 0 || first + n > numel())
    throw file_error(file, fmt::format("tensor {}: elements [{}, {}) outside its {}", name, first, first + n, numel()));
  switch (dtype) {
    case DType::F32:
      std::memcpy(out, data + size_t(first) * 4, size_t(n) * 4);
      return;
    case DType::BF16: {
      const uint16_t* p = reinterpret_cast<const uint16_t*>(data) + first;
#pragma omp parallel for schedule(static) if (n > (1 << 16))
      for (int64_t i = 0; i < n; ++i) out[i] = bf16_to_f32(p[i]);
      return;
    }
    case DType::F16: {
      const uint16_t* p = reinterpret_cast<const uint16_t*>(data) + first;
#pragma omp parallel for schedule(static) if (n > (1 << 16))
      for (int64_t i = 0; i < n; ++i) out[i] = f16_to_f32(p[i]);
      return;
    }
    default:
      throw file_error(file, "tensor " + name + " has dtype " + dtype_name(dtype) +
                                 "; only BF16, F16 and F32 weights are supported");
  }
}

std::vector<float> TensorView::to_f32() const {
  std::vector<float> v(static_cast<size_t>(numel()));
  to_f32(v.data());
  return v;
}

SafetensorsFile::SafetensorsFile(const std::string& path) : file_(path) {
  const size_t fsize = file_.size();
  if (fsize < 8) throw file_error(path, "truncated safetensors file (" + std::to_string(fsize) + " bytes, no header)");
  uint64_t hlen = 0;
  std::memcpy(&hlen, file_.data(), 8);  // little-endian on every platform we build for
  if (hlen > fsize - 8) throw file_error(path, "corrupt safetensors header: header length " + std::to_string(hlen) +
                                                   " exceeds file size " + std::to_string(fsize));
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(file_.data() + 8, file_.data() + 8 + hlen);
  } catch (const std::exception& e) {
    throw file_error(path, std::string("corrupt safetensors header (invalid JSON): ") + e.what());
  }
  if (!header.is_object()) throw file_error(path, "corrupt safetensors header: not a JSON object");
  const uint8_t* base = file_.data() + 8 + hlen;
  const size_t data_size = fsize - 8 - hlen;

  std::vector<std::pair<size_t, size_t>> ranges;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (it->is_object())
        for (auto m = it->begin(); m != it->end(); ++m)
          if (m->is_string()) metadata_[m.key()] = m->get<std::string>();
      continue;
    }
    const auto& j = *it;
    const std::string& name = it.key();
    if (!j.is_object() || !j.contains("dtype") || !j.contains("shape") || !j.contains("data_offsets"))
      throw file_error(path, "corrupt safetensors header: entry " + name + " lacks dtype/shape/data_offsets");
    TensorView tv;
    tv.name = name;
    tv.file = path;
    const std::string dt = j["dtype"].is_string() ? j["dtype"].get<std::string>() : "";
    bool known = false;
    for (const auto& d : kDTypes)
      if (dt == d.name) { tv.dtype = d.t; known = true; }
    if (!known) throw file_error(path, "tensor " + name + " has unsupported dtype '" + dt + "'");
    if (!j["shape"].is_array()) throw file_error(path, "tensor " + name + ": shape is not an array");
    for (const auto& d : j["shape"]) {
      if (!d.is_number_integer() || d.get<int64_t>() < 0)
        throw file_error(path, "tensor " + name + ": shape has a negative or non-integer dimension");
      tv.shape.push_back(d.get<int64_t>());
    }
    // The element count must fit the data section before numel() multiplies it out (no overflow).
    if (std::find(tv.shape.begin(), tv.shape.end(), 0) == tv.shape.end()) {
      uint64_t n = 1;
      for (int64_t d : tv.shape)
        if (uint64_t(d) > data_size / n || (n *= uint64_t(d)) > data_size)
          throw file_error(path, "tensor " + name + ": shape holds more elements than the data section's " +
                                     std::to_string(data_size) + " bytes");
    }
    const auto& off = j["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      throw file_error(path, "tensor " + name + ": data_offsets must be two non-negative integers");
    const size_t b = off[0].get<size_t>(), e = off[1].get<size_t>();
    if (b > e || e > data_size)
      throw file_error(path, "tensor " + name + ": data offsets [" + std::to_string(b) + ", " + std::to_string(e) +
                                 ") lie outside the data section of " + std::to_string(data_size) +
                                 " bytes (truncated file?)");
    const size_t expect = size_t(tv.numel()) * dtype_size(tv.dtype);
    if (e - b != expect)
      throw file_error(path, "tensor " + name + ": byte length " + std::to_string(e - b) + " does not match shape x dtype (" +
                                 std::to_string(expect) + " bytes)");
    tv.data = base + b;
    tv.nbytes = e - b;
    ranges.emplace_back(b, e);
    tensors_.emplace(name, std::move(tv));
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i)
    if (ranges[i].first < ranges[i - 1].second)
      throw file_error(path, "corrupt safetensors header: tensor data ranges overlap");
}

const TensorView* SafetensorsFile::find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

}  // namespace llmq
