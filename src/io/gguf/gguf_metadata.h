#pragma once
// The key/value section of a GGUF file: keys in the order they were added or
// read (GGUF preserves order and tools display it), each key at most once.
#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "io/gguf/gguf_value.h"

namespace llmq {

class GgufMetadata {
 public:
  using Entry = std::pair<std::string, GgufValue>;

  // Replaces the value of an existing key in place (its position is kept),
  // otherwise appends.
  void set(std::string key, GgufValue value);
  bool remove(std::string_view key);  // false if the key was absent

  const GgufValue* find(std::string_view key) const;
  bool contains(std::string_view key) const { return find(key) != nullptr; }
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  const std::vector<Entry>& entries() const { return entries_; }
  auto begin() const { return entries_.begin(); }
  auto end() const { return entries_.end(); }

 private:
  std::vector<Entry> entries_;
  std::map<std::string, size_t, std::less<>> index_;  // key -> position in entries_
};

}  // namespace llmq
