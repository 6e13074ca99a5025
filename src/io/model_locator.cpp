#include "io/model_locator.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <vector>

#include "util/error.h"

namespace fs = std::filesystem;

namespace llmq {

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

bool id_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '-';
}

std::string trimmed(std::string s) {
  const char* ws = " \t\r\n";
  s.erase(0, s.find_first_not_of(ws));
  const size_t end = s.find_last_not_of(ws);
  s.erase(end == std::string::npos ? 0 : end + 1);
  return s;
}

// "a/b/" -> "a/b"
fs::path without_trailing_slash(const std::string& path) {
  fs::path p = fs::path(path).lexically_normal();
  if (!p.has_filename()) p = p.parent_path();
  return p;
}

}  // namespace

std::string hf_hub_cache_dir() {
  if (std::string v = env("HF_HUB_CACHE"); !v.empty()) return v;
  if (std::string v = env("HF_HOME"); !v.empty()) return (fs::path(v) / "hub").string();
  const std::string home = env("HOME");
  return (fs::path(home.empty() ? fs::path(".") : fs::path(home)) / ".cache" / "huggingface" / "hub").string();
}

bool looks_like_model_id(const std::string& arg) {
  const size_t slash = arg.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == arg.size()) return false;
  if (arg.find('/', slash + 1) != std::string::npos || arg[0] == '.') return false;
  for (char c : arg)
    if (c != '/' && !id_char(c)) return false;
  const std::string name = arg.substr(slash + 1);
  return name != "." && name != "..";
}

std::string hf_cache_repo_dir(const std::string& id) {
  const size_t slash = id.find('/');
  return (fs::path(hf_hub_cache_dir()) / ("models--" + id.substr(0, slash) + "--" + id.substr(slash + 1))).string();
}

std::optional<std::string> find_cached_model(const std::string& id) {
  const fs::path repo = hf_cache_repo_dir(id);
  std::error_code ec;
  if (!fs::is_directory(repo, ec)) return std::nullopt;
  const fs::path snapshots = repo / "snapshots";
  const fs::path ref = repo / "refs" / "main";
  if (fs::is_regular_file(ref, ec)) {
    std::ifstream f(ref);
    std::string commit;
    std::getline(f, commit);
    commit = trimmed(commit);
    if (commit.empty() || commit.find('/') != std::string::npos || commit == "." || commit == "..")
      throw file_error(ref.string(), "does not hold a commit hash");
    const fs::path snap = snapshots / commit;
    if (!fs::is_directory(snap, ec))
      throw file_error(ref.string(), "names commit " + commit + ", but " + snap.string() +
                                         " is missing (an interrupted download? fetch the model again)");
    return snap.string();
  }
  std::vector<fs::path> found;
  for (fs::directory_iterator it(snapshots, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_directory(ec)) found.push_back(it->path());
  if (found.size() == 1) return found.front().string();
  if (found.empty())
    throw file_error(repo.string(), "holds no snapshot of " + id + " (an interrupted download? fetch the model again)");
  throw file_error(repo.string(), "holds " + std::to_string(found.size()) + " snapshots of " + id +
                                      " and no refs/main to choose one; give the snapshot directory as MODEL");
}

std::string resolve_model_path(const std::string& arg) {
  std::error_code ec;
  if (arg.empty() || fs::exists(fs::symlink_status(arg, ec)) || !looks_like_model_id(arg)) return arg;
  if (auto snap = find_cached_model(arg)) return *snap;
  throw Error("MODEL '" + arg + "' is neither a path nor a model in the Hugging Face cache (looked in " +
              hf_cache_repo_dir(arg) + "); no network access is used");
}

std::optional<std::string> hf_cache_model_id(const std::string& path) {
  const fs::path p = without_trailing_slash(path);
  const fs::path snapshots = p.parent_path();
  const std::string repo = snapshots.parent_path().filename().string();
  const std::string prefix = "models--";
  if (p.filename().empty() || snapshots.filename() != "snapshots" || repo.compare(0, prefix.size(), prefix) != 0)
    return std::nullopt;
  const std::string owner_name = repo.substr(prefix.size());  // "Qwen--Qwen3-4B"; "--" cannot occur in hub names
  const size_t sep = owner_name.find("--");
  if (sep == std::string::npos || sep == 0 || sep + 2 == owner_name.size()) return std::nullopt;
  return owner_name.substr(0, sep) + "/" + owner_name.substr(sep + 2);
}

std::string model_short_name(const std::string& path) {
  if (auto id = hf_cache_model_id(path)) return id->substr(id->find('/') + 1);
  const std::string name = without_trailing_slash(path).filename().string();
  return name.empty() ? path : name;
}

std::string model_output_base(const std::string& path) {
  if (hf_cache_model_id(path)) return model_short_name(path);
  return path;
}

}  // namespace llmq
