// Synthetic checkpoints (src/synth/synthetic_model.h): what they write loads
// through our loader and runs; shapes, parameter counts, shard index, sparse
// zero files and determinism are checked against independent computations.
#include <sys/stat.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <omp.h>

#include "common/fixtures.h"
#include "io/hf_checkpoint.h"
#include "io/safetensors.h"
#include "io/safetensors_writer.h"
#include "model/model_loader.h"
#include "model/transformer.h"
#include "synth/synthetic_model.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "util/half.h"

using namespace llmq;
namespace fs = std::filesystem;

namespace {

ModelConfig small_llama() {
  ModelConfig c;
  c.arch = Arch::Llama;
  c.hidden = 128;
  c.n_layers = 2;
  c.ffn = 384;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.vocab = 8192;  // the bundled tokenizer's size
  return c;
}

SynthOptions options(const ModelConfig& shape, uint64_t seed = 1) {
  SynthOptions o;
  o.shape = shape;
  o.seed = seed;
  return o;
}

// Parameters of a dense llama-style model, counted from the architecture (not from named_tensors()).
int64_t dense_params(const ModelConfig& c) {
  const int64_t q = c.n_heads * c.head_dim, kv = c.n_kv_heads * c.head_dim;
  const int64_t layer = 2 * c.hidden + c.hidden * q + 2 * c.hidden * kv + q * c.hidden + 3 * c.hidden * c.ffn;
  return c.vocab * c.hidden * (c.tie_embeddings ? 1 : 2) + c.n_layers * layer + c.hidden;
}

// Logits of a short prompt: all finite; returns their standard deviation.
double forward_logit_std(const LoadedModel& m) {
  Transformer model(m.weights);
  std::vector<int32_t> ids = m.tokenizer->encode("The kernel schedules threads", false);
  EXPECT_GE(ids.size(), 3u);
  const int64_t T = int64_t(ids.size());
  KvCache cache = model.make_cache(T);
  std::vector<float> logits;
  model.forward(ids.data(), T, cache, logits);
  EXPECT_EQ(int64_t(logits.size()), T * m.weights->cfg.vocab);
  double sum = 0, sq = 0;
  for (float v : logits) {
    EXPECT_TRUE(std::isfinite(v));
    if (!std::isfinite(v)) break;
    sum += v;
    sq += double(v) * v;
  }
  const double n = double(logits.size());
  return std::sqrt(std::max(0.0, sq / n - (sum / n) * (sum / n)));
}

double tensor_std(const Tensor& t) {
  double sum = 0, sq = 0;
  for (float v : t.data) {
    sum += v;
    sq += double(v) * v;
  }
  const double n = double(t.data.size());
  return std::sqrt(sq / n - (sum / n) * (sum / n));
}

std::string file_bytes(const fs::path& p) { return test::read_file(p.string()); }

uint64_t header_bytes(const fs::path& shard) {  // 8-byte length + JSON header
  std::ifstream f(shard, std::ios::binary);
  uint64_t n = 0;
  f.read(reinterpret_cast<char*>(&n), 8);
  return 8 + n;
}

// The llmq::Error message fn throws; "" when it throws none (so a find() in it fails).
template <typename F>
std::string error_of(F fn) {
  try { fn(); } catch (const Error& e) { return e.what(); }
  return "";
}

}  // namespace

