#include "synth/synthetic_model.h"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <memory>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "export/hf/checkpoint_side_files.h"
#include "export/hf/safetensors_shards.h"
#include "io/safetensors_writer.h"
#include "tokenizer/tokenizer.h"
#include "util/atomic_output.h"
#include "util/error.h"
#include "util/half.h"
#include "util/progress.h"

namespace fs = std::filesystem;

namespace llmq {

namespace {

ModelConfig shape(Arch arch, int64_t hidden, int64_t layers, int64_t ffn, int64_t heads, int64_t kv_heads,
                  int64_t vocab, double rope_theta, double rms_eps, int64_t max_positions) {
  ModelConfig c;
  c.arch = arch;
  c.hidden = hidden;
  c.n_layers = layers;
  c.ffn = ffn;
  c.n_heads = heads;
  c.n_kv_heads = kv_heads == heads ? 0 : kv_heads;
  c.vocab = vocab;
  c.rope_theta = rope_theta;
  c.rms_eps = rms_eps;
  c.max_positions = max_positions;
  return c;
}

ModelConfig moe(ModelConfig c, int64_t experts, int64_t used, int64_t moe_ffn) {
  c.n_experts = experts;
  c.n_experts_used = used;
  c.moe_ffn = moe_ffn;
  return c;
}

const std::map<std::string, ModelConfig>& presets() {
  static const std::map<std::string, ModelConfig> p = [] {
    std::map<std::string, ModelConfig> m;
    m["llama-7b"] = shape(Arch::Llama, 4096, 32, 11008, 32, 32, 32000, 1e4, 1e-5, 4096);  // Llama-2-7B
    ModelConfig l1 = shape(Arch::Llama, 2048, 16, 8192, 32, 8, 128256, 5e5, 1e-5, 131072);  // Llama-3.2-1B
    l1.tie_embeddings = true;
    l1.rope_scaling = {"llama3", 32.0, 1.0, 4.0, 8192};
    m["llama-1b"] = l1;
    m["llama3-8b"] = shape(Arch::Llama, 4096, 32, 14336, 32, 8, 128256, 5e5, 1e-5, 8192);
    m["qwen3-8b"] = shape(Arch::Qwen3, 4096, 36, 12288, 32, 8, 151936, 1e6, 1e-6, 40960);
    ModelConfig q30 = moe(shape(Arch::Qwen3Moe, 2048, 48, 6144, 32, 4, 151936, 1e6, 1e-6, 40960), 128, 8, 768);
    q30.head_dim = 128;
    m["qwen3-30b-a3b"] = q30;
    // The shape of shared/models/tiny-qwen3moe; both tiny presets fit the bundled tokenizer (8192 tokens).
    m["qwen3-moe-tiny"] = moe(shape(Arch::Qwen3Moe, 256, 4, 768, 4, 2, 8192, 1e6, 1e-6, 2048), 16, 2, 256);
    m["mixtral-tiny"] = moe(shape(Arch::Mixtral, 256, 4, 512, 4, 2, 8192, 1e6, 1e-5, 2048), 8, 2, 512);
    m["mixtral-8x7b"] = moe(shape(Arch::Mixtral, 4096, 32, 14336, 32, 8, 32000, 1e6, 1e-5, 32768), 8, 2, 14336);
    m["llama-70b"] = shape(Arch::Llama, 8192, 80, 28672, 64, 8, 128256, 5e5, 1e-5, 8192);
    return m;
  }();
  return p;
}

const char* hf_architecture(Arch a) {
  switch (a) {
    case Arch::Llama: return "LlamaForCausalLM";
    case Arch::Mistral: return "MistralForCausalLM";
    case Arch::Qwen2: return "Qwen2ForCausalLM";
    case Arch::Qwen3: return "Qwen3ForCausalLM";
    case Arch::Qwen3Moe: return "Qwen3MoeForCausalLM";
    case Arch::Mixtral: return "MixtralForCausalLM";
  }
  return "?";
}

const char* torch_dtype(DType t) {
  switch (t) {
    case DType::BF16: return "bfloat16";
    case DType::F16: return "float16";
    case DType::F32: return "float32";
    default: fail("synthetic weights are bf16, f16 or f32, not {}", dtype_name(t));
  }
}

bool arch_is_moe(Arch a) { return a == Arch::Qwen3Moe || a == Arch::Mixtral; }

// Tokens the tokenizer really has: its vocab without the "[PAD<id>]" ids
// that pad it to its own config.json's vocab_size.
int64_t real_token_count(const Tokenizer& t) {
  int64_t n = t.vocab_size();
  while (n > 0 && t.token_types()[size_t(n - 1)] == TokenType::Unused &&
         t.tokens()[size_t(n - 1)] == fmt::format("[PAD{}]", n - 1))
    --n;
  return n;
}

nlohmann::json optional_id(const std::optional<int32_t>& id) { return id ? nlohmann::json(*id) : nlohmann::json(); }

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Values are generated in blocks seeded by (seed, block index), each block by
// kLanes independent xorshift32 streams so the loop vectorizes (3.5 GB/s of
// bf16 per core on AVX2, well above a disk's write rate). A value is the sum
// of four 16-bit uniforms from two draws (Irwin-Hall: mean 131070, std
// 65536/sqrt(3)), centred and scaled: normal-ish, bounded at +-3.46 std.
constexpr int64_t kBlock = 1 << 15;
constexpr int kLanes = 16;
constexpr float kIrwinHallStd = 37837.23f;  // sqrt(4 * (65536^2 - 1) / 12)

inline uint32_t xorshift32(uint32_t x) {
  x ^= x << 13;
  x ^= x >> 17;
  return x ^ (x << 5);
}

// One normal-ish value from lane state s (advanced by two draws).
inline float irwin_hall(uint32_t& s) {
  const uint32_t a = xorshift32(s), b = xorshift32(a);
  s = b;
  return float(int32_t(a & 0xffff) + int32_t(a >> 16) + int32_t(b & 0xffff) + int32_t(b >> 16) - 131070);
}

template <typename T, typename Convert>
void fill_block(T* out, int64_t n, uint64_t seed, float scale, Convert convert) {
  uint32_t s[kLanes];
  for (int l = 0; l < kLanes; ++l) s[l] = uint32_t(splitmix64(seed + uint64_t(l))) | 1;  // never the 0 state
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) out[i + l] = convert(irwin_hall(s[l]) * scale);
  for (; i < n; ++i) out[i] = convert(irwin_hall(s[0]) * scale);
}

template <typename T, typename Convert>
void fill_typed(T* out, int64_t n, const SynthFill& f, uint64_t seed, Convert convert) {
  if (f.std == 0) {
    const T c = convert(f.value);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) out[i] = c;
    return;
  }
  const float scale = f.std / kIrwinHallStd;
  const int64_t blocks = (n + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t begin = b * kBlock;
    fill_block(out + begin, std::min(kBlock, n - begin), splitmix64(seed ^ splitmix64(uint64_t(b))), scale, convert);
  }
}

