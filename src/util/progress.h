#pragma once
// Progress on stderr for long work: a bar with rate and ETA when stderr is a
// terminal, a line every few seconds otherwise (logs, CI). Silent when
// disabled (--format json keeps stdout clean; progress never goes to stdout).
#include <chrono>
#include <cstddef>
#include <functional>
#include <string>

namespace llmq {

class Progress {
 public:
  Progress(std::string label, size_t total, bool enabled = true, std::string unit = "");
  // Advance by n; `extra` is appended (e.g. "ppl 40.1").
  void update(size_t n, const std::string& extra = "");
  void finish(const std::string& extra = "");
  double elapsed_seconds() const;

 private:
  void draw(bool final, const std::string& extra);
  std::string label_, unit_;
  size_t total_, done_ = 0;
  bool enabled_, tty_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

// Global switch the CLI sets from --quiet / --format json.
void set_progress_enabled(bool on);
bool progress_enabled();
// Off for the rest of the process whatever the options say (the ranks of a
// distributed job other than rank 0, which reports for all).
void mute_progress();

// Sees every update of every Progress (label, done, total; total 0 when
// unknown), displayed or not: the Python package's progress callback.
using ProgressListener = std::function<void(const std::string& label, size_t done, size_t total)>;
void set_progress_listener(ProgressListener listener);

}  // namespace llmq
