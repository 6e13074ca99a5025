#include "util/progress.h"

#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>

namespace llmq {

static bool g_progress = true;
static bool g_muted = false;
void set_progress_enabled(bool on) { g_progress = on; }
bool progress_enabled() { return g_progress && !g_muted; }
void mute_progress() { g_muted = true; }

static ProgressListener g_listener;
void set_progress_listener(ProgressListener listener) { g_listener = std::move(listener); }

Progress::Progress(std::string label, size_t total, bool enabled, std::string unit)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total),
      enabled_(enabled && progress_enabled()), tty_(::isatty(2)),
      start_(std::chrono::steady_clock::now()), last_draw_(start_) {}

double Progress::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Progress::update(size_t n, const std::string& extra) {
  done_ += n;
  if (g_listener) g_listener(label_, done_, total_);
  auto now = std::chrono::steady_clock::now();
  double since = std::chrono::duration<double>(now - last_draw_).count();
  if (since >= (tty_ ? 0.1 : 5.0) || done_ == total_) {
    last_draw_ = now;
    draw(false, extra);
  }
}

void Progress::finish(const std::string& extra) { draw(true, extra); }

void Progress::draw(bool final, const std::string& extra) {
  if (!enabled_) return;
  double t = elapsed_seconds();
  double rate = t > 0 ? double(done_) / t : 0.0;
  double eta = (rate > 0 && total_ > done_) ? double(total_ - done_) / rate : 0.0;
  std::string line;
  if (total_ > 0) {
    const int width = 24;
    int filled = int(double(width) * double(done_) / double(total_));
    line = fmt::format("{} [{}{}] {}/{} {:.1f} {}/s eta {:.0f}s", label_, std::string(filled, '#'),
                       std::string(width - filled, '.'), done_, total_, rate, unit_.empty() ? "it" : unit_, eta);
  } else {
    line = fmt::format("{} {} {:.1f} {}/s", label_, done_, rate, unit_.empty() ? "it" : unit_);
  }
  if (!extra.empty()) line += " " + extra;
  if (final) line += fmt::format(" ({:.1f}s)", t);
  if (tty_) std::fprintf(stderr, "\r\033[K%s%s", line.c_str(), final ? "\n" : "");
  else std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

}  // namespace llmq