uint64_t tensor_bytes(const std::vector<int64_t>& shape, DType dtype) {
  uint64_t n = dtype_size(dtype);
  for (int64_t d : shape) n *= uint64_t(d);
  return n;
}

}  // namespace

const std::vector<std::string>& synth_preset_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const auto& [name, cfg] : presets()) v.push_back(name);
    return v;
  }();
  return names;
}

ModelConfig synth_preset(const std::string& name) {
  auto it = presets().find(name);
  if (it == presets().end())
    fail("--preset: unknown preset '{}' (known: {})", name, fmt::join(synth_preset_names(), ", "));
  return it->second;
}

ModelConfig resolve_synth_shape(ModelConfig c) {
  auto positive = [](int64_t v, const char* option) {
    if (v <= 0) fail("{} must be given and positive (or come from a --preset)", option);
  };
  positive(c.hidden, "--hidden");
  positive(c.n_layers, "--layers");
  positive(c.n_heads, "--heads");
  positive(c.vocab, "--vocab");
  if (c.n_kv_heads == 0) c.n_kv_heads = c.n_heads;
  if (c.head_dim == 0) {
    if (c.hidden % c.n_heads != 0) fail("--hidden {} is not a multiple of --heads {}; give --head-dim", c.hidden, c.n_heads);
    c.head_dim = c.hidden / c.n_heads;
  }
  if (c.n_kv_heads < 0 || c.n_heads % c.n_kv_heads != 0)
    fail("--heads {} must be a multiple of --kv-heads {}", c.n_heads, c.n_kv_heads);
  if (c.head_dim < 0 || c.head_dim % 2 != 0) fail("--head-dim {} must be positive and even", c.head_dim);
  if (arch_is_moe(c.arch)) {
    if (c.n_experts <= 0) fail("--arch {} needs --experts N", arch_name(c.arch));
    if (c.moe_ffn == 0) c.moe_ffn = c.ffn;
    positive(c.moe_ffn, "--moe-ffn");
    if (c.n_experts_used == 0) c.n_experts_used = std::min<int64_t>(2, c.n_experts);
    if (c.n_experts_used < 0 || c.n_experts_used > c.n_experts)
      fail("--experts-per-token {} must be between 1 and --experts {}", c.n_experts_used, c.n_experts);
    if (c.arch == Arch::Mixtral) c.ffn = c.moe_ffn;  // mixtral's intermediate_size is the experts' width
  } else {
    if (c.n_experts != 0) fail("--experts needs --arch qwen3_moe or mixtral (not {})", arch_name(c.arch));
    positive(c.ffn, "--ffn");
  }
  // What the loader makes of it: the derived flags (q/k norm, biases) and a check of every field.
  return ModelConfig::from_json(nlohmann::json(synth_config_json(c, DType::BF16, nullptr, nullptr)), "synthetic config.json");
}

