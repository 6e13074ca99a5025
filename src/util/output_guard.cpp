#include "util/output_guard.h"

#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <mutex>

#include "util/error.h"

namespace fs = std::filesystem;

namespace llmq {

namespace {

std::mutex g_mu;
std::vector<std::string> g_inputs;
bool g_overwrite = false;

// Absolute, symlinks of the existing prefix resolved, `.`/`..` folded.
fs::path resolved(const std::string& p) {
  std::error_code ec;
  fs::path abs = fs::absolute(p, ec);
  if (ec) abs = fs::path(p);
  fs::path r = fs::weakly_canonical(abs, ec);
  return ec ? abs.lexically_normal() : r;
}

// Whether `inner` is `outer` or lies below it, component by component.
bool within(const fs::path& inner, const fs::path& outer) {
  auto i = inner.begin(), o = outer.begin();
  for (; o != outer.end(); ++o, ++i) {
    if (o->empty() && std::next(o) == outer.end()) break;  // trailing separator
    if (i == inner.end() || *i != *o) return false;
  }
  return true;
}

bool same_file(const std::string& a, const std::string& b) {
  std::error_code ec;
  return fs::exists(a, ec) && fs::exists(b, ec) && fs::equivalent(a, b, ec) && !ec;
}

bool process_alive(long pid) { return pid > 0 && (::kill(pid_t(pid), 0) == 0 || errno != ESRCH); }

}  // namespace

void protect_input(const std::string& path) {
  if (path.empty()) return;
  std::lock_guard<std::mutex> lk(g_mu);
  if (std::find(g_inputs.begin(), g_inputs.end(), path) == g_inputs.end()) g_inputs.push_back(path);
}

void protect_inputs(const std::vector<std::string>& paths) {
  for (const std::string& p : paths) protect_input(p);
}

void clear_protected_inputs() {
  std::lock_guard<std::mutex> lk(g_mu);
  g_inputs.clear();
}

std::vector<std::string> protected_inputs() {
  std::lock_guard<std::mutex> lk(g_mu);
  return g_inputs;
}

void set_overwrite_outputs(bool allow) {
  std::lock_guard<std::mutex> lk(g_mu);
  g_overwrite = allow;
}

bool overwrite_outputs() {
  std::lock_guard<std::mutex> lk(g_mu);
  return g_overwrite;
}

void check_output_path(const std::string& output, const std::vector<std::string>& extra_inputs) {
  if (output.empty()) throw Error("empty output path");
  std::error_code ec;
  const fs::file_status st = fs::status(output, ec);
  if (!ec && fs::exists(st) && !fs::is_regular_file(st) && !fs::is_directory(st))
    throw file_error(output, "is a special file (FIFO, device or socket); refusing to write to it");
  std::vector<std::string> inputs = protected_inputs();
  inputs.insert(inputs.end(), extra_inputs.begin(), extra_inputs.end());
  const fs::path out = resolved(output);
  for (const std::string& in : inputs) {
    if (in.empty()) continue;
    const fs::path inp = resolved(in);
    if (out == inp || same_file(output, in))
      throw file_error(output, "is the input " + in + "; refusing to overwrite an input");
    if (within(inp, out))
      throw file_error(output, "contains the input " + in + "; refusing to write over it (choose another output path)");
    if (within(out, inp))
      throw file_error(output, "lies inside the input " + in + "; write outputs outside the inputs");
  }
}

bool is_our_output_dir(const std::string& dir) {
  std::error_code ec;
  return fs::is_directory(dir, ec) && fs::is_regular_file(fs::path(dir) / kOutputMarker, ec);
}

std::string sibling_temp_path(const std::string& path, const std::string& tag) {
  fs::path p = fs::path(path).lexically_normal();
  if (!p.has_filename()) p = p.parent_path();  // "out/" names the directory "out"
  return (p.parent_path() / ("." + p.filename().string() + "." + tag + "-" + std::to_string(::getpid()))).string();
}

void remove_stale_temporaries(const std::string& path) {
  fs::path p = fs::path(path).lexically_normal();
  if (!p.has_filename()) p = p.parent_path();
  const fs::path parent = p.parent_path().empty() ? fs::path(".") : p.parent_path();
  const std::string base = "." + p.filename().string() + ".";
  std::error_code ec;
  fs::directory_iterator it(parent, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.compare(0, base.size(), base) != 0) continue;
    const std::string rest = name.substr(base.size());  // "tmp-123" or "old-123"
    if (rest.size() < 5 || (rest.compare(0, 4, "tmp-") != 0 && rest.compare(0, 4, "old-") != 0)) continue;
    const std::string digits = rest.substr(4);
    if (digits.empty() || digits.size() > 9 || !std::all_of(digits.begin(), digits.end(), ::isdigit)) continue;
    if (process_alive(std::stol(digits))) continue;
    std::error_code rec;
    const fs::file_status st = fs::symlink_status(it->path(), rec);
    // A file temporary is ours by its name; a directory only when it carries our marker.
    if (fs::is_regular_file(st)) fs::remove(it->path(), rec);
    else if (fs::is_directory(st) && (is_our_output_dir(it->path().string()) || fs::is_empty(it->path(), rec)))
      fs::remove_all(it->path(), rec);
  }
}

}  // namespace llmq
