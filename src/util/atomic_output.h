#pragma once
// Writes a file (or directory) under a temporary name beside the target and
// renames it into place only on commit(). If the writer is destroyed without
// commit (an exception, a failed quality check), the temporary is removed, so
// no partial output is ever left under the final name.
#include <cstdio>
#include <string>

namespace llmq {

// UserOutput: a path the user named (checked against the run's inputs, see
// output_guard.h). OwnState: a file of the program's own bookkeeping (resume
// checkpoints, caches) that it updates in place inside its own folders.
enum class OutputScope { UserOutput, OwnState };

class AtomicOutputFile {
 public:
  // Throws llmq::Error if `path` may not be written (output_guard.h) or cannot be created.
  explicit AtomicOutputFile(const std::string& path, OutputScope scope = OutputScope::UserOutput);
  ~AtomicOutputFile();
  AtomicOutputFile(const AtomicOutputFile&) = delete;
  AtomicOutputFile& operator=(const AtomicOutputFile&) = delete;

  std::FILE* handle() { return fp_; }
  void write(const void* data, size_t n);
  void pad_to(size_t alignment);   // zero bytes up to a multiple of alignment
  size_t tell() const { return written_; }
  void commit();                    // flush, fsync, close, rename
  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return tmp_; }

 private:
  std::string path_, tmp_;
  std::FILE* fp_ = nullptr;
  size_t written_ = 0;
  OutputScope scope_;
  bool committed_ = false;
};

// Throws llmq::Error when AtomicOutputDir(path) would refuse the path (an input,
// an existing directory without --overwrite, one we did not write): long jobs
// call it before their work, not only when they commit.
void check_output_dir_target(const std::string& path);

// Same contract for an output directory (HF-style checkpoints): files are
// written into temp_dir(); commit() renames it to the final path. The directory
// carries kOutputMarker. An existing directory at the path is refused unless
// --overwrite was given and it carries the marker (output_guard.h).
class AtomicOutputDir {
 public:
  explicit AtomicOutputDir(const std::string& path);
  ~AtomicOutputDir();
  AtomicOutputDir(const AtomicOutputDir&) = delete;
  AtomicOutputDir& operator=(const AtomicOutputDir&) = delete;
  const std::string& temp_dir() const { return tmp_; }
  std::string file(const std::string& name) const { return tmp_ + "/" + name; }
  void commit();

 private:
  std::string path_, tmp_;
  bool committed_ = false;
};

// Throws llmq::Error naming `output` when it is, contains or lies inside
// `input` (or one of the run's protected inputs).
void ensure_not_same_path(const std::string& output, const std::string& input);

}  // namespace llmq
