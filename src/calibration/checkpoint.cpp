#include "calibration/checkpoint.h"

#include <algorithm>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "io/gguf/gguf_reader.h"
#include "io/gguf/gguf_writer.h"
#include "util/checksum.h"
#include "util/error.h"

namespace llmq {

namespace {
constexpr const char* kKeyFingerprint = "llmq.checkpoint.fingerprint";
constexpr const char* kKeyWindowsDone = "llmq.checkpoint.windows_done";
constexpr const char* kKeyCollectors = "llmq.checkpoint.collectors";
constexpr const char* kKeyChecksum = "llmq.checkpoint.checksum";
}  // namespace

void save_checkpoint(const std::string& path, const std::string& fingerprint, int64_t windows_done,
                     const std::vector<Collector*>& collectors) {
  std::vector<std::pair<std::string, CollectorState>> states;
  std::vector<std::string> names;
  for (const Collector* c : collectors) {
    states.emplace_back(c->name(), c->save_state());
    names.push_back(c->name());
  }
  // Over every array in file order, so that a flipped byte is caught when resuming.
  Checksum sum;
  for (const auto& [cname, st] : states)
    for (const auto& [aname, values] : st)
      if (!values.empty()) sum.add(values.data(), values.size() * sizeof(double));
  GgufWriter w(path, OutputScope::OwnState);  // updated in place in its own folder
  w.set("general.type", "llmq.calibration_checkpoint");
  w.set(kKeyChecksum, sum.hex());
  w.set(kKeyFingerprint, fingerprint);
  w.set(kKeyWindowsDone, uint64_t(windows_done));
  w.set(kKeyCollectors, names);
  for (const auto& [cname, st] : states)
    for (const auto& [aname, values] : st)
      if (!values.empty()) w.add_tensor(cname + "/" + aname, {int64_t(values.size())}, ggml::GgmlType::F64);
  for (const auto& [cname, st] : states)
    for (const auto& [aname, values] : st)
      if (!values.empty()) w.write_tensor_data(cname + "/" + aname, values.data(), values.size() * sizeof(double));
  w.finish();
}

std::optional<int64_t> load_checkpoint(const std::string& path, const std::string& fingerprint,
                                       const std::vector<Collector*>& collectors) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return std::nullopt;
  GgufReader r(path);
  if (r.get<std::string>(kKeyFingerprint) != fingerprint)
    throw file_error(path, "checkpoint belongs to a different run (model, calibration data or options differ); "
                           "remove it or start over with --restart");
  const std::optional<std::string> expect = r.get_optional<std::string>(kKeyChecksum);
  if (!expect) throw file_error(path, "checkpoint has no checksum (written by an older version); start over with --restart");
  Checksum sum;
  for (const GgufTensorInfo& t : r.tensors()) {
    if (t.type != ggml::GgmlType::F64) throw file_error(path, fmt::format("tensor '{}' is not F64", t.name));
    sum.add(t.data, size_t(t.n_elements()) * sizeof(double));
  }
  if (sum.hex() != *expect) throw file_error(path, "checkpoint is damaged (checksum mismatch); start over with --restart");
  const int64_t done = r.get_int(kKeyWindowsDone);
  const auto& saved = r.get<std::vector<std::string>>(kKeyCollectors);
  for (Collector* c : collectors) {
    if (std::find(saved.begin(), saved.end(), c->name()) == saved.end())
      throw file_error(path, fmt::format("checkpoint has no state for '{}'", c->name()));
    CollectorState st;
    const std::string prefix = c->name() + "/";
    for (const GgufTensorInfo& t : r.tensors()) {
      if (t.name.compare(0, prefix.size(), prefix) != 0) continue;
      if (t.type != ggml::GgmlType::F64) throw file_error(path, fmt::format("tensor '{}' is not F64", t.name));
      std::vector<double> v(size_t(t.n_elements()));
      std::memcpy(v.data(), t.data, v.size() * sizeof(double));
      st[t.name.substr(prefix.size())] = std::move(v);
    }
    try {
      c->load_state(st);
    } catch (const Error& e) {
      throw file_error(path, e.what());
    }
  }
  return done;
}

}  // namespace llmq
