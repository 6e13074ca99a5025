#pragma once
// Writes safetensors files (the format every HF-style export uses: GPTQ, AWQ,
// compressed-tensors, MLX). Tensors are declared first, so the header can be
// written up front and data streamed one tensor at a time.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "util/atomic_output.h"

namespace llmq {

struct SafetensorsEntry {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  size_t nbytes;
};

// The header as SafetensorsWriter writes it (JSON, padded to 8 bytes; the
// 8-byte length before it not included): so a file's size is known before it
// is written.
std::string safetensors_header(const std::map<std::string, std::string>& metadata,
                               const std::vector<SafetensorsEntry>& entries);

class SafetensorsWriter {
 public:
  explicit SafetensorsWriter(std::string path);
  ~SafetensorsWriter();

  void set_metadata(const std::string& key, const std::string& value);
  // Declares a tensor; data is added later in the same order with write().
  void declare(const std::string& name, DType dtype, std::vector<int64_t> shape);
  // Writes the declared tensor's bytes (nbytes must match shape x dtype).
  void write(const std::string& name, const void* data, size_t nbytes);
  // The same, the bytes given in pieces to the sink `produce` is handed (a
  // 2 GB embedding converted a tile at a time, never whole in memory).
  using ByteSink = std::function<void(const void*, size_t)>;
  void write_streamed(const std::string& name, const std::function<void(const ByteSink&)>& produce);
  // Leaves the declared tensor's bytes as a hole: the file is extended past
  // them without writing (they read back as zeros and, on filesystems with
  // sparse files, take no disk blocks). For zero-filled test checkpoints.
  void write_hole(const std::string& name);
  // Starts writing what was written so far to disk without waiting for it
  // (sync_file_range), so that finish()'s fsync has little left to wait for:
  // for files larger than the page cache holds dirty, called between tensors.
  void start_writeback();
  // Checks every tensor was written and renames the file into place.
  void finish();

  // Convenience: declare + write in one go for small files (keeps data in memory until finish).
  void add(const std::string& name, DType dtype, std::vector<int64_t> shape, const void* data, size_t nbytes);

 private:
  void write_header();
  // The next declared tensor, checked to be `name` (in declared order).
  const SafetensorsEntry& next_entry(const std::string& name);
  std::string path_;
  std::map<std::string, std::string> metadata_;
  std::vector<SafetensorsEntry> entries_;
  std::vector<std::vector<uint8_t>> pending_;  // data given to add()
  std::unique_ptr<AtomicOutputFile> out_;
  size_t next_ = 0;
};

}  // namespace llmq
