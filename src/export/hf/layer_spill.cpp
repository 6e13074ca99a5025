#include "export/hf/layer_spill.h"

#include <algorithm>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "export/hf/checkpoint_side_files.h"
#include "io/safetensors.h"
#include "io/safetensors_writer.h"
#include "util/checksum.h"
#include "util/error.h"
#include "util/json_file.h"

namespace fs = std::filesystem;

namespace llmq {

namespace {

constexpr const char* kRecordKey = "llmq.layer_record";
constexpr const char* kNextLayerKey = "llmq.next_layer";
constexpr const char* kChecksumKey = "llmq.checksum";

// The tensors of a file in the order of their data.
std::vector<const TensorView*> in_file_order(const SafetensorsFile& f) {
  std::vector<const TensorView*> views;
  for (const auto& [name, tv] : f.tensors()) views.push_back(&tv);
  std::sort(views.begin(), views.end(), [](const TensorView* a, const TensorView* b) { return a->data < b->data; });
  return views;
}

// A file of ours is used only when its data still has the checksum it was written with.
void verify_checksum(const SafetensorsFile& f) {
  auto it = f.metadata().find(kChecksumKey);
  if (it == f.metadata().end()) throw file_error(f.path(), "has no checksum; rerun with --restart");
  Checksum c;
  for (const TensorView* tv : in_file_order(f)) c.add(tv->data, tv->nbytes);
  if (c.hex() != it->second)
    throw file_error(f.path(), "checksum mismatch: the resume checkpoint is damaged; rerun with --restart");
}

}  // namespace

std::string fingerprint_hash(const std::string& s) {
  // FNV-1a, 64 bits, twice with different offsets: a 128-bit identity, not security.
  uint64_t a = 1469598103934665603ull, b = 0x9e3779b97f4a7c15ull;
  for (unsigned char c : s) {
    a = (a ^ c) * 1099511628211ull;
    b = (b ^ c) * 0x100000001b3ull + 0x7f;
  }
  return fmt::format("{:016x}{:016x}", a, b);
}

LayerSpill::LayerSpill(std::string dir, const std::string& fingerprint, bool restart) : dir_(std::move(dir)) {
  const fs::path job = fs::path(dir_) / "job.json";
  std::error_code ec;
  if (fs::exists(dir_, ec) && !fs::is_directory(dir_, ec)) throw file_error(dir_, "exists and is not a folder (the resume checkpoint goes here)");
  bool same = false;
  if (!restart && fs::exists(job, ec)) {
    try {
      same = read_json_file(job.string()).value("fingerprint", std::string()) == fingerprint;
    } catch (const Error&) {
      same = false;  // an unreadable job file: start over
    }
  }
  if (!same && fs::exists(dir_, ec)) {
    // Only our own files: a folder we did not make is not emptied.
    for (const fs::directory_entry& e : fs::directory_iterator(dir_, ec)) {
      const std::string name = e.path().filename().string();
      const bool ours = name == "job.json" || name.rfind("layer-", 0) == 0 || name.rfind("states.", 0) == 0 ||
                        name.rfind(".", 0) == 0;
      if (!ours) throw file_error(dir_, "holds " + name + ", which is not a resume checkpoint file; choose another output");
    }
    fs::remove_all(dir_, ec);
    if (ec) throw file_error(dir_, "cannot clear the old resume checkpoint: " + ec.message());
  }
  fs::create_directories(dir_, ec);
  if (ec) throw file_error(dir_, "cannot create the resume checkpoint folder: " + ec.message());
  if (!same) write_json_file(job.string(), {{"fingerprint", fingerprint}});
}

LayerSpill::~LayerSpill() = default;

std::string LayerSpill::layer_path(int l) const { return (fs::path(dir_) / fmt::format("layer-{:05d}.safetensors", l)).string(); }

int LayerSpill::finished_layers() const {
  int n = 0;
  std::error_code ec;
  while (fs::exists(layer_path(n), ec)) ++n;
  return n;
}

std::optional<std::pair<int, WindowStates>> load_window_states(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::nullopt;
  const SafetensorsFile f(path);
  verify_checksum(f);
  auto it = f.metadata().find(kNextLayerKey);
  if (it == f.metadata().end()) throw file_error(path, "has no " + std::string(kNextLayerKey));
  std::pair<int, WindowStates> out{std::stoi(it->second), {}};
  for (size_t i = 0;; ++i) {
    const TensorView* tv = f.find(fmt::format("window.{}", i));
    if (!tv) break;
    if (tv->dtype != DType::F32) throw file_error(path, "window states are not F32");
    const std::vector<float> v = tv->to_f32();
    out.second.emplace_back(v.begin(), v.end());
  }
  return out;
}

std::optional<std::pair<int, WindowStates>> LayerSpill::saved_states() const {
  return load_window_states((fs::path(dir_) / "states.safetensors").string());
}

void LayerSpill::put_layer(int l, const std::vector<OutTensor>& tensors, const nlohmann::json& record) {
  if (size_t(l) < open_.size()) open_[size_t(l)].reset();  // a layer written again (an earlier run stopped before its states)
  // A layer's stored tensors are a fraction of the layer in fp32: produce them all, then checksum and write.
  std::vector<std::vector<uint8_t>> bytes;
  Checksum c;
  for (const OutTensor& t : tensors) {
    bytes.push_back(t.bytes());
    c.add(bytes.back().data(), bytes.back().size());
  }
  SafetensorsWriter st(layer_path(l));
  st.set_metadata(kRecordKey, record.dump());
  st.set_metadata(kChecksumKey, c.hex());
  for (const OutTensor& t : tensors) st.declare(t.name, t.dtype, t.shape);
  for (size_t i = 0; i < tensors.size(); ++i) st.write(tensors[i].name, bytes[i].data(), bytes[i].size());
  st.finish();
}

void save_window_states(const std::string& path, int next_layer, const WindowStates& states) {
  Checksum c;
  for (const auto& w : states) c.add(w.data(), w.size() * sizeof(float));
  SafetensorsWriter st(path);
  st.set_metadata(kNextLayerKey, std::to_string(next_layer));
  st.set_metadata(kChecksumKey, c.hex());
  for (size_t i = 0; i < states.size(); ++i) st.declare(fmt::format("window.{}", i), DType::F32, {int64_t(states[i].size())});
  for (size_t i = 0; i < states.size(); ++i)
    st.write(fmt::format("window.{}", i), states[i].data(), states[i].size() * sizeof(float));
  st.finish();
}

void LayerSpill::save_states(int next_layer, const WindowStates& states) {
  save_window_states((fs::path(dir_) / "states.safetensors").string(), next_layer, states);
}

const SafetensorsFile& LayerSpill::open_layer(int l) const {
  if (size_t(l) >= open_.size()) open_.resize(size_t(l) + 1);
  if (!open_[size_t(l)]) {
    auto f = std::make_shared<SafetensorsFile>(layer_path(l));
    verify_checksum(*f);
    open_[size_t(l)] = std::move(f);
  }
  return *open_[size_t(l)];
}

std::vector<OutTensor> LayerSpill::layer_tensors(int l) const {
  std::vector<OutTensor> out;
  for (const TensorView* tv : in_file_order(open_layer(l)))
    out.push_back({tv->name, tv->dtype, tv->shape, [tv] { return std::vector<uint8_t>(tv->data, tv->data + tv->nbytes); }});
  return out;
}

nlohmann::json LayerSpill::layer_record(int l) const {
  const SafetensorsFile& f = open_layer(l);
  auto it = f.metadata().find(kRecordKey);
  if (it == f.metadata().end()) throw file_error(layer_path(l), "has no layer record");
  try {
    return nlohmann::json::parse(it->second);
  } catch (const std::exception& e) {
    throw file_error(layer_path(l), std::string("layer record is not JSON: ") + e.what());
  }
}

void LayerSpill::remove() {
  open_.clear();
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

}  // namespace llmq
