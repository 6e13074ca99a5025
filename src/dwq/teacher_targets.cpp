#include "dwq/teacher_targets.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <numeric>
#include <optional>

#include <fmt/format.h>

#include "io/safetensors.h"
#include "io/safetensors_writer.h"
#include "model/transformer.h"
#include "util/error.h"

namespace fs = std::filesystem;

namespace llmq::dwq {

namespace {

constexpr const char* kKeyMeta = "llmq.dwq_targets_key";

uint64_t fnv(uint64_t h, const void* p, size_t n) {
  const auto* b = static_cast<const uint8_t*>(p);
  for (size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ull;
  return h;
}

std::string key_of(const std::string& fingerprint, const std::vector<std::vector<int32_t>>& sequences, int64_t k,
                   float temperature) {
  uint64_t h = 1469598103934665603ull;
  h = fnv(h, fingerprint.data(), fingerprint.size());
  h = fnv(h, &k, sizeof(k));
  h = fnv(h, &temperature, sizeof(temperature));
  for (const auto& s : sequences) {
    const int64_t n = int64_t(s.size());
    h = fnv(h, &n, sizeof(n));
    h = fnv(h, s.data(), s.size() * sizeof(int32_t));
  }
  return fmt::format("{:016x}", h);
}

// The cached targets when the file is there and is what it should be; a
// damaged or foreign file is ignored (recomputed and replaced), never trusted.
std::optional<TeacherTargets> read_cache(const std::string& path, const std::string& key, int64_t n, int64_t T, int64_t k,
                                         int64_t vocab) {
  if (!fs::exists(path)) return std::nullopt;
  try {
    SafetensorsFile f(path);
    auto it = f.metadata().find(kKeyMeta);
    const TensorView* lg = f.find("logits");
    const TensorView* id = f.find("ids");
    const TensorView* ls = f.find("lse");
    const std::vector<int64_t> shape = {n, T, k}, lse_shape = {n, T};
    if (it == f.metadata().end() || it->second != key || !lg || !id || !ls || lg->shape != shape || id->shape != shape ||
        ls->shape != lse_shape || lg->dtype != DType::F32 || id->dtype != DType::I32 || ls->dtype != DType::F32)
      return std::nullopt;
    TeacherTargets t{n, T, k, std::vector<float>(size_t(n * T * k)), std::vector<int32_t>(size_t(n * T * k)),
                     std::vector<float>(size_t(n * T))};
    std::memcpy(t.logits.data(), lg->data, t.logits.size() * 4);
    std::memcpy(t.ids.data(), id->data, t.ids.size() * 4);
    std::memcpy(t.lse.data(), ls->data, t.lse.size() * 4);
    for (int32_t v : t.ids)
      if (v < 0 || v >= vocab) return std::nullopt;
    for (const std::vector<float>* v : {&t.logits, &t.lse})  // a NaN here would read as a diverged learning rate
      for (float x : *v)
        if (!std::isfinite(x)) return std::nullopt;
    return t;
  } catch (const Error&) {
    return std::nullopt;
  }
}

}  // namespace

TeacherTargets TeacherTargets::slice(int64_t first, int64_t n) const {
  const int64_t per = T * k;
  return {n, T, k, std::vector<float>(logits.begin() + first * per, logits.begin() + (first + n) * per),
          std::vector<int32_t>(ids.begin() + first * per, ids.begin() + (first + n) * per),
          std::vector<float>(lse.begin() + first * T, lse.begin() + (first + n) * T)};
}

std::string targets_cache_path(const std::string& cache_dir, const std::string& model_fingerprint,
                               const std::vector<std::vector<int32_t>>& sequences, int64_t k, float temperature) {
  return (fs::path(cache_dir) / ("dwq-targets-" + key_of(model_fingerprint, sequences, k, temperature) + ".safetensors"))
      .string();
}

TeacherTargets teacher_targets(const ModelWeights& teacher, const std::vector<std::vector<int32_t>>& sequences, int64_t k,
                               float temperature, const std::string& cache_path,
                               const std::function<void(int64_t, int64_t)>& progress,
                               bool* reused) {
  const int64_t n = int64_t(sequences.size()), T = n ? int64_t(sequences[0].size()) : 0, V = teacher.cfg.vocab;
  if (k < 1 || k > V) fail("--top-k {} must be between 1 and the vocabulary size {}", k, V);
  for (const auto& s : sequences)
    if (int64_t(s.size()) != T) fail("DWQ sequences must all have the same length");
  // The file's name carries the key (targets_cache_path); its metadata must carry the same.
  std::string key = fs::path(cache_path).stem().string();
  if (key.starts_with("dwq-targets-")) key = key.substr(std::string("dwq-targets-").size());
  if (auto cached = read_cache(cache_path, key, n, T, k, V)) {
    if (reused) *reused = true;
    return std::move(*cached);
  }
  if (reused) *reused = false;
  TeacherTargets t{n, T, k, std::vector<float>(size_t(n * T * k)), std::vector<int32_t>(size_t(n * T * k)),
                   std::vector<float>(size_t(n * T))};
  const Transformer model(std::shared_ptr<const ModelWeights>(&teacher, [](const ModelWeights*) {}));
  std::vector<float> logits;
  for (int64_t i = 0; i < n; ++i) {
    KvCache cache = model.make_cache(T);
    model.forward(sequences[size_t(i)].data(), T, cache, logits);
#pragma omp parallel for schedule(static)
    for (int64_t p = 0; p < T; ++p) {
      const float* z = logits.data() + p * V;
      std::vector<int32_t> idx(static_cast<size_t>(V));
      std::iota(idx.begin(), idx.end(), 0);
      std::partial_sort(idx.begin(), idx.begin() + k, idx.end(),
                        [z](int32_t a, int32_t b) { return z[a] > z[b] || (z[a] == z[b] && a < b); });
      for (int64_t j = 0; j < k; ++j) {
        t.ids[size_t((i * T + p) * k + j)] = idx[size_t(j)];
        t.logits[size_t((i * T + p) * k + j)] = z[idx[size_t(j)]];
      }
      const double zmax = double(z[idx[0]]), inv_t = 1.0 / double(temperature);
      double s = 0;
      for (int64_t j = 0; j < V; ++j) s += std::exp((double(z[j]) - zmax) * inv_t);
      t.lse[size_t(i * T + p)] = float(zmax * inv_t + std::log(s));
    }
    if (progress) progress(i + 1, n);
  }
  fs::create_directories(fs::path(cache_path).parent_path());
  SafetensorsWriter w(cache_path);
  w.set_metadata(kKeyMeta, key);
  w.add("logits", DType::F32, {n, T, k}, t.logits.data(), t.logits.size() * 4);
  w.add("ids", DType::I32, {n, T, k}, t.ids.data(), t.ids.size() * 4);
  w.add("lse", DType::F32, {n, T}, t.lse.data(), t.lse.size() * 4);
  w.finish();
  return t;
}

}  // namespace llmq::dwq
