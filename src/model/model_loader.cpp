#include "model/model_loader.h"

#include <filesystem>
#include <map>
#include <mutex>

#include "io/hf_checkpoint.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace fs = std::filesystem;

namespace llmq {

namespace {
std::vector<std::pair<std::string, ModelLoaderFn>>& loaders() {
  static std::vector<std::pair<std::string, ModelLoaderFn>> v;
  return v;
}
}  // namespace

void register_model_loader(const std::string& format, ModelLoaderFn fn) { loaders().emplace_back(format, std::move(fn)); }

int64_t count_params(const ModelWeights& cw) {
  ModelWeights& w = const_cast<ModelWeights&>(cw);  // named_tensors only reads here
  int64_t n = 0;
  for (const NamedTensor& nt : named_tensors(w)) n += nt.tensor->numel();
  return n;
}

LoadedModel load_hf_model(const std::string& dir, const LoadOptions& opt) {
  auto shared = std::make_shared<const HfCheckpoint>(dir);
  const HfCheckpoint& ckpt = *shared;
  const std::string cfg_path = (fs::path(dir) / "config.json").string();
  ModelConfig cfg = ModelConfig::from_json(ckpt.config(), cfg_path);
  LoadedModel m;
  m.weights = std::make_shared<ModelWeights>(opt.lazy ? load_hf_weights_lazy(shared, cfg) : load_hf_weights(ckpt, cfg));
  m.tokenizer = Tokenizer::load(dir);
  m.path = dir;
  m.format = "hf";
  std::string dt;
  for (const auto& s : ckpt.shards())
    for (const auto& [_, tv] : s->tensors()) {
      std::string d = dtype_name(tv.dtype);
      for (auto& ch : d) ch = char(std::tolower(static_cast<unsigned char>(ch)));
      if (dt.empty()) dt = d;
      else if (dt != d && dt.find(d) == std::string::npos) dt += "+" + d;
    }
  m.dtype = dt;
  m.file_bytes = ckpt.total_bytes();
  m.n_params = count_params(*m.weights);
  return m;
}

LoadedModel load_model(const std::string& path, const LoadOptions& opt) {
  if (!fs::exists(path)) throw file_error(path, "model not found");
  for (const auto& [fmt, fn] : loaders()) {
    if (auto m = fn(path, opt)) return std::move(*m);
  }
  if (fs::is_directory(path)) {
    if (!fs::exists(fs::path(path) / "config.json")) throw file_error(path, "not a model directory (no config.json)");
    return load_hf_model(path, opt);
  }
  throw file_error(path, "unrecognised model file (expected a Hugging Face checkpoint directory or a .gguf file)");
}

}  // namespace llmq