nlohmann::ordered_json synth_config_json(const ModelConfig& c, DType dtype, const nlohmann::json& bos_token_id,
                                         const nlohmann::json& eos_token_id) {
  nlohmann::ordered_json rope = {{"rope_theta", c.rope_theta}, {"rope_type", c.rope_scaling.type}};
  if (c.rope_scaling.type != "default") rope["factor"] = c.rope_scaling.factor;
  if (c.rope_scaling.type == "llama3") {
    rope["low_freq_factor"] = c.rope_scaling.low_freq_factor;
    rope["high_freq_factor"] = c.rope_scaling.high_freq_factor;
    rope["original_max_position_embeddings"] = c.rope_scaling.original_max_position;
  }
  nlohmann::ordered_json j = {
      {"architectures", {hf_architecture(c.arch)}},
      {"attention_bias", false},
      {"bos_token_id", bos_token_id},
      {"dtype", torch_dtype(dtype)},
      {"eos_token_id", eos_token_id},
      {"head_dim", c.head_dim},
      {"hidden_act", "silu"},
      {"hidden_size", c.hidden},
      {"initializer_range", 0.02},
      {"intermediate_size", c.arch == Arch::Mixtral ? c.moe_ffn : c.ffn},
      {"max_position_embeddings", c.max_positions},
      {"model_type", arch_name(c.arch)},
      {"num_attention_heads", c.n_heads},
      {"num_hidden_layers", c.n_layers},
      {"num_key_value_heads", c.n_kv_heads},
      {"rms_norm_eps", c.rms_eps},
      {"rope_parameters", rope},
      {"rope_theta", c.rope_theta},  // transformers 4 reads it here
      {"tie_word_embeddings", c.tie_embeddings},
      {"torch_dtype", torch_dtype(dtype)},  // transformers 4's name for dtype
      {"vocab_size", c.vocab},
  };
  if (c.rope_scaling.type != "default") {
    nlohmann::ordered_json rs = rope;
    rs.erase("rope_theta");
    j["rope_scaling"] = rs;  // transformers 4
  }
  if (arch_is_moe(c.arch)) {
    j["num_local_experts"] = c.n_experts;
    j["num_experts_per_tok"] = c.n_experts_used;
    if (c.arch == Arch::Qwen3Moe) {
      j["num_experts"] = c.n_experts;  // transformers 4's name for qwen3_moe
      j["moe_intermediate_size"] = c.moe_ffn;
      j["norm_topk_prob"] = c.norm_topk_prob;
      j["decoder_sparse_step"] = c.decoder_sparse_step;
      j["mlp_only_layers"] = c.mlp_only_layers;
    }
    j["output_router_logits"] = false;
    j["router_aux_loss_coef"] = 0.001;
  }
  return j;
}

