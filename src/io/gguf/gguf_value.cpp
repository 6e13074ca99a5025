#include "io/gguf/gguf_value.h"

#include <limits>

#include <fmt/format.h>

#include "util/error.h"

namespace llmq {

std::string gguf_type_name(GgufType t) {
  static constexpr const char* kNames[kGgufTypeCount] = {
      "uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
      "bool",  "string", "array", "uint64", "int64", "float64"};
  const uint32_t id = uint32_t(t);
  return id < kGgufTypeCount ? kNames[id] : "type" + std::to_string(id);
}

namespace {

template <typename T> constexpr bool is_integer_scalar() {
  return std::is_integral_v<T> && !std::is_same_v<T, bool>;
}

// One element (or scalar) for display; strings quoted with escapes so that
// control characters in vocabularies stay on one line.
template <typename T> std::string display_scalar(const T& v) {
  if constexpr (std::is_same_v<T, std::string>) return fmt::format("{:?}", v);
  else if constexpr (std::is_same_v<T, bool>) return v ? "true" : "false";
  else if constexpr (std::is_same_v<T, GgufValue>) return v.to_display_string(4);
  else return fmt::format("{}", v);
}

}  // namespace

GgufValue::GgufValue(std::vector<GgufValue> arrays) : v_(std::move(arrays)) {
  for (const GgufValue& e : std::get<std::vector<GgufValue>>(v_))
    if (!e.is_array()) fail("an array of arrays cannot hold a {} element", e.description());
}

GgufType GgufValue::type() const {
  return std::visit(
      [](const auto& v) -> GgufType {
        using T = std::decay_t<decltype(v)>;
        if constexpr (gguf_detail::IsVector<T>::value) return GgufType::Array;
        else return gguf_detail::TypeOf<T>::value;
      },
      v_);
}

GgufType GgufValue::array_type() const {
  return std::visit(
      [this](const auto& v) -> GgufType {
        using T = std::decay_t<decltype(v)>;
        if constexpr (gguf_detail::IsVector<T>::value) return gguf_detail::TypeOf<typename T::value_type>::value;
        else throw_mismatch("array");
      },
      v_);
}

size_t GgufValue::array_size() const {
  return std::visit(
      [this](const auto& v) -> size_t {
        using T = std::decay_t<decltype(v)>;
        if constexpr (gguf_detail::IsVector<T>::value) return v.size();
        else throw_mismatch("array");
      },
      v_);
}

int64_t GgufValue::to_int64() const {
  return std::visit(
      [this](const auto& v) -> int64_t {
        using T = std::decay_t<decltype(v)>;
        if constexpr (is_integer_scalar<T>()) {
          if constexpr (std::is_same_v<T, uint64_t>)
            if (v > uint64_t(std::numeric_limits<int64_t>::max())) fail("value {} does not fit in int64", v);
          return int64_t(v);
        } else {
          throw_mismatch("an integer");
        }
      },
      v_);
}

uint64_t GgufValue::to_uint64() const {
  return std::visit(
      [this](const auto& v) -> uint64_t {
        using T = std::decay_t<decltype(v)>;
        if constexpr (is_integer_scalar<T>()) {
          if constexpr (std::is_signed_v<T>)
            if (v < 0) fail("value {} is negative, expected an unsigned integer", v);
          return uint64_t(v);
        } else {
          throw_mismatch("an unsigned integer");
        }
      },
      v_);
}

double GgufValue::to_double() const {
  return std::visit(
      [this](const auto& v) -> double {
        using T = std::decay_t<decltype(v)>;
        if constexpr (is_integer_scalar<T>() || std::is_floating_point_v<T>) return double(v);
        else throw_mismatch("a number");
      },
      v_);
}

std::string GgufValue::description() const {
  if (!is_array()) return gguf_type_name(type());
  return fmt::format("array of {} {}", array_size(), gguf_type_name(array_type()));
}

std::string GgufValue::to_display_string(size_t max_elements) const {
  return std::visit(
      [max_elements](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (gguf_detail::IsVector<T>::value) {
          std::string out = "[";
          const size_t shown = std::min(v.size(), max_elements);
          for (size_t i = 0; i < shown; ++i) {
            if (i) out += ", ";
            out += display_scalar<typename T::value_type>(v[i]);
          }
          if (shown < v.size()) out += fmt::format(", ... ({} values)", v.size());
          return out + "]";
        } else {
          return display_scalar<T>(v);
        }
      },
      v_);
}

void GgufValue::throw_mismatch(const std::string& expected) const {
  fail("expected {}, found {}", expected, description());
}

}  // namespace llmq
