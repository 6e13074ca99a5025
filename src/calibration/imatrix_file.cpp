#include "calibration/imatrix_file.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>

#include <fmt/format.h>

#include "io/gguf/gguf_reader.h"
#include "io/gguf/gguf_writer.h"
#include "util/atomic_output.h"
#include "util/error.h"

namespace llmq {

namespace {

constexpr const char* kKeyType = "general.type";
constexpr const char* kKeyDatasets = "imatrix.datasets";
constexpr const char* kKeyChunkCount = "imatrix.chunk_count";
constexpr const char* kKeyChunkSize = "imatrix.chunk_size";
constexpr const char* kKeyFingerprint = "llmq.model_fingerprint";
constexpr const char* kSumsSuffix = ".in_sum2";
constexpr const char* kCountsSuffix = ".counts";

bool has_gguf_magic(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw file_error(path, "cannot open importance matrix");
  char magic[4] = {};
  f.read(magic, 4);
  return f.gcount() == 4 && std::memcmp(magic, "GGUF", 4) == 0;
}

bool strip_suffix(std::string& s, const char* suffix) {
  const size_t n = std::strlen(suffix);
  if (s.size() <= n || s.compare(s.size() - n, n, suffix) != 0) return false;
  s.resize(s.size() - n);
  return true;
}

ImatrixData read_gguf(const std::string& path) {
  GgufReader r(path);
  ImatrixData d;
  if (const GgufValue* v = r.find(kKeyDatasets)) {
    if (const auto* a = v->get_if<std::vector<std::string>>()) d.datasets = *a;
  }
  if (auto c = r.get_int_optional(kKeyChunkCount)) d.chunk_count = int32_t(*c);
  if (auto c = r.get_int_optional(kKeyChunkSize)) d.chunk_size = int32_t(*c);
  if (const GgufValue* v = r.find(kKeyFingerprint)) {
    if (const auto* f = v->get_if<std::string>()) d.model_fingerprint = *f;
  }

  std::map<std::string, std::pair<const GgufTensorInfo*, const GgufTensorInfo*>> pairs;
  for (const GgufTensorInfo& t : r.tensors()) {
    std::string name = t.name;
    if (strip_suffix(name, kSumsSuffix)) pairs[name].first = &t;
    else if (strip_suffix(name, kCountsSuffix)) pairs[name].second = &t;
  }
  if (pairs.empty()) throw file_error(path, "no importance matrix entries (no <name>.in_sum2 tensors)");
  for (const auto& [name, p] : pairs) {
    if (!p.first || !p.second) throw file_error(path, fmt::format("entry '{}' lacks its {} tensor", name, p.first ? "counts" : "in_sum2"));
    for (const GgufTensorInfo* t : {p.first, p.second})
      if (t->type != ggml::GgmlType::F32)
        throw file_error(path, fmt::format("tensor '{}' is {}, expected F32", t->name, ggml::type_name(t->type)));
    const int64_t nval = p.first->n_elements(), nmat = p.second->n_elements();
    if (nmat < 1 || nval % nmat != 0)
      throw file_error(path, fmt::format("entry '{}': {} values do not split into {} matrices", name, nval, nmat));
    ImatrixEntry& e = d.entries[name];
    e.sums.resize(size_t(nval));
    std::memcpy(e.sums.data(), p.first->data, size_t(nval) * sizeof(float));
    std::vector<float> c(static_cast<size_t>(nmat));
    std::memcpy(c.data(), p.second->data, size_t(nmat) * sizeof(float));
    for (float x : c) {
      if (!std::isfinite(x) || x < 0) throw file_error(path, fmt::format("entry '{}': bad token count {}", name, x));
      e.counts.push_back(std::lround(x));
    }
  }
  return d;
}

// Sequential reads of the legacy format, each checked against the file's end.
class LegacyReader {
 public:
  explicit LegacyReader(const std::string& path) : path_(path), f_(path, std::ios::binary) {
    if (!f_) throw file_error(path, "cannot open importance matrix");
    std::error_code ec;
    size_ = std::filesystem::file_size(path, ec);
  }
  // Bytes between the read position and the end of the file: a count read from the file is checked
  // against it before anything is allocated from it.
  uint64_t remaining() {
    const auto pos = f_.tellg();
    return pos < 0 || uint64_t(pos) > size_ ? 0 : size_ - uint64_t(pos);
  }
  bool at_end() { return f_.peek() == std::ifstream::traits_type::eof(); }
  int32_t i32(const char* what) {
    int32_t v = 0;
    bytes(&v, sizeof v, what);
    return v;
  }
  void bytes(void* p, size_t n, const char* what) {
    f_.read(static_cast<char*>(p), std::streamsize(n));
    if (size_t(f_.gcount()) != n) throw file_error(path_, fmt::format("truncated legacy imatrix (reading {})", what));
  }

