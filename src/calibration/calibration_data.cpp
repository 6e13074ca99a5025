#include "calibration/calibration_data.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace llmq {

namespace fs = std::filesystem;

static std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw file_error(path, "cannot open calibration data");
  std::stringstream ss;
  ss << f.rdbuf();
  if (f.bad()) throw file_error(path, "cannot read calibration data");
  return ss.str();
}

static bool ends_with(const std::string& s, const char* suffix) {
  const std::string_view x(suffix);
  return s.size() >= x.size() && std::equal(x.rbegin(), x.rend(), s.rbegin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == b;
         });
}

static std::string join_documents(const std::vector<std::string>& docs) {
  std::string out;
  for (const std::string& d : docs) {
    if (d.empty()) continue;
    if (!out.empty()) out += "\n\n";
    out += d;
  }
  return out;
}

static std::vector<std::string> parse_json_array(const std::string& path, const std::string& content) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(content);
  } catch (const nlohmann::json::exception& e) {
    throw file_error(path, fmt::format("not valid JSON: {}", e.what()));
  }
  if (!j.is_array()) throw file_error(path, "JSON calibration data must be an array of strings");
  std::vector<std::string> docs;
  for (size_t i = 0; i < j.size(); ++i) {
    const nlohmann::json& e = j[i];
    if (e.is_string()) docs.push_back(e.get<std::string>());
    else if (e.is_object() && e.contains("text") && e["text"].is_string()) docs.push_back(e["text"].get<std::string>());
    else throw file_error(path, fmt::format("element {} is neither a string nor an object with a \"text\" string", i));
  }
  return docs;
}

static std::vector<std::string> parse_jsonl(const std::string& path, const std::string& content) {
  std::vector<std::string> docs;
  std::istringstream in(content);
  std::string line;
  for (int64_t lineno = 1; std::getline(in, line); ++lineno) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception&) {
      throw file_error(path, fmt::format("line {}: not a JSON object", lineno));
    }
    if (!j.is_object() || !j.contains("text") || !j["text"].is_string())
      throw file_error(path, fmt::format("line {}: JSON Lines calibration data needs a \"text\" string field", lineno));
    docs.push_back(j["text"].get<std::string>());
  }
  return docs;
}

// Whether the first non-blank line parses as a JSON object with a "text" string.
static bool looks_like_jsonl(const std::string& content) {
  std::istringstream in(content);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    return !j.is_discarded() && j.is_object() && j.contains("text") && j["text"].is_string();
  }
  return false;
}

CalibrationText read_calibration_text(const std::string& path) {
  const std::string content = slurp(path);
  CalibrationText r;
  r.path = path;
  const size_t first = content.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) throw file_error(path, "calibration data is empty");

  std::vector<std::string> docs;
  if (ends_with(path, ".jsonl") || (content[first] == '{' && looks_like_jsonl(content))) {
    r.format = "jsonl";
    docs = parse_jsonl(path, content);
  } else if (ends_with(path, ".json") ||
             (content[first] == '[' && !nlohmann::json::parse(content, nullptr, false).is_discarded())) {
    r.format = "json";
    docs = parse_json_array(path, content);
  } else {
    r.format = "text";
    docs = {content};
  }
  r.documents = int64_t(docs.size());
  r.text = join_documents(docs);
  if (r.text.empty()) throw file_error(path, "calibration data holds no text");
  return r;
}

std::optional<std::string> default_calibration_path(const std::string& model_path) {
  std::error_code ec;
  fs::path model(model_path);
  const fs::path model_dir = fs::is_directory(model, ec) ? model : model.parent_path();
  const fs::path beside_model = model_dir / "calibration.txt";
  if (fs::is_regular_file(beside_model, ec)) return beside_model.string();
  // The source checkout is three levels above this file (src/calibration/x.cpp);
  // the project's shared data lies beside the checkout.
  const fs::path repo = fs::path(__FILE__).parent_path().parent_path().parent_path();
  const fs::path shared = repo.parent_path() / "shared" / "data" / "calibration.txt";
  if (fs::is_regular_file(shared, ec)) return fs::weakly_canonical(shared, ec).string();
  return std::nullopt;
}

std::string calibration_path_or_default(const std::string& path, const std::string& model_path,
                                        const std::string& what) {
  if (!path.empty()) return path;
  const auto def = default_calibration_path(model_path);
  if (!def) fail("{} needs calibration text: pass --calibration FILE", what);
  return *def;
}

CalibrationWindows read_calibration_windows(const std::string& path, const Tokenizer& tokenizer,
                                            const WindowOptions& opt, std::vector<std::string>& warnings) {
  const CalibrationText text = read_calibration_text(path);
  CalibrationWindows cw = select_windows(tokenizer.encode(text.text, false), opt);
  if (cw.windows.empty()) throw file_error(path, "calibration text yields no tokens");
  if (cw.fewer_than_requested())
    warnings.push_back(fmt::format("{}: only {} windows of {} tokens available (asked for {})", path,
                                   cw.windows.size(), opt.ctx, opt.samples));
  return cw;
}

int64_t CalibrationWindows::tokens() const {
  int64_t n = 0;
  for (const auto& w : windows) n += int64_t(w.size());
  return n;
}

uint64_t CalibrationWindows::fingerprint() const {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&](uint64_t v) {
    for (int i = 0; i < 8; ++i) {
      h ^= (v >> (8 * i)) & 0xff;
      h *= 1099511628211ull;
    }
  };
  mix(windows.size());
  for (const auto& w : windows) {
    mix(w.size());
    for (int32_t t : w) mix(uint64_t(uint32_t(t)));
  }
  return h;
}

// splitmix64: a tiny generator whose output is fixed by its definition, unlike
// std::uniform_int_distribution, so a seed selects the same windows everywhere.
static uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

CalibrationWindows select_windows(const std::vector<int32_t>& tokens, const WindowOptions& opt,
                                  std::optional<int32_t> bos) {
  if (opt.ctx < 1) fail("calibration context must be at least 1 token (got {})", opt.ctx);
  if (opt.samples < 1) fail("calibration needs at least 1 sample (got {})", opt.samples);
  CalibrationWindows r;
  r.requested = opt.samples;
  r.tokens_in_text = int64_t(tokens.size());
  if (tokens.empty()) return r;

  const int64_t n = int64_t(tokens.size());
  r.windows_available = n / opt.ctx;
  if (r.windows_available == 0) {  // too little text for one window: use all of it
    r.starts = {0};
    r.windows.push_back(tokens);
  } else {
    std::vector<int64_t> order(size_t(r.windows_available));
    std::iota(order.begin(), order.end(), 0);
    const int64_t take = std::min(opt.samples, r.windows_available);
    // Partial Fisher-Yates: the first `take` entries become a uniform sample.
    uint64_t state = opt.seed;
    for (int64_t i = 0; i < take && !opt.sequential; ++i) {
      const int64_t j = i + int64_t(splitmix64(state) % uint64_t(r.windows_available - i));
      std::swap(order[size_t(i)], order[size_t(j)]);
    }
    order.resize(size_t(take));
    std::sort(order.begin(), order.end());
    for (int64_t w : order) {
      r.starts.push_back(w * opt.ctx);
      r.windows.emplace_back(tokens.begin() + w * opt.ctx, tokens.begin() + (w + 1) * opt.ctx);
    }
  }
  if (bos)
    for (auto& w : r.windows) w[0] = *bos;
  return r;
}

}  // namespace llmq
