#pragma once
// Writes a GGUF v3 file that ggml/llama.cpp can load. Usage:
//
//   GgufWriter w("model.gguf");
//   w.set("general.architecture", "llama");          // metadata, in order
//   w.add_tensor("token_embd.weight", {4096, 32000}, GgmlType::Q4_K);  // every tensor, up front
//   w.write_tensor_data("token_embd.weight", bytes, nbytes);           // then the data, in the same order
//   w.finish();                                       // renames the file into place
//
// The header (metadata + tensor table with offsets) is written before the
// first tensor's data, so peak memory is the header plus the one tensor the
// caller is holding. Output goes to a temporary file beside `path`; a writer
// destroyed without finish() (an exception, a failed check) removes it, so a
// partial file never appears under the final name.
//
// Layout choices match ggml's own writer: each tensor's data starts on a
// multiple of the alignment, with zero padding after every tensor (the last
// included); shapes are written with exactly the dims given (ggml itself
// drops trailing 1s, which loads identically). Checked byte for byte against
// ggml's gguf_write_to_file. Arrays of arrays are written as the spec says,
// but llama.cpp refuses to load them: keep them out of model files.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "io/gguf/gguf_metadata.h"
#include "io/gguf/gguf_tensor_info.h"
#include "io/gguf/gguf_value.h"
#include "quant/formats/ggml/ggml_types.h"
#include "util/atomic_output.h"

namespace llmq {

class GgufWriter {
 public:
  // Creates the temporary output now, so an unwritable path fails early.
  explicit GgufWriter(const std::string& path, OutputScope scope = OutputScope::UserOutput);
  GgufWriter(const GgufWriter&) = delete;
  GgufWriter& operator=(const GgufWriter&) = delete;

  // --- before the first write_tensor_data() ---
  // Adds a key or replaces its value in place. "general.alignment" must be a
  // uint32 power of two and sets the tensor data alignment.
  void set(std::string key, GgufValue value);
  bool remove(std::string_view key);
  // Default 32. Written as "general.alignment" only when not 32, as ggml's
  // writers do (readers assume 32 when the key is absent).
  void set_alignment(uint32_t alignment);
  // Declares the next tensor; shape in ggml order (shape[0] = row length).
  void add_tensor(std::string name, std::vector<int64_t> shape, ggml::GgmlType type);

  // --- then, once per declared tensor, in declaration order ---
  // nbytes must equal row_size(type, shape[0]) * rows.
  void write_tensor_data(std::string_view name, const void* data, size_t nbytes);
  // Checks every tensor was written, flushes, fsyncs, renames into place.
  void finish();

  const std::string& path() const { return out_.path(); }
  uint32_t alignment() const { return alignment_; }
  const GgufMetadata& metadata() const { return metadata_; }
  // Declared tensors with their data offsets (final once declared).
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }

 private:
  void require_header_not_written(std::string_view action) const;
  void write_header();

  AtomicOutputFile out_;
  GgufMetadata metadata_;
  uint32_t alignment_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
  uint64_t data_bytes_ = 0;  // padded size of the declared tensors' data
  bool header_written_ = false;
  bool finished_ = false;
  size_t data_start_ = 0;    // file offset of the data section
  size_t next_tensor_ = 0;   // index of the next tensor whose data is due
};

}  // namespace llmq