SynthFill synth_fill_for(TensorRole role, const ModelConfig& cfg) {
  switch (role) {
    case TensorRole::Norm: return {0.0f, 1.0f};
    case TensorRole::Bias: return {0.0f, 0.0f};
    // Projections into the residual stream: GPT-2's 1/sqrt(2 * layers), so the
    // residual stays near unit scale however deep the model.
    case TensorRole::AttnO:
    case TensorRole::FfnDown: return {float(0.02 / std::sqrt(2.0 * double(cfg.n_layers))), 0.0f};
    default: return {0.02f, 0.0f};
  }
}

uint64_t synth_tensor_seed(uint64_t seed, size_t index) { return splitmix64(splitmix64(seed) ^ uint64_t(index)); }

void fill_synthetic(DType dtype, void* out, int64_t n, const SynthFill& fill, uint64_t seed) {
  switch (dtype) {
    case DType::BF16: fill_typed(static_cast<uint16_t*>(out), n, fill, seed, [](float v) { return f32_to_bf16(v); }); break;
    case DType::F16: fill_typed(static_cast<uint16_t*>(out), n, fill, seed, [](float v) { return f32_to_f16(v); }); break;
    case DType::F32: fill_typed(static_cast<float*>(out), n, fill, seed, [](float v) { return v; }); break;
    default: fail("synthetic weights are bf16, f16 or f32, not {}", dtype_name(dtype));
  }
}

std::string bundled_tokenizer_dir() {
  // The source checkout is three levels above this file (src/synth/x.cpp).
  const fs::path repo = fs::path(__FILE__).parent_path().parent_path().parent_path();
  return (repo / "models" / "tiny-llama").string();
}

