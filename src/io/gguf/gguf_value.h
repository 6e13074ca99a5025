#pragma once
// One GGUF metadata value: a scalar of one of the twelve GGUF value types, or
// an array of them. Arrays keep their element type even when empty, so a value
// read from a file writes back byte for byte. Arrays of arrays (allowed by the
// GGUF spec, refused by llama.cpp) are held as std::vector<GgufValue> whose
// elements are themselves arrays.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

namespace llmq {

// The value type ids stored in GGUF files (gguf_type in ggml).
enum class GgufType : uint32_t {
  Uint8 = 0, Int8 = 1, Uint16 = 2, Int16 = 3, Uint32 = 4, Int32 = 5, Float32 = 6,
  Bool = 7, String = 8, Array = 9, Uint64 = 10, Int64 = 11, Float64 = 12,
};
inline constexpr uint32_t kGgufTypeCount = 13;

// "uint8", "float32", "string", "array", ...; "type<id>" for an unknown id.
std::string gguf_type_name(GgufType t);

class GgufValue;

namespace gguf_detail {
template <typename T> struct TypeOf;  // C++ type -> GGUF value type
template <> struct TypeOf<uint8_t> { static constexpr GgufType value = GgufType::Uint8; };
template <> struct TypeOf<int8_t> { static constexpr GgufType value = GgufType::Int8; };
template <> struct TypeOf<uint16_t> { static constexpr GgufType value = GgufType::Uint16; };
template <> struct TypeOf<int16_t> { static constexpr GgufType value = GgufType::Int16; };
template <> struct TypeOf<uint32_t> { static constexpr GgufType value = GgufType::Uint32; };
template <> struct TypeOf<int32_t> { static constexpr GgufType value = GgufType::Int32; };
template <> struct TypeOf<float> { static constexpr GgufType value = GgufType::Float32; };
template <> struct TypeOf<bool> { static constexpr GgufType value = GgufType::Bool; };
template <> struct TypeOf<std::string> { static constexpr GgufType value = GgufType::String; };
template <> struct TypeOf<uint64_t> { static constexpr GgufType value = GgufType::Uint64; };
template <> struct TypeOf<int64_t> { static constexpr GgufType value = GgufType::Int64; };
template <> struct TypeOf<double> { static constexpr GgufType value = GgufType::Float64; };
template <> struct TypeOf<GgufValue> { static constexpr GgufType value = GgufType::Array; };  // element of an array of arrays

template <typename T> concept Scalar = requires { TypeOf<T>::value; } && !std::is_same_v<T, GgufValue>;
template <typename T> struct IsVector : std::false_type {};
template <typename U> struct IsVector<std::vector<U>> : std::true_type { using element = U; };
template <typename T> concept TypedArray = IsVector<T>::value && Scalar<typename IsVector<T>::element>;
template <typename T> concept Storable = Scalar<T> || TypedArray<T>;

// "uint32" for uint32_t, "array of string" for std::vector<std::string>.
template <typename T> std::string description_of() {
  if constexpr (IsVector<T>::value) return "array of " + gguf_type_name(TypeOf<typename IsVector<T>::element>::value);
  else return gguf_type_name(TypeOf<T>::value);
}
}  // namespace gguf_detail

class GgufValue {
 public:
  using Storage = std::variant<
      uint8_t, int8_t, uint16_t, int16_t, uint32_t, int32_t, float, bool, std::string, uint64_t, int64_t, double,
      std::vector<uint8_t>, std::vector<int8_t>, std::vector<uint16_t>, std::vector<int16_t>, std::vector<uint32_t>,
      std::vector<int32_t>, std::vector<float>, std::vector<bool>, std::vector<std::string>, std::vector<uint64_t>,
      std::vector<int64_t>, std::vector<double>, std::vector<GgufValue>>;

  // Implicit from exactly the supported C++ types, so `set("n", uint32_t(4))`
  // stores a uint32; an int literal stores an int32. Types GGUF cannot hold
  // (long long, char, size_t on platforms where it is not uint64_t) do not compile.
  template <typename T>
    requires gguf_detail::Storable<std::remove_cvref_t<T>>
  GgufValue(T&& v) : v_(std::forward<T>(v)) {}
  GgufValue(const char* s) : v_(std::string(s)) {}
  GgufValue(std::string_view s) : v_(std::string(s)) {}
  // An array of arrays; throws llmq::Error if an element is not an array.
  explicit GgufValue(std::vector<GgufValue> arrays);

  GgufType type() const;  // GgufType::Array for every array
  bool is_array() const { return v_.index() >= kFirstArrayIndex; }
  GgufType array_type() const;  // element type; throws llmq::Error if not an array
  size_t array_size() const;    // throws llmq::Error if not an array

  template <typename T> bool holds() const { return std::holds_alternative<T>(v_); }
  template <typename T> const T* get_if() const { return std::get_if<T>(&v_); }
  // The exact stored type (uint32_t, std::string, std::vector<float>,
  // std::vector<GgufValue>, ...); throws llmq::Error("expected uint32, found string").
  template <typename T> const T& get() const {
    if (const T* p = std::get_if<T>(&v_)) return *p;
    throw_mismatch(gguf_detail::description_of<T>());
  }

  // Lenient numeric reads for keys whose integer width varies between
  // writers: any integer scalar, range-checked; to_double also takes floats.
  int64_t to_int64() const;
  uint64_t to_uint64() const;
  double to_double() const;

  std::string description() const;  // "uint32", "array of 3 string"
  // Human-readable value for dumps: 7, 0.5, "text", [1, 2, ... (100 values)].
  std::string to_display_string(size_t max_elements = 8) const;

  const Storage& storage() const { return v_; }
  bool operator==(const GgufValue& o) const { return v_ == o.v_; }

 private:
  static constexpr size_t kFirstArrayIndex = 12;  // Storage lists the 12 scalars first
  [[noreturn]] void throw_mismatch(const std::string& expected) const;
  Storage v_;
};

}  // namespace llmq
