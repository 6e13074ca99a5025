#pragma once
// The finished layers of a layer-by-layer quantization, kept on disk until
// the writer streams them into the output, so that memory holds one layer at
// a time however deep the model. It is also the resume checkpoint of the job:
//
//   DIR/job.json                 the job's fingerprint (model, options, calibration windows)
//   DIR/layer-00012.safetensors  layer 12's checkpoint tensors in file order, and
//                                in its metadata what the quantizer reported for it
//   DIR/states.safetensors       the hidden states entering the next layer (for
//                                quantizers that carry them: sequential GPTQ, AWQ)
//
// Every file is written under a temporary name and renamed, so a run killed
// at any moment leaves finished layers intact; a rerun of the same job
// continues after the last of them and writes byte-identical output.
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "export/hf/hf_tensor_encoders.h"
#include "export/hf/layer_stream.h"

namespace llmq {

class SafetensorsFile;

class LayerSpill {
 public:
  // Creates `dir` if missing. When its job.json carries another fingerprint,
  // or `restart`, what it held is removed first. Throws llmq::Error naming
  // the folder when it cannot be created.
  LayerSpill(std::string dir, const std::string& fingerprint, bool restart);
  ~LayerSpill();

  const std::string& dir() const { return dir_; }
  // Layers 0 .. n-1 have their files.
  int finished_layers() const;
  // The layer the saved hidden states enter, and the states; nullopt when none were saved.
  std::optional<std::pair<int, WindowStates>> saved_states() const;

  // Writes layer l (its tensors' bytes are produced now) with its record.
  void put_layer(int l, const std::vector<OutTensor>& tensors, const nlohmann::json& record);
  void save_states(int next_layer, const WindowStates& states);

  // Layer l's tensors, their bytes read from the file when asked for (valid while this object lives).
  std::vector<OutTensor> layer_tensors(int l) const;
  nlohmann::json layer_record(int l) const;

  // The whole folder, once the output it fed is committed.
  void remove();

 private:
  std::string layer_path(int l) const;
  const SafetensorsFile& open_layer(int l) const;
  std::string dir_;
  mutable std::vector<std::shared_ptr<SafetensorsFile>> open_;
};

// Hidden states entering layer `next_layer`, one array per window, in a
// checksummed safetensors file (written under a temporary name), and back;
// nullopt when there is no file at `path`.
void save_window_states(const std::string& path, int next_layer, const WindowStates& states);
std::optional<std::pair<int, WindowStates>> load_window_states(const std::string& path);

// A stable hash of `s` (hex), for fingerprints of options and token windows.
std::string fingerprint_hash(const std::string& s);

}  // namespace llmq
