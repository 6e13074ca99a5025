#include "io/gguf/gguf_encode.h"

namespace llmq::gguf {

namespace {

template <typename T> void append_element(Bytes& out, const T& v);

// An array's body: element type, element count, elements. An element of an
// array of arrays is encoded as exactly such a body (its type is implied).
void append_array_body(Bytes& out, const GgufValue& value) {
  append_pod(out, uint32_t(value.array_type()));
  append_pod(out, uint64_t(value.array_size()));
  std::visit(
      [&out](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (gguf_detail::IsVector<T>::value) {
          using E = typename T::value_type;
          if constexpr (std::is_arithmetic_v<E> && !std::is_same_v<E, bool>) {
            // numbers are stored exactly as in memory on a little-endian host
            append_bytes(out, v.data(), v.size() * sizeof(E));
          } else {
            for (const auto& e : v) append_element<E>(out, e);
          }
        }
      },
      value.storage());
}

template <typename T> void append_element(Bytes& out, const T& v) {
  if constexpr (std::is_same_v<T, std::string>) append_string(out, v);
  else if constexpr (std::is_same_v<T, bool>) append_pod(out, uint8_t(v ? 1 : 0));
  else if constexpr (std::is_same_v<T, GgufValue>) append_array_body(out, v);
  else append_pod(out, v);
}

}  // namespace

void append_string(Bytes& out, std::string_view s) {
  append_pod(out, uint64_t(s.size()));
  append_bytes(out, s.data(), s.size());
}

void append_key_value(Bytes& out, std::string_view key, const GgufValue& value) {
  append_string(out, key);
  append_pod(out, uint32_t(value.type()));
  if (value.is_array()) {
    append_array_body(out, value);
    return;
  }
  std::visit(
      [&out](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (!gguf_detail::IsVector<T>::value) append_element<T>(out, v);
      },
      value.storage());
}

}  // namespace llmq::gguf