SynthResult write_synthetic_model(const SynthOptions& o, const std::string& out_dir) {
  const auto t0 = std::chrono::steady_clock::now();
  SynthResult r;
  r.output_dir = out_dir;
  r.cfg = resolve_synth_shape(o.shape);
  (void)torch_dtype(o.dtype);  // bf16, f16 or f32
  if (o.max_shard_bytes == 0) fail("--max-shard-size must be positive");
  r.tokenizer_from = o.tokenizer_from.empty() ? bundled_tokenizer_dir() : o.tokenizer_from;
  if (!fs::is_directory(r.tokenizer_from)) throw file_error(r.tokenizer_from, "tokenizer directory not found");
  ensure_not_same_path(out_dir, r.tokenizer_from);
  const std::unique_ptr<Tokenizer> tok = Tokenizer::load(r.tokenizer_from);
  r.tokenizer_tokens = real_token_count(*tok);
  if (r.cfg.vocab < r.tokenizer_tokens)
    fail("--vocab {} is smaller than the tokenizer of {} ({} tokens); the embedding needs a row per token", r.cfg.vocab,
         r.tokenizer_from, r.tokenizer_tokens);

  // The tensors, as the loader expects them (names, shapes, order).
  ModelWeights w;
  w.cfg = r.cfg;
  const std::vector<NamedTensor> named = named_tensors(w);
  std::vector<OutTensor> list;
  for (const NamedTensor& nt : named) {
    list.push_back({nt.name, o.dtype, nt.shape, nullptr});
    int64_t n = 1;
    for (int64_t d : nt.shape) n *= d;
    r.n_params += n;
  }
  r.n_tensors = int64_t(named.size());
  const std::map<std::string, std::string> metadata = {{"format", "pt"}};
  int n_shards = 0;
  const std::vector<int> shard = plan_shards(list, o.max_shard_bytes, &n_shards);
  const uint64_t total = sharded_safetensors_bytes(list, metadata, o.max_shard_bytes);
  if (o.init == SynthInit::Random) {
    std::error_code ec;
    const fs::path parent = fs::absolute(out_dir).parent_path();
    const fs::space_info sp = fs::space(parent, ec);
    if (!ec && sp.available < total + (64u << 20))
      throw file_error(out_dir, fmt::format("needs {:.2f} GB of disk, {} has {:.2f} GB free (--init zeros needs none)",
                                            double(total) / 1e9, parent.string(), double(sp.available) / 1e9));
  }

  AtomicOutputDir dir(out_dir);
  std::unique_ptr<uint8_t[]> buf;  // one tensor, reused
  uint64_t cap = 0, data_bytes = 0;
  nlohmann::json weight_map = nlohmann::json::object();
  Progress bar(o.init == SynthInit::Random ? "synth" : "synth (zeros)", size_t(total / 1000000), true, "MB");
  size_t i = 0;
  for (int s = 0; s < n_shards; ++s) {
    const std::string file =
        n_shards == 1 ? "model.safetensors" : fmt::format("model-{:05d}-of-{:05d}.safetensors", s + 1, n_shards);
    r.shards.push_back(file);
    SafetensorsWriter st(dir.file(file));
    for (const auto& [k, v] : metadata) st.set_metadata(k, v);
    const size_t begin = i;
    for (; i < list.size() && shard[i] == s; ++i) {
      st.declare(list[i].name, o.dtype, list[i].shape);
      weight_map[list[i].name] = file;
    }
    for (size_t k = begin; k < i; ++k) {
      const uint64_t nbytes = tensor_bytes(list[k].shape, o.dtype);
      if (o.init == SynthInit::Zeros) {
        st.write_hole(list[k].name);
      } else {
        if (nbytes > cap) {
          buf.reset();  // free the smaller buffer first: peak stays one tensor
          buf.reset(new uint8_t[nbytes]);
          cap = nbytes;
        }
        fill_synthetic(o.dtype, buf.get(), int64_t(nbytes / dtype_size(o.dtype)), synth_fill_for(named[k].role, r.cfg),
                       synth_tensor_seed(o.seed, k));
        st.write(list[k].name, buf.get(), nbytes);
        st.start_writeback();  // the disk works while the next tensor is generated
      }
      bar.update(size_t((data_bytes + nbytes) / 1000000 - data_bytes / 1000000));
      data_bytes += nbytes;
    }
    st.finish();
    struct stat sb {};
    if (::stat(dir.file(file).c_str(), &sb) != 0) throw file_error(dir.file(file), "cannot stat the written shard");
    r.bytes += uint64_t(sb.st_size);
    r.disk_bytes += uint64_t(sb.st_blocks) * 512;
  }
  buf.reset();
  bar.finish();
  if (n_shards > 1)
    write_json_file(dir.file("model.safetensors.index.json"),
                    {{"metadata", {{"total_size", data_bytes}}}, {"weight_map", weight_map}});
  write_json_file(dir.file("config.json"), nlohmann::json(synth_config_json(r.cfg, o.dtype, optional_id(tok->bos_id()),
                                                                             optional_id(tok->eos_id()))));
  copy_checkpoint_side_files(r.tokenizer_from, dir);
  dir.commit();
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace llmq
