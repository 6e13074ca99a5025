#include "fuzz/fuzz_targets.h"

#include <fstream>
#include <stdexcept>
#include <typeinfo>

#include "calibration/imatrix_file.h"
#include "export/gguf/gguf_exporter.h"
#include "export/gguf/gguf_model_loader.h"
#include "export/hf/loaders/ct_lowbit_loader.h"
#include "export/hf/loaders/hf_quant_loader.h"
#include "io/safetensors.h"
#include "io/safetensors_writer.h"
#include "model/model_loader.h"
#include "model/transformer.h"
#include "synth/synthetic_model.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace fs = std::filesystem;

namespace llmq::fuzz {

namespace {

fs::path fixture_model() { return fs::path(bundled_tokenizer_dir()); }

// An accepted model must run: two tokens through the forward pass.
void run_forward(const LoadedModel& m) {
  Transformer t(m.weights);
  KvCache c = t.make_cache(2);
  const int32_t ids[2] = {1, 2};
  std::vector<float> logits;
  t.forward(ids, 2, c, logits);
}

void use_input(const std::string& target, const fs::path& dir, const std::string& path) {
  if (target == "safetensors") {
    SafetensorsFile f(path);
    for (const auto& [name, tv] : f.tensors())  // whatever was accepted converts from inside the file
      if (dtype_is_float16_or_32(tv.dtype)) {
        const std::vector<float> v = tv.to_f32();
        if (int64_t(v.size()) != tv.numel()) throw std::logic_error("converted size differs from numel");
      }
  } else if (target == "gguf") {
    const LoadedModel m = load_model(path, {.lazy = true});
    run_forward(m);
    if (m.tokenizer) (void)m.tokenizer->decode(m.tokenizer->encode("Hello world", true));
  } else if (target == "config") {
    run_forward(load_model(dir.string(), {.lazy = true}));
  } else if (target == "tokenizer") {
    const std::unique_ptr<Tokenizer> tok = Tokenizer::load(dir.string());
    (void)tok->decode(tok->encode("Hello world, 123 \xc3\xa9t\xc3\xa9!", true));
  } else if (target == "imatrix") {
    const ImatrixFile im(path);
    for (const std::string& n : im.names())
      for (int64_t e = 0; e < im.n_matrices(n); ++e) (void)im.importance(n, int(e));
  }
}

}  // namespace

std::string read_bytes(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), std::streamsize(bytes.size()));
  if (!f) throw std::runtime_error("cannot write " + path.string());
}

const std::vector<Target>& targets() {
  static const std::vector<Target> t = {
      {"safetensors", "model.safetensors", 4096},  // the JSON header; data bytes are any bytes
      {"gguf", "model.gguf", 256 << 10},           // metadata, vocabulary and tensor infos
      {"config", "config.json", 0},
      {"tokenizer", "tokenizer.json", 64 << 10},   // model type, pre-tokenizer, added tokens, vocabulary start
      {"imatrix", "model.imatrix", 0},
  };
  return t;
}

const Target& target(const std::string& name) {
  std::string names;
  for (const Target& t : targets()) {
    if (t.name == name) return t;
    names += (names.empty() ? "" : ", ") + t.name;
  }
  throw std::invalid_argument("unknown fuzz target '" + name + "' (targets: " + names + ")");
}

Workspace::Workspace(const Target& t, const fs::path& dir) : target_(t), dir_(dir) {
  register_gguf_model_loader();  // as the CLI does: load_model() opens every format
  register_ct_lowbit_loader();
  register_hf_quant_loaders();
  fs::create_directories(dir_);
  if (t.name == "config" || t.name == "tokenizer")  // the model's other files, unchanged
    for (const char* f : {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"})
      if (t.file_name != f && !fs::exists(dir_ / f)) fs::create_symlink(fixture_model() / f, dir_ / f);
}

bool Workspace::run(const std::string& bytes, std::string* refusal) const {
  const std::string path = input_path();
  write_bytes(path, bytes);
  try {
    use_input(target_.name, dir_, path);
    return true;
  } catch (const Error& e) {
    if (std::string(e.what()).find(target_.file_name) == std::string::npos)
      throw Finding(std::string("refused without naming the file: ") + e.what());
    if (refusal) *refusal = e.what();
    return false;
  } catch (const std::exception& e) {
    throw Finding(std::string(typeid(e).name()) + ": " + e.what());
  }
}

std::vector<std::string> seed_inputs(const Target& t, const fs::path& scratch) {
  fs::create_directories(scratch);
  if (t.name == "config" || t.name == "tokenizer") return {read_bytes(fixture_model() / t.file_name)};
  if (t.name == "safetensors") {
    const fs::path p = scratch / "seed.safetensors";
    SafetensorsWriter w(p.string());
    w.set_metadata("format", "pt");
    const std::vector<uint16_t> a(6 * 8, 0x3f80);  // bf16 1.0
    const std::vector<float> b(5, 2.0f);
    w.declare("a.weight", DType::BF16, {6, 8});
    w.declare("b.bias", DType::F32, {5});
    w.write("a.weight", a.data(), a.size() * 2);
    w.write("b.bias", b.data(), b.size() * 4);
    w.finish();
    return {read_bytes(p)};
  }
  if (t.name == "imatrix") {
    ImatrixData d;
    d.datasets = {"seed.txt"};
    d.chunk_count = 2;
    d.chunk_size = 32;
    d.model_fingerprint = "v1:0123456789abcdef";
    d.entries["blk.0.attn_q.weight"] = {std::vector<float>(64, 3.0f), {64}};
    d.entries["blk.0.ffn_gate_exps.weight"] = {std::vector<float>(4 * 32, 1.5f), {10, 20, 30, 40}};
    write_imatrix_gguf(d, (scratch / "seed.imatrix").string());
    write_imatrix_dat(d, (scratch / "seed.dat").string());
    return {read_bytes(scratch / "seed.imatrix"), read_bytes(scratch / "seed.dat")};
  }
  // gguf: a tiny random model with the fixture's tokenizer, Q8_0.
  const fs::path model = scratch / "seed-model", gguf = scratch / "seed.gguf";
  if (!fs::exists(gguf)) {
    SynthOptions so;
    so.shape = synth_preset("llama-1b");
    so.shape.hidden = 64;
    so.shape.n_layers = 1;
    so.shape.ffn = 128;
    so.shape.n_heads = 2;
    so.shape.n_kv_heads = 1;
    so.shape.head_dim = 0;
    so.shape.vocab = 8192;
    so.seed = 5;
    if (!fs::exists(model)) write_synthetic_model(so, model.string());
    GgufExportOptions eo;
    eo.quant.preset = GgufPreset::Q8_0;
    eo.output = gguf.string();
    export_gguf(model.string(), eo);
  }
  return {read_bytes(gguf)};
}

fs::path corpus_dir(const Target& t) { return fs::path(LLMQ_SOURCE_DIR) / "tests" / "fuzz" / "corpus" / t.name; }

}  // namespace llmq::fuzz
