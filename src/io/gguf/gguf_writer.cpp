#include "io/gguf/gguf_writer.h"

#include <fmt/format.h>

#include "io/gguf/gguf_encode.h"
#include "io/gguf/gguf_format.h"
#include "util/error.h"

namespace llmq {

GgufWriter::GgufWriter(const std::string& path, OutputScope scope) : out_(path, scope), alignment_(gguf::kDefaultAlignment) {}

void GgufWriter::require_header_not_written(std::string_view action) const {
  if (header_written_)
    throw file_error(path(), fmt::format("cannot {} after tensor data writing has started", action));
}

void GgufWriter::set(std::string key, GgufValue value) {
  require_header_not_written("set metadata");
  if (key.empty()) throw file_error(path(), "metadata key must not be empty");
  if (key == gguf::kAlignmentKey) {
    const uint32_t* a = value.get_if<uint32_t>();
    if (!a) throw file_error(path(), fmt::format("{} must be a uint32, got {}", key, value.description()));
    set_alignment(*a);
    return;
  }
  metadata_.set(std::move(key), std::move(value));
}

bool GgufWriter::remove(std::string_view key) {
  require_header_not_written("remove metadata");
  if (key == gguf::kAlignmentKey) {
    const bool had = alignment_ != gguf::kDefaultAlignment;
    set_alignment(gguf::kDefaultAlignment);
    return had;
  }
  return metadata_.remove(key);
}

void GgufWriter::set_alignment(uint32_t alignment) {
  require_header_not_written("change the alignment");
  if (!gguf::is_power_of_two(alignment))
    throw file_error(path(), fmt::format("alignment {} is not a power of two", alignment));
  alignment_ = alignment;
  data_bytes_ = 0;  // tensors declared so far move to the new alignment
  for (GgufTensorInfo& t : tensors_) {
    t.offset = data_bytes_;
    data_bytes_ += gguf::align_up(t.nbytes, alignment_);
  }
  if (alignment == gguf::kDefaultAlignment) metadata_.remove(gguf::kAlignmentKey);
  else metadata_.set(std::string(gguf::kAlignmentKey), alignment);
}

void GgufWriter::add_tensor(std::string name, std::vector<int64_t> shape, ggml::GgmlType type) {
  require_header_not_written("declare tensors");
  if (name.empty()) throw file_error(path(), "tensor name must not be empty");
  if (name.size() > gguf::kMaxTensorNameBytes)
    throw file_error(path(), fmt::format("tensor name '{}' is {} bytes; ggml allows at most {}", name, name.size(),
                                         gguf::kMaxTensorNameBytes));
  if (tensor_index_.count(name)) throw file_error(path(), fmt::format("tensor '{}' declared twice", name));
  if (std::string problem = gguf::shape_problem(shape, type); !problem.empty())
    throw file_error(path(), fmt::format("tensor '{}': {}", name, problem));

  GgufTensorInfo t;
  t.nbytes = gguf::tensor_nbytes(shape, type);
  t.offset = data_bytes_;
  t.name = std::move(name);
  t.shape = std::move(shape);
  t.type = type;
  data_bytes_ += gguf::align_up(t.nbytes, alignment_);
  tensor_index_.emplace(t.name, tensors_.size());
  tensors_.push_back(std::move(t));
}

void GgufWriter::write_header() {
  gguf::Bytes h;
  gguf::append_bytes(h, gguf::kMagic, sizeof(gguf::kMagic));
  gguf::append_pod(h, gguf::kVersion);
  gguf::append_pod(h, uint64_t(tensors_.size()));
  gguf::append_pod(h, uint64_t(metadata_.size()));
  for (const auto& [key, value] : metadata_) gguf::append_key_value(h, key, value);
  for (const GgufTensorInfo& t : tensors_) {
    gguf::append_string(h, t.name);
    gguf::append_pod(h, uint32_t(t.shape.size()));
    for (int64_t d : t.shape) gguf::append_pod(h, d);
    gguf::append_pod(h, uint32_t(t.type));
    gguf::append_pod(h, t.offset);
  }
  out_.write(h.data(), h.size());
  out_.pad_to(alignment_);  // the data section starts aligned
  data_start_ = out_.tell();
  header_written_ = true;
}

void GgufWriter::write_tensor_data(std::string_view name, const void* data, size_t nbytes) {
  if (finished_) throw file_error(path(), "write_tensor_data after finish()");
  if (!header_written_) write_header();
  if (next_tensor_ >= tensors_.size()) {
    const bool declared = tensor_index_.count(name) != 0;
    throw file_error(path(), fmt::format("tensor '{}' {}: all {} declared tensors are already written", name,
                                         declared ? "written twice" : "was not declared", tensors_.size()));
  }
  const GgufTensorInfo& t = tensors_[next_tensor_];
  if (name != t.name) {
    const bool declared = tensor_index_.count(name) != 0;
    throw file_error(path(), fmt::format("tensor '{}' {}; expected the data of '{}' (tensor {} of {})", name,
                                         declared ? "written out of declaration order" : "was not declared",
                                         t.name, next_tensor_ + 1, tensors_.size()));
  }
  if (nbytes != t.nbytes)
    throw file_error(path(), fmt::format("tensor '{}' ({} {}): got {} bytes of data, expected {}", t.name,
                                         ggml::type_name(t.type), gguf::shape_string(t.shape), nbytes, t.nbytes));
  if (out_.tell() != data_start_ + t.offset)  // the offsets in the header promised this position
    throw file_error(path(), fmt::format("internal error: tensor '{}' would start at byte {}, header says {}",
                                         t.name, out_.tell(), data_start_ + t.offset));
  out_.write(data, nbytes);
  out_.pad_to(alignment_);
  ++next_tensor_;
}

void GgufWriter::finish() {
  if (finished_) return;
  if (!header_written_) write_header();
  if (next_tensor_ < tensors_.size())
    throw file_error(path(), fmt::format("finish() with {} of {} tensors written; '{}' has no data yet", next_tensor_,
                                         tensors_.size(), tensors_[next_tensor_].name));
  out_.commit();
  finished_ = true;
}

}  // namespace llmq