TEST(Synth, SmallLlamaLoadsAndRunsForward) {
  test::TempDir d;
  const SynthResult r = write_synthetic_model(options(small_llama()), d / "llama");
  ASSERT_EQ(r.shards, std::vector<std::string>{"model.safetensors"});
  EXPECT_TRUE(fs::exists(d / "llama/tokenizer.json"));
  EXPECT_TRUE(fs::exists(d / "llama/tokenizer_config.json"));

  LoadedModel m = load_model(d / "llama");
  const ModelConfig& c = m.weights->cfg;
  EXPECT_EQ(c.arch, Arch::Llama);
  EXPECT_EQ(c.hidden, 128);
  EXPECT_EQ(c.n_layers, 2);
  EXPECT_EQ(c.ffn, 384);
  EXPECT_EQ(c.n_heads, 4);
  EXPECT_EQ(c.n_kv_heads, 2);
  EXPECT_EQ(c.head_dim, 32);
  EXPECT_EQ(c.vocab, 8192);
  EXPECT_EQ(m.dtype, "bf16");
  EXPECT_EQ(m.n_params, dense_params(c));
  EXPECT_EQ(r.n_params, m.n_params);
  EXPECT_EQ(m.weights->layers[1].wk.shape, (std::vector<int64_t>{64, 128}));
  EXPECT_EQ(m.weights->layers[0].down.shape, (std::vector<int64_t>{128, 384}));
  // bf16 data + one header: the file is what the parameters say.
  EXPECT_EQ(r.bytes, uint64_t(m.n_params) * 2 + header_bytes(d / "llama/model.safetensors"));

  // Like an initialised model: std 0.02, residual projections smaller, norms 1.
  EXPECT_NEAR(tensor_std(m.weights->embed), 0.02, 0.001);
  EXPECT_NEAR(tensor_std(m.weights->layers[0].wq), 0.02, 0.001);
  EXPECT_NEAR(tensor_std(m.weights->layers[1].wo), 0.01, 0.001);  // 0.02 / sqrt(2 * 2 layers)
  EXPECT_NEAR(tensor_std(m.weights->layers[1].down), 0.01, 0.001);
  for (float v : m.weights->layers[0].attn_norm.data) ASSERT_EQ(v, 1.0f);
  for (float v : m.weights->final_norm.data) ASSERT_EQ(v, 1.0f);
  EXPECT_NE(m.weights->embed.data, m.weights->lm_head.data);  // every tensor its own stream

  EXPECT_GT(forward_logit_std(m), 1e-3);  // finite and not constant
}

TEST(Synth, SmallQwen3MoeLoadsAndRunsForward) {
  test::TempDir d;
  ModelConfig s = synth_preset("qwen3-moe-tiny");
  s.n_layers = 2;
  s.n_experts = 8;
  s.n_experts_used = 2;
  const SynthResult r = write_synthetic_model(options(s, 5), d / "moe");
  LoadedModel m = load_model(d / "moe");
  const ModelConfig& c = m.weights->cfg;
  EXPECT_EQ(c.arch, Arch::Qwen3Moe);
  EXPECT_TRUE(c.qk_norm);
  EXPECT_EQ(c.n_experts, 8);
  EXPECT_EQ(c.n_experts_used, 2);
  EXPECT_EQ(c.moe_ffn, 256);
  ASSERT_EQ(m.weights->layers.size(), 2u);
  EXPECT_EQ(m.weights->layers[1].experts.size(), 8u);
  EXPECT_EQ(m.weights->layers[1].router.shape, (std::vector<int64_t>{8, 256}));
  EXPECT_EQ(m.weights->layers[0].experts[7].down.shape, (std::vector<int64_t>{256, 256}));
  EXPECT_EQ(m.weights->layers[0].q_norm.shape, (std::vector<int64_t>{64}));
  const int64_t H = 256, E = 8, Fm = 256, q = 4 * 64, kv = 2 * 64, V = 8192;
  const int64_t layer = 2 * H + H * q + 2 * H * kv + q * H + 2 * 64 + E * H + E * 3 * H * Fm;
  EXPECT_EQ(m.n_params, 2 * V * H + 2 * layer + H);
  EXPECT_EQ(r.n_params, m.n_params);
  EXPECT_GT(forward_logit_std(m), 1e-3);
}

