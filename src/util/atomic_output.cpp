#include "util/atomic_output.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "util/error.h"

namespace fs = std::filesystem;

namespace llmq {

static std::string temp_name_for(const std::string& path) {
  fs::path p(path);
  std::string name = "." + p.filename().string() + ".tmp-" + std::to_string(::getpid());
  return (p.parent_path() / name).string();
}

AtomicOutputFile::AtomicOutputFile(const std::string& path) : path_(path), tmp_(temp_name_for(path)) {
  fp_ = std::fopen(tmp_.c_str(), "wb");
  if (!fp_) throw file_error(path, std::string("cannot create output: ") + std::strerror(errno));
}

AtomicOutputFile::~AtomicOutputFile() {
  if (fp_) std::fclose(fp_);
  if (!committed_) std::remove(tmp_.c_str());
}

void AtomicOutputFile::write(const void* data, size_t n) {
  if (n == 0) return;
  if (std::fwrite(data, 1, n, fp_) != n)
    throw file_error(path_, std::string("write failed: ") + std::strerror(errno));
  written_ += n;
}

void AtomicOutputFile::pad_to(size_t alignment) {
  static const std::vector<char> zeros(4096, 0);
  size_t pad = (alignment - written_ % alignment) % alignment;
  while (pad > 0) {
    size_t n = std::min(pad, zeros.size());
    write(zeros.data(), n);
    pad -= n;
  }
}

void AtomicOutputFile::commit() {
  if (std::fflush(fp_) != 0) throw file_error(path_, std::string("write failed: ") + std::strerror(errno));
  ::fsync(::fileno(fp_));
  std::fclose(fp_);
  fp_ = nullptr;
  std::error_code ec;
  fs::rename(tmp_, path_, ec);
  if (ec) throw file_error(path_, "cannot rename temporary output into place: " + ec.message());
  committed_ = true;
}

AtomicOutputDir::AtomicOutputDir(const std::string& path, bool overwrite)
    : path_(path), tmp_(temp_name_for(path)), overwrite_(overwrite) {
  std::error_code ec;
  if (!overwrite_ && fs::exists(path_)) throw file_error(path_, "output already exists");
  fs::remove_all(tmp_, ec);
  if (!fs::create_directories(tmp_, ec) || ec)
    throw file_error(path, "cannot create output directory: " + ec.message());
}

AtomicOutputDir::~AtomicOutputDir() {
  if (!committed_) {
    std::error_code ec;
    fs::remove_all(tmp_, ec);
  }
}

void AtomicOutputDir::commit() {
  std::error_code ec;
  if (fs::exists(path_)) {
    if (!overwrite_) throw file_error(path_, "output already exists");
    fs::remove_all(path_, ec);
    if (ec) throw file_error(path_, "cannot replace existing output: " + ec.message());
  }
  fs::rename(tmp_, path_, ec);
  if (ec) throw file_error(path_, "cannot rename temporary output into place: " + ec.message());
  committed_ = true;
}

void ensure_not_same_path(const std::string& output, const std::string& input) {
  std::error_code ec;
  if (fs::exists(output, ec) && fs::exists(input, ec) && fs::equivalent(output, input, ec))
    throw file_error(output, "refusing to overwrite the input " + input);
  // An output inside an input directory is fine; the input itself is not.
}

}  // namespace llmq