 private:
  std::string path_;
  std::ifstream f_;
  uint64_t size_ = 0;
};

ImatrixData read_dat(const std::string& path) {
  LegacyReader in(path);
  ImatrixData d;
  d.legacy = true;
  const int32_t n_entries = in.i32("entry count");
  if (n_entries < 1) throw file_error(path, "not an importance matrix (no entries)");
  for (int32_t i = 0; i < n_entries; ++i) {
    const int32_t len = in.i32("name length");
    if (len < 1 || len > 4096) throw file_error(path, fmt::format("entry {}: bad name length {}", i, len));
    std::string name(size_t(len), '\0');
    in.bytes(name.data(), size_t(len), "name");
    const int32_t ncall = in.i32("call count");
    const int32_t nval = in.i32("value count");
    if (nval < 1 || nval > (1 << 28)) throw file_error(path, fmt::format("entry '{}': bad value count {}", name, nval));
    if (uint64_t(nval) * sizeof(float) > in.remaining())
      throw file_error(path, fmt::format("entry '{}': {} values do not fit in the rest of the file (truncated or corrupt)", name, nval));
    ImatrixEntry& e = d.entries[name];
    e.sums.resize(size_t(nval));
    in.bytes(e.sums.data(), size_t(nval) * sizeof(float), "values");
    e.counts = {ncall};
  }
  if (!in.at_end()) {  // optional trailer: chunk count and dataset name
    d.chunk_count = in.i32("chunk count");
    if (!in.at_end()) {
      const int32_t len = in.i32("dataset name length");
      if (len > 0 && len < (1 << 20)) {
        std::string ds(size_t(len), '\0');
        in.bytes(ds.data(), size_t(len), "dataset name");
        d.datasets.push_back(ds);
      }
    }
  }
  return d;
}

// Sums and per-matrix counts as the GGUF format holds them.
ImatrixEntry to_raw(const ImatrixEntry& e, bool legacy, int32_t chunk_size) {
  if (!legacy) return e;
  // llama.cpp's conversion: legacy values are mean * ncall; scaling both by
  // the chunk size restores sums and token counts when it is known.
  const int64_t scale = std::max<int32_t>(chunk_size, 1);
  ImatrixEntry r;
  r.sums.resize(e.sums.size());
  for (size_t j = 0; j < e.sums.size(); ++j) r.sums[j] = e.sums[j] * float(scale);
  r.counts = {(e.counts.empty() ? 0 : e.counts[0]) * scale};
  return r;
}

}  // namespace

ImatrixData read_imatrix(const std::string& path) {
  return has_gguf_magic(path) ? read_gguf(path) : read_dat(path);
}

void write_imatrix_gguf(const ImatrixData& data, const std::string& path) {
  GgufWriter w(path);
  w.set(kKeyType, "imatrix");
  w.set(kKeyDatasets, data.datasets);
  w.set(kKeyChunkCount, uint32_t(std::max(data.chunk_count, 0)));
  w.set(kKeyChunkSize, uint32_t(std::max(data.chunk_size, 0)));
  if (!data.model_fingerprint.empty()) w.set(kKeyFingerprint, data.model_fingerprint);
  std::vector<std::pair<std::string, ImatrixEntry>> raw;
  for (const auto& [name, e] : data.entries) {
    ImatrixEntry r = to_raw(e, data.legacy, data.chunk_size);
    const int64_t nmat = int64_t(r.counts.size()), nval = int64_t(r.sums.size());
    if (nmat < 1 || nval < 1 || nval % nmat != 0) fail("importance matrix entry '{}' has {} values for {} matrices", name, nval, nmat);
    // ggml writes shapes without trailing 1s; so do we, to match its files byte for byte.
    w.add_tensor(name + kSumsSuffix, nmat == 1 ? std::vector<int64_t>{nval} : std::vector<int64_t>{nval / nmat, nmat},
                 ggml::GgmlType::F32);
    w.add_tensor(name + kCountsSuffix, nmat == 1 ? std::vector<int64_t>{1} : std::vector<int64_t>{1, nmat},
                 ggml::GgmlType::F32);
    raw.emplace_back(name, std::move(r));
  }
  for (const auto& [name, r] : raw) {
    w.write_tensor_data(name + kSumsSuffix, r.sums.data(), r.sums.size() * sizeof(float));
    std::vector<float> c(r.counts.begin(), r.counts.end());
    w.write_tensor_data(name + kCountsSuffix, c.data(), c.size() * sizeof(float));
  }
  w.finish();
}

void write_imatrix_dat(const ImatrixData& data, const std::string& path) {
  struct Out {
    std::string name;
    int32_t ncall;
    std::vector<float> values;
  };
  std::vector<Out> outs;
  for (const auto& [name, e] : data.entries) {
    if (data.legacy) {
      outs.push_back({name, int32_t(e.counts.empty() ? 0 : e.counts[0]), e.sums});
      continue;
    }
    const int64_t nmat = int64_t(e.counts.size()), nval = int64_t(e.sums.size());
    if (nmat < 1 || nval % nmat != 0) fail("importance matrix entry '{}' has {} values for {} matrices", name, nval, nmat);
    const int64_t max_count = *std::max_element(e.counts.begin(), e.counts.end());
    if (max_count == 0) continue;  // llama.cpp skips entries without data in this format
    const int64_t chunk = std::max<int32_t>(data.chunk_size, 1);
    const int32_t ncall = int32_t((max_count + chunk - 1) / chunk);  // ceiling: never zero
    Out o{name, ncall, std::vector<float>(size_t(nval))};
    const int64_t cols = nval / nmat;
    for (int64_t i = 0; i < nval; ++i) {
      const int64_t count = e.counts[size_t(i / cols)];
      // A matrix without tokens stores 1s, as llama.cpp does.
      const float mean = count == 0 ? 1.0f : e.sums[size_t(i)] / float(count);
      o.values[size_t(i)] = mean * float(ncall);
    }
    outs.push_back(std::move(o));
  }
  if (outs.empty()) fail("{}: no importance matrix entry has data", path);

  AtomicOutputFile out(path);
  auto i32 = [&](int32_t v) { out.write(&v, sizeof v); };
  i32(int32_t(outs.size()));
  for (const Out& o : outs) {
    i32(int32_t(o.name.size()));
    out.write(o.name.data(), o.name.size());
    i32(o.ncall);
    i32(int32_t(o.values.size()));
    out.write(o.values.data(), o.values.size() * sizeof(float));
  }
  i32(data.chunk_count);
  const std::string dataset = data.datasets.empty() ? std::string() : data.datasets.back();
  i32(int32_t(dataset.size()));
  out.write(dataset.data(), dataset.size());
  out.commit();
}

// ---------------------------------------------------------------------------

ImatrixFile::ImatrixFile(const std::string& path, int64_t n_experts) : data_(read_imatrix(path)) {
  try {
    index(n_experts);
  } catch (const Error& e) {
    throw file_error(path, e.what());
  }
}

ImatrixFile::ImatrixFile(ImatrixData data, int64_t n_experts) : data_(std::move(data)) { index(n_experts); }

// Stacked-expert entries of the legacy format (and of GGUF files converted
// from it) carry one count for all experts; their expert count follows from
// the width of another input of the same layer.
static int64_t infer_expert_count(const std::string& name, const ImatrixData& d) {
  static const std::regex exps(R"(^(blk\.\d+\.)ffn_(gate|up|down)_exps\.weight$)");
  std::smatch m;
  if (!std::regex_match(name, m, exps)) return 1;
  const std::string blk = m[1];
  auto width = [&](const std::string& n) -> int64_t {
    auto it = d.entries.find(blk + n);
    return it == d.entries.end() ? 0 : int64_t(it->second.sums.size());
  };
  int64_t hidden = 0;
  for (const char* n : {"attn_q.weight", "attn_k.weight", "attn_v.weight", "attn_qkv.weight", "ffn_gate_inp.weight"})
    if ((hidden = width(n)) > 0) break;
  if (hidden == 0) return 1;
  const int64_t up = std::max(width("ffn_gate_exps.weight"), width("ffn_up_exps.weight"));
  const int64_t E = up / hidden;
  const int64_t nval = width(name.substr(blk.size()));
  if (E < 1 || up % hidden != 0 || nval % E != 0) return 1;
  return E;
}

void ImatrixFile::index(int64_t n_experts) {
  for (const auto& [name, e] : data_.entries) {
    const int64_t nval = int64_t(e.sums.size());
    int64_t nmat = int64_t(e.counts.size());
    // Sums of squares are finite and never negative, and a tensor whose every sum is zero saw no
    // input: used as weights they would silently steer (or switch off) the quantizers.
    bool any_positive = false;
    for (int64_t i = 0; i < nval; ++i) {
      const float v = e.sums[size_t(i)];
      if (!std::isfinite(v) || v < 0.0f) fail("entry '{}': value {} at column {} is not a finite sum of squares", name, v, i);
      any_positive = any_positive || v > 0.0f;
    }
    if (nval > 0 && !any_positive) fail("entry '{}': every value is zero (no calibration input reached it)", name);
    for (int64_t c : e.counts)
      if (c < 0) fail("entry '{}': negative token count {}", name, c);
    std::vector<float> mean(e.sums.size());
    if (data_.legacy) {
      const int64_t ncall = e.counts.empty() ? 0 : e.counts[0];
      for (int64_t i = 0; i < nval; ++i) mean[size_t(i)] = ncall > 0 ? e.sums[size_t(i)] / float(ncall) : e.sums[size_t(i)];
    } else {
      if (nmat < 1 || nval % nmat != 0) fail("entry '{}': {} values do not split into {} matrices", name, nval, nmat);
      const int64_t cols = nval / nmat;
      for (int64_t i = 0; i < nval; ++i) {
        const int64_t count = e.counts[size_t(i / cols)];
        mean[size_t(i)] = count > 0 ? e.sums[size_t(i)] / float(count) : 1.0f;
      }
    }
    if (nmat <= 1) {
      const bool stacked = name.find("_exps.") != std::string::npos;
      nmat = stacked && n_experts > 0 && nval % n_experts == 0 ? n_experts : infer_expert_count(name, data_);
    }
    n_mat_[name] = nmat;
    const int64_t cols = nval / nmat;
    for (int64_t m = 0; m < nmat; ++m)
      per_matrix_[{name, int(m)}] = std::vector<float>(mean.begin() + m * cols, mean.begin() + (m + 1) * cols);
    whole_[name] = std::move(mean);
  }
}

const std::vector<float>* ImatrixFile::importance(const std::string& gguf_name, int expert) const {
  if (expert < 0) {
    auto it = whole_.find(gguf_name);
    return it == whole_.end() ? nullptr : &it->second;
  }
  auto it = per_matrix_.find({gguf_name, expert});
  return it == per_matrix_.end() ? nullptr : &it->second;
}

int64_t ImatrixFile::n_matrices(const std::string& gguf_name) const {
  auto it = n_mat_.find(gguf_name);
  return it == n_mat_.end() ? 0 : it->second;
}

int64_t ImatrixFile::tokens(const std::string& gguf_name, int expert) const {
  auto it = data_.entries.find(gguf_name);
  if (it == data_.entries.end() || it->second.counts.empty()) return 0;
  const auto& c = it->second.counts;
  if (data_.legacy) return c[0] * std::max<int32_t>(data_.chunk_size, 1);
  return c.size() == 1 ? c[0] : (expert >= 0 && size_t(expert) < c.size() ? c[size_t(expert)] : 0);
}

std::vector<std::string> ImatrixFile::names() const {
  std::vector<std::string> n;
  for (const auto& [name, e] : data_.entries) n.push_back(name);
  return n;
}

}  // namespace llmq
