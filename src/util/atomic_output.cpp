#include "util/atomic_output.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "util/error.h"
#include "util/output_guard.h"

namespace fs = std::filesystem;

namespace llmq {

static std::string temp_name_for(const std::string& path) { return sibling_temp_path(path, "tmp"); }

// A file output may replace an earlier regular file (as llama-quantize does),
// never a directory or a special file.
static void check_file_target(const std::string& path) {
  check_output_path(path);
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw file_error(path, "is a directory; give the path of a file to write");
}

AtomicOutputFile::AtomicOutputFile(const std::string& path, OutputScope scope)
    : path_(path), tmp_(temp_name_for(path)), scope_(scope) {
  if (scope_ == OutputScope::UserOutput) check_file_target(path_);
  remove_stale_temporaries(path_);
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
  if (scope_ == OutputScope::UserOutput) check_file_target(path_);  // inputs named since we opened
  std::error_code ec;
  fs::rename(tmp_, path_, ec);
  if (ec) throw file_error(path_, "cannot rename temporary output into place: " + ec.message());
  committed_ = true;
}

// An existing directory is replaced only with --overwrite and only when an
// earlier run of ours wrote it; anything else there is the user's.
void check_output_dir_target(const std::string& path) {
  check_output_path(path);
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(path, ec))) return;
  if (!fs::is_directory(path, ec)) throw file_error(path, "exists and is not a directory; refusing to replace it");
  if (!overwrite_outputs())
    throw file_error(path, "output directory already exists (give --overwrite to replace an earlier llm-quantize "
                           "output, or choose another -o)");
  if (!is_our_output_dir(path))
    throw file_error(path, std::string("exists and was not written by llm-quantize (no ") + kOutputMarker +
                               "); refusing to replace it even with --overwrite");
}

AtomicOutputDir::AtomicOutputDir(const std::string& path) : path_(path), tmp_(temp_name_for(path)) {
  check_output_dir_target(path_);
  remove_stale_temporaries(path_);
  std::error_code ec;
  if (!fs::create_directories(tmp_, ec) || ec)
    throw file_error(path, "cannot create output directory: " + ec.message());
  std::FILE* m = std::fopen(file(kOutputMarker).c_str(), "wb");
  if (!m) throw file_error(path, std::string("cannot create output directory: ") + std::strerror(errno));
  std::fputs("{\"written_by\": \"llm-quantize\"}\n", m);
  std::fclose(m);
}

AtomicOutputDir::~AtomicOutputDir() {
  if (!committed_) {
    std::error_code ec;
    fs::remove_all(tmp_, ec);
  }
}

void AtomicOutputDir::commit() {
  check_output_dir_target(path_);  // again: the world may have changed while we wrote
  std::error_code ec;
  std::string old;
  if (fs::exists(fs::symlink_status(path_, ec))) {
    // Move our earlier output aside, put the new one in place, then drop the old.
    old = sibling_temp_path(path_, "old");
    fs::rename(path_, old, ec);
    if (ec) throw file_error(path_, "cannot move the earlier output aside: " + ec.message());
  }
  fs::rename(tmp_, path_, ec);
  if (ec) {
    std::error_code back;
    if (!old.empty()) fs::rename(old, path_, back);
    throw file_error(path_, "cannot rename temporary output into place: " + ec.message());
  }
  committed_ = true;
  if (!old.empty()) fs::remove_all(old, ec);
}

void ensure_not_same_path(const std::string& output, const std::string& input) { check_output_path(output, {input}); }

}  // namespace llmq
