#include "io/gguf/gguf_decode.h"

#include <algorithm>

#include <fmt/format.h>

#include "util/error.h"

namespace llmq::gguf {

namespace {

// Arrays of arrays nest by recursion; a cap keeps a hostile file from
// exhausting the stack (real files never nest at all).
constexpr int kMaxArrayNesting = 16;

// The fewest bytes one element of the type can take, used to reject element
// counts the rest of the file cannot possibly hold before allocating.
size_t min_encoded_size(GgufType t) {
  switch (t) {
    case GgufType::Uint8: case GgufType::Int8: case GgufType::Bool: return 1;
    case GgufType::Uint16: case GgufType::Int16: return 2;
    case GgufType::Uint32: case GgufType::Int32: case GgufType::Float32: return 4;
    case GgufType::Uint64: case GgufType::Int64: case GgufType::Float64: return 8;
    case GgufType::String: return 8;   // length
    case GgufType::Array: return 12;   // element type + count
  }
  return 1;
}

GgufValue read_typed(ByteCursor& in, GgufType type, std::string_view key, int depth);

template <typename E> std::vector<E> read_elements(ByteCursor& in, uint64_t n, std::string_view key, int depth) {
  std::vector<E> out;
  if constexpr (std::is_arithmetic_v<E> && !std::is_same_v<E, bool>) {
    // bounds-checked before allocating
    const uint8_t* p = in.take(size_t(n) * sizeof(E), "array data");
    out.resize(size_t(n));
    if (n) std::memcpy(out.data(), p, size_t(n) * sizeof(E));
  } else {
    // a count that passed the size check can still be a corrupt one; let a
    // bogus count fail on the data rather than on one huge reservation
    out.reserve(size_t(std::min<uint64_t>(n, uint64_t(1) << 20)));
    for (uint64_t i = 0; i < n; ++i) {
      if constexpr (std::is_same_v<E, std::string>) out.push_back(in.read_string("array string"));
      else if constexpr (std::is_same_v<E, bool>) out.push_back(in.read<uint8_t>("array bool") != 0);
      else out.push_back(read_typed(in, GgufType::Array, key, depth + 1));  // E = GgufValue
    }
  }
  return out;
}

GgufValue read_array_body(ByteCursor& in, std::string_view key, int depth) {
  if (depth > kMaxArrayNesting) in.fail(fmt::format("key '{}': arrays nested deeper than {}", key, kMaxArrayNesting));
  const uint32_t elem_id = in.read<uint32_t>("array element type");
  if (elem_id >= kGgufTypeCount) in.fail(fmt::format("key '{}': array has unknown element type {}", key, elem_id));
  const auto elem = GgufType(elem_id);
  const uint64_t n = in.read<uint64_t>("array length");
  if (n > in.remaining() / min_encoded_size(elem))
    in.fail(fmt::format("key '{}': array of {} {} values cannot fit in the {} bytes left in the file", key, n,
                        gguf_type_name(elem), in.remaining()));
  switch (elem) {
    case GgufType::Uint8: return read_elements<uint8_t>(in, n, key, depth);
    case GgufType::Int8: return read_elements<int8_t>(in, n, key, depth);
    case GgufType::Uint16: return read_elements<uint16_t>(in, n, key, depth);
    case GgufType::Int16: return read_elements<int16_t>(in, n, key, depth);
    case GgufType::Uint32: return read_elements<uint32_t>(in, n, key, depth);
    case GgufType::Int32: return read_elements<int32_t>(in, n, key, depth);
    case GgufType::Float32: return read_elements<float>(in, n, key, depth);
    case GgufType::Bool: return read_elements<bool>(in, n, key, depth);
    case GgufType::String: return read_elements<std::string>(in, n, key, depth);
    case GgufType::Uint64: return read_elements<uint64_t>(in, n, key, depth);
    case GgufType::Int64: return read_elements<int64_t>(in, n, key, depth);
    case GgufType::Float64: return read_elements<double>(in, n, key, depth);
    case GgufType::Array: return GgufValue(read_elements<GgufValue>(in, n, key, depth));
  }
  in.fail("unreachable");
}

GgufValue read_typed(ByteCursor& in, GgufType type, std::string_view key, int depth) {
  switch (type) {
    case GgufType::Uint8: return in.read<uint8_t>("value");
    case GgufType::Int8: return in.read<int8_t>("value");
    case GgufType::Uint16: return in.read<uint16_t>("value");
    case GgufType::Int16: return in.read<int16_t>("value");
    case GgufType::Uint32: return in.read<uint32_t>("value");
    case GgufType::Int32: return in.read<int32_t>("value");
    case GgufType::Float32: return in.read<float>("value");
    case GgufType::Bool: return in.read<uint8_t>("value") != 0;  // ggml reads any non-zero byte as true
    case GgufType::String: return in.read_string("string value");
    case GgufType::Uint64: return in.read<uint64_t>("value");
    case GgufType::Int64: return in.read<int64_t>("value");
    case GgufType::Float64: return in.read<double>("value");
    case GgufType::Array: return read_array_body(in, key, depth);
  }
  in.fail("unreachable");
}

}  // namespace

std::string ByteCursor::read_string(std::string_view what) {
  const uint64_t n = read<uint64_t>(what);
  if (n > remaining())
    fail(fmt::format("{} at byte {} claims {} bytes but only {} remain in the file", what, pos_ - 8, n, remaining()));
  const uint8_t* p = take(size_t(n), what);
  return std::string(reinterpret_cast<const char*>(p), size_t(n));
}

const uint8_t* ByteCursor::take(size_t n, std::string_view what) {
  need(n, what);
  const uint8_t* p = data_ + pos_;
  pos_ += n;
  return p;
}

void ByteCursor::need(size_t n, std::string_view what) const {
  if (n > remaining())
    fail(fmt::format("truncated file: {} at byte {} needs {} bytes but the file ends at byte {}", what, pos_, n, size_));
}

void ByteCursor::fail(const std::string& problem) const { throw file_error(path_, problem); }

GgufValue read_value(ByteCursor& in, uint32_t type_id, std::string_view key) {
  if (type_id >= kGgufTypeCount) in.fail(fmt::format("key '{}' has unknown value type {}", key, type_id));
  return read_typed(in, GgufType(type_id), key, 0);
}

}  // namespace llmq::gguf
