#include "io/safetensors_writer.h"

#include <fcntl.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <nlohmann/json.hpp>

#include "util/error.h"

namespace llmq {

SafetensorsWriter::SafetensorsWriter(std::string path) : path_(std::move(path)) {}
SafetensorsWriter::~SafetensorsWriter() = default;

void SafetensorsWriter::set_metadata(const std::string& key, const std::string& value) { metadata_[key] = value; }

void SafetensorsWriter::declare(const std::string& name, DType dtype, std::vector<int64_t> shape) {
  if (out_) fail("{}: cannot declare tensor {} after writing started", path_, name);
  for (const auto& e : entries_)
    if (e.name == name) fail("{}: tensor {} declared twice", path_, name);
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  entries_.push_back({name, dtype, std::move(shape), size_t(n) * dtype_size(dtype)});
}

void SafetensorsWriter::add(const std::string& name, DType dtype, std::vector<int64_t> shape, const void* data,
                            size_t nbytes) {
  declare(name, dtype, std::move(shape));
  if (entries_.back().nbytes != nbytes) fail("{}: tensor {} has {} bytes, shape says {}", path_, name, nbytes, entries_.back().nbytes);
  const uint8_t* p = static_cast<const uint8_t*>(data);
  pending_.resize(entries_.size());
  pending_.back().assign(p, p + nbytes);
}

std::string safetensors_header(const std::map<std::string, std::string>& metadata,
                               const std::vector<SafetensorsEntry>& entries) {
  nlohmann::ordered_json h;
  if (!metadata.empty()) h["__metadata__"] = metadata;
  size_t off = 0;
  for (const auto& e : entries) {
    h[e.name] = {{"dtype", dtype_name(e.dtype)}, {"shape", e.shape}, {"data_offsets", {off, off + e.nbytes}}};
    off += e.nbytes;
  }
  std::string s = h.dump();
  s.append((8 - s.size() % 8) % 8, ' ');  // keep the data section 8-byte aligned, as the reference writer does
  return s;
}

void SafetensorsWriter::write_header() {
  const std::string s = safetensors_header(metadata_, entries_);
  uint64_t len = s.size();
  out_ = std::make_unique<AtomicOutputFile>(path_);
  out_->write(&len, 8);
  out_->write(s.data(), s.size());
}

const SafetensorsEntry& SafetensorsWriter::next_entry(const std::string& name) {
  if (!out_) write_header();
  if (next_ >= entries_.size() || entries_[next_].name != name)
    fail("{}: tensor {} written out of declared order", path_, name);
  return entries_[next_];
}

void SafetensorsWriter::write(const std::string& name, const void* data, size_t nbytes) {
  const SafetensorsEntry& e = next_entry(name);
  if (e.nbytes != nbytes) fail("{}: tensor {} has {} bytes, expected {}", path_, name, nbytes, e.nbytes);
  out_->write(data, nbytes);
  ++next_;
}

void SafetensorsWriter::write_streamed(const std::string& name, const std::function<void(const ByteSink&)>& produce) {
  const SafetensorsEntry& e = next_entry(name);
  size_t written = 0;
  produce([&](const void* data, size_t n) {
    if (written + n > e.nbytes) fail("{}: tensor {} has more than the {} bytes declared", path_, name, e.nbytes);
    out_->write(data, n);
    written += n;
  });
  if (written != e.nbytes) fail("{}: tensor {} has {} bytes, expected {}", path_, name, written, e.nbytes);
  ++next_;
}

void SafetensorsWriter::write_hole(const std::string& name) {
  const SafetensorsEntry& e = next_entry(name);
  std::FILE* fp = out_->handle();
  if (std::fflush(fp) != 0) throw file_error(path_, std::string("write failed: ") + std::strerror(errno));
  const off_t end = ::ftello(fp) + off_t(e.nbytes);
  if (::ftruncate(::fileno(fp), end) != 0 || ::fseeko(fp, end, SEEK_SET) != 0)
    throw file_error(path_, std::string("cannot extend the file: ") + std::strerror(errno));
  ++next_;
}

void SafetensorsWriter::start_writeback() {
  if (!out_) return;
  std::FILE* fp = out_->handle();
  if (std::fflush(fp) != 0) throw file_error(path_, std::string("write failed: ") + std::strerror(errno));
  (void)::sync_file_range(::fileno(fp), 0, 0, SYNC_FILE_RANGE_WRITE);  // a hint: errors surface at the fsync
}

void SafetensorsWriter::finish() {
  if (!out_) write_header();
  for (size_t i = next_; i < entries_.size(); ++i) {
    if (i < pending_.size() && !pending_[i].empty()) write(entries_[i].name, pending_[i].data(), pending_[i].size());
    else if (entries_[i].nbytes == 0) write(entries_[i].name, nullptr, 0);
    else fail("{}: tensor {} was declared but never written", path_, entries_[i].name);
  }
  out_->commit();
}

}  // namespace llmq