TEST(Synth, ShardedCheckpointHasConsistentIndexAndSameValues) {
  test::TempDir d;
  SynthOptions o = options(small_llama(), 9);
  o.max_shard_bytes = 200'000;
  const SynthResult r = write_synthetic_model(o, d / "sharded");
  ASSERT_GE(r.shards.size(), 4u);
  EXPECT_EQ(r.shards.front(), fmt::format("model-00001-of-{:05d}.safetensors", r.shards.size()));
  const auto index = nlohmann::json::parse(file_bytes(d / "sharded/model.safetensors.index.json"));
  uint64_t data = 0, files = 0;
  std::set<std::string> mapped;
  for (const std::string& s : r.shards) {
    const fs::path p = fs::path(d / "sharded") / s;
    files += fs::file_size(p);
    data += fs::file_size(p) - header_bytes(p);
    SafetensorsFile f(p.string());
    for (const auto& [name, view] : f.tensors()) {
      EXPECT_EQ(index["weight_map"][name], s) << name;
      mapped.insert(name);
    }
    if (f.tensors().size() > 1) {  // only a tensor larger than the limit gets a shard beyond it
      EXPECT_LE(fs::file_size(p) - header_bytes(p), 200'000u) << s;
    }
  }
  EXPECT_EQ(index["metadata"]["total_size"].get<uint64_t>(), data);
  EXPECT_EQ(files, r.bytes);
  EXPECT_EQ(index["weight_map"].size(), mapped.size());
  EXPECT_EQ(mapped.size(), size_t(r.n_tensors));

  // The same seed unsharded: the same values, whatever the shard layout.
  const SynthResult one = write_synthetic_model(options(small_llama(), 9), d / "single");
  ASSERT_EQ(one.shards.size(), 1u);
  LoadedModel a = load_model(d / "sharded"), b = load_model(d / "single");
  EXPECT_EQ(a.n_params, b.n_params);
  EXPECT_EQ(a.weights->embed.data, b.weights->embed.data);
  EXPECT_EQ(a.weights->layers[1].up.data, b.weights->layers[1].up.data);
  EXPECT_EQ(a.weights->lm_head.data, b.weights->lm_head.data);
  EXPECT_GT(forward_logit_std(a), 1e-3);
}

TEST(Synth, SameSeedSameBytesAnyThreadCount) {
  test::TempDir d;
  SynthOptions o = options(small_llama(), 42);
  o.max_shard_bytes = 2'000'000;
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  const SynthResult a = write_synthetic_model(o, d / "a");
  omp_set_num_threads(std::max(2, threads));
  const SynthResult b = write_synthetic_model(o, d / "b");
  omp_set_num_threads(threads);
  o.seed = 43;
  const SynthResult c = write_synthetic_model(o, d / "c");
  ASSERT_EQ(a.shards, b.shards);
  ASSERT_EQ(a.shards, c.shards);
  for (const std::string& f : {std::string("config.json"), std::string("model.safetensors.index.json")}) {
    EXPECT_EQ(file_bytes(fs::path(d / "a") / f), file_bytes(fs::path(d / "b") / f)) << f;
    EXPECT_EQ(file_bytes(fs::path(d / "a") / f), file_bytes(fs::path(d / "c") / f)) << f;
  }
  for (const std::string& s : a.shards) {
    const std::string fa = file_bytes(fs::path(d / "a") / s), fb = file_bytes(fs::path(d / "b") / s),
                      fc = file_bytes(fs::path(d / "c") / s);
    EXPECT_EQ(fa, fb) << s;
    ASSERT_EQ(fa.size(), fc.size()) << s;
    EXPECT_NE(fa, fc) << s;
  }
}

TEST(Synth, ZerosInitWritesSparseFilesThatLoad) {
  test::TempDir d;
  // A 70B-wide model cut to 2 layers: 7.6 GB of bf16 that takes no disk.
  ModelConfig s = synth_preset("llama-70b");
  s.n_layers = 2;
  SynthOptions o = options(s);
  o.init = SynthInit::Zeros;
  o.max_shard_bytes = 2'000'000'000;
  const SynthResult r = write_synthetic_model(o, d / "wide");
  EXPECT_LT(r.seconds, 10.0);
  ModelConfig c = r.cfg;
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_EQ(c.n_kv_heads, 8);
  EXPECT_EQ(r.n_params, dense_params(c));
  EXPECT_EQ(r.n_params, 3'812'663'296);
  EXPECT_GE(r.shards.size(), 4u);
  uint64_t apparent = 0, blocks = 0;
  for (const std::string& f : r.shards) {
    struct stat sb {};
    ASSERT_EQ(::stat((fs::path(d / "wide") / f).c_str(), &sb), 0);
    apparent += uint64_t(sb.st_size);
    blocks += uint64_t(sb.st_blocks) * 512;
    EXPECT_LT(uint64_t(sb.st_blocks) * 512, uint64_t(sb.st_size) / 1000) << f;
  }
  EXPECT_EQ(apparent, r.bytes);
  EXPECT_EQ(blocks, r.disk_bytes);
  EXPECT_GT(apparent, uint64_t(r.n_params) * 2);
  HfCheckpoint ck(d / "wide");
  EXPECT_EQ(ck.get("model.layers.1.mlp.gate_proj.weight").shape, (std::vector<int64_t>{28672, 8192}));
  EXPECT_EQ(ck.get("model.layers.0.self_attn.k_proj.weight").shape, (std::vector<int64_t>{1024, 8192}));
  const TensorView& last = ck.get("lm_head.weight");
  for (size_t i = last.nbytes - 4096; i < last.nbytes; ++i) ASSERT_EQ(last.data[i], 0);

  // A zero mixtral loads and runs: every logit 0.
  SynthOptions z = options(synth_preset("mixtral-tiny"));
  z.shape.n_layers = 1;
  z.init = SynthInit::Zeros;
  write_synthetic_model(z, d / "zero-mixtral");
  LoadedModel m = load_model(d / "zero-mixtral");
  EXPECT_EQ(m.weights->cfg.arch, Arch::Mixtral);
  EXPECT_EQ(m.weights->layers[0].experts.size(), 8u);
  EXPECT_EQ(forward_logit_std(m), 0.0);
}

TEST(Synth, WriteHoleReadsBackAsZeros) {
  test::TempDir d;
  const std::vector<uint16_t> ones(1000, f32_to_bf16(1.0f));
  SafetensorsWriter w(d / "h.safetensors");
  w.declare("a", DType::BF16, {1000});
  w.declare("hole", DType::BF16, {1 << 20});
  w.declare("b", DType::BF16, {1000});
  w.declare("tail", DType::BF16, {1 << 20});
  w.write("a", ones.data(), 2000);
  w.write_hole("hole");
  EXPECT_THROW(w.write_hole("tail"), Error);  // out of declared order
  w.write("b", ones.data(), 2000);
  w.write_hole("tail");
  w.finish();
  SafetensorsFile f(d / "h.safetensors");
  const std::vector<float> a = f.find("a")->to_f32(), hole = f.find("hole")->to_f32(), b = f.find("b")->to_f32(),
                           tail = f.find("tail")->to_f32();
  EXPECT_EQ(a, std::vector<float>(1000, 1.0f));
  EXPECT_EQ(b, std::vector<float>(1000, 1.0f));
  EXPECT_EQ(hole, std::vector<float>(1 << 20, 0.0f));
  EXPECT_EQ(tail, std::vector<float>(1 << 20, 0.0f));
  EXPECT_EQ(fs::file_size(d / "h.safetensors"), header_bytes(d / "h.safetensors") + 4000 + (4u << 20));
}

TEST(Synth, PresetsResolveAndFlagsOverride) {
  for (const std::string& name : synth_preset_names()) {
    const ModelConfig c = resolve_synth_shape(synth_preset(name));
    EXPECT_EQ(c.n_heads % c.n_kv_heads, 0) << name;
    EXPECT_GT(c.head_dim, 0) << name;
  }
  const ModelConfig l7 = resolve_synth_shape(synth_preset("llama-7b"));
  EXPECT_EQ(dense_params(l7), 6'738'415'616);  // Llama-2-7B
  const ModelConfig l8 = resolve_synth_shape(synth_preset("llama3-8b"));
  EXPECT_EQ(dense_params(l8), 8'030'261'248);  // Llama-3-8B
  const ModelConfig l1 = resolve_synth_shape(synth_preset("llama-1b"));
  EXPECT_TRUE(l1.tie_embeddings);
  EXPECT_EQ(dense_params(l1), 1'235'814'400);  // Llama-3.2-1B
  EXPECT_EQ(l1.rope_scaling.type, "llama3");
  // Derived values follow the overridden ones.
  ModelConfig narrow = synth_preset("llama-7b");
  narrow.hidden = 1024;
  narrow.n_heads = 8;
  const ModelConfig n = resolve_synth_shape(narrow);
  EXPECT_EQ(n.head_dim, 128);
  EXPECT_EQ(n.n_kv_heads, 8);
  EXPECT_EQ(resolve_synth_shape(synth_preset("qwen3-30b-a3b")).head_dim, 128);
}

TEST(Synth, BadInputIsRefused) {
  test::TempDir d;
  ModelConfig s = small_llama();
  s.vocab = 1000;  // fewer rows than the tokenizer's 8192 tokens
  EXPECT_NE(error_of([&] { write_synthetic_model(options(s), d / "v"); }).find("smaller than the tokenizer"),
            std::string::npos);
  EXPECT_FALSE(fs::exists(d / "v"));
  s = small_llama();
  s.arch = Arch::Qwen3Moe;
  EXPECT_NE(error_of([&] { resolve_synth_shape(s); }).find("--experts"), std::string::npos);
  s = small_llama();
  s.n_kv_heads = 3;
  EXPECT_NE(error_of([&] { resolve_synth_shape(s); }).find("--kv-heads"), std::string::npos);
  EXPECT_NE(error_of([&] { synth_preset("llama-9000"); }).find("llama-7b"), std::string::npos);
  // An existing output is never replaced, and nothing is left beside it.
  fs::create_directories(d / "exists");
  { std::ofstream(d / "exists/keep.txt") << "mine"; }
  EXPECT_NE(error_of([&] { write_synthetic_model(options(small_llama()), d / "exists"); }), "");
  EXPECT_EQ(file_bytes(d / "exists/keep.txt"), "mine");
  EXPECT_FALSE(fs::exists(d / "exists/model.safetensors"));
  for (const auto& e : fs::directory_iterator(d.path)) EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos);
}
