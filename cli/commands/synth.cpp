// llm-quantize synth -o DIR [--preset NAME] [shape options]: a Hugging Face
// checkpoint of random (or zero) weights of any supported shape, for
// benchmarks and scale tests (src/synth/synthetic_model.h).
#include <fmt/format.h>

#include "../cli_common.h"
#include "synth/synthetic_model.h"
#include "util/error.h"

namespace llmq::cli {

namespace {

struct SynthArgs {
  std::string output, preset, arch, dtype = "bf16", init = "random", tokenizer_from;
  ModelConfig flags;  // the shape options as given; applied over the preset where given
  bool tie = false;
  uint64_t max_shard_bytes = 5'000'000'000ull;
  uint64_t seed = 0;
};

// Shape options: name, the field they set, help.
struct ShapeOption {
  const char* name;
  int64_t ModelConfig::*field;
  const char* help;
};
constexpr ShapeOption kShapeOptions[] = {
    {"--hidden", &ModelConfig::hidden, "Hidden size"},
    {"--layers", &ModelConfig::n_layers, "Decoder layers"},
    {"--ffn", &ModelConfig::ffn, "MLP intermediate size (mixtral: the experts')"},
    {"--heads", &ModelConfig::n_heads, "Attention heads"},
    {"--kv-heads", &ModelConfig::n_kv_heads, "Key/value heads (default: --heads)"},
    {"--vocab", &ModelConfig::vocab, "Vocabulary size (at least the tokenizer's)"},
    {"--head-dim", &ModelConfig::head_dim, "Head dimension (default: hidden / heads)"},
    {"--experts", &ModelConfig::n_experts, "MoE experts per layer (qwen3_moe, mixtral)"},
    {"--experts-per-token", &ModelConfig::n_experts_used, "MoE experts routed per token (default 2)"},
    {"--moe-ffn", &ModelConfig::moe_ffn, "MoE expert intermediate size (default: --ffn)"},
};

const std::vector<std::string> kArchNames = {"llama", "mistral", "qwen2", "qwen3", "qwen3_moe", "mixtral"};

Arch parse_arch(const std::string& name) {
  for (Arch a : {Arch::Llama, Arch::Mistral, Arch::Qwen2, Arch::Qwen3, Arch::Qwen3Moe, Arch::Mixtral})
    if (name == arch_name(a)) return a;
  fail("--arch: unknown architecture '{}'", name);
}

DType parse_dtype(const std::string& name) {
  return name == "f32" ? DType::F32 : name == "f16" ? DType::F16 : DType::BF16;
}

// The preset (or an empty shape), with every option the user gave applied over it.
ModelConfig requested_shape(const CLI::App* cmd, const SynthArgs& a) {
  ModelConfig c = a.preset.empty() ? ModelConfig{} : synth_preset(a.preset);
  const bool ffn_given = cmd->count("--ffn") > 0;
  for (const ShapeOption& o : kShapeOptions)
    if (cmd->count(o.name) > 0) c.*o.field = a.flags.*o.field;
  if (!a.arch.empty()) c.arch = parse_arch(a.arch);
  if (cmd->count("--tie") > 0) c.tie_embeddings = a.tie;
  if (c.arch == Arch::Mixtral && ffn_given && cmd->count("--moe-ffn") == 0) c.moe_ffn = c.ffn;
  return c;
}

nlohmann::json result_json(const SynthResult& r, const SynthArgs& a) {
  const ModelConfig& c = r.cfg;
  return {{"output", r.output_dir},
          {"preset", a.preset.empty() ? nlohmann::json() : nlohmann::json(a.preset)},
          {"architecture", arch_name(c.arch)},
          {"dtype", a.dtype},
          {"init", a.init},
          {"seed", a.seed},
          {"parameters", r.n_params},
          {"tensors", r.n_tensors},
          {"hidden_size", c.hidden},
          {"layers", c.n_layers},
          {"intermediate_size", c.ffn},
          {"attention_heads", c.n_heads},
          {"kv_heads", c.n_kv_heads},
          {"head_dim", c.head_dim},
          {"vocab_size", c.vocab},
          {"tied_embeddings", c.tie_embeddings},
          {"experts", c.n_experts},
          {"experts_per_token", c.n_experts_used},
          {"moe_intermediate_size", c.moe_ffn},
          {"shards", r.shards},
          {"size_bytes", r.bytes},
          {"disk_bytes", r.disk_bytes},
          {"tokenizer_from", r.tokenizer_from},
          {"tokenizer_tokens", r.tokenizer_tokens},
          {"seconds", r.seconds},
          {"mb_per_s", r.seconds > 0 ? double(r.bytes) / 1e6 / r.seconds : 0.0}};
}

}  // namespace

void register_synth(CLI::App& app) {
  auto* cmd = app.add_subcommand("synth", "Write a checkpoint of random weights of any llama/qwen/MoE shape");
  auto opts = std::make_shared<CommonOptions>();
  auto a = std::make_shared<SynthArgs>();
  cmd->add_option("-o,--output", a->output, "Checkpoint directory to create (must not exist)")->required();
  cmd->add_option("--preset", a->preset, "Named shape; shape options override its values")
      ->check(CLI::IsMember(synth_preset_names()));
  cmd->add_option("--arch", a->arch, "Architecture, the config.json model_type (default: the preset's, else llama)")->check(CLI::IsMember(kArchNames));
  for (const ShapeOption& o : kShapeOptions)
    cmd->add_option(o.name, a->flags.*o.field, o.help)->check(CLI::NonNegativeNumber)->group("Shape");
  cmd->add_flag("--tie,!--no-tie", a->tie, "Tie the output head to the embedding (or not)")->group("Shape");
  cmd->add_option("--dtype", a->dtype, "Weight dtype")->check(CLI::IsMember({"bf16", "f16", "f32"}))->capture_default_str();
  cmd->add_option("--max-shard-size", a->max_shard_bytes, "Split the weights into shards of at most this size (e.g. 5GB)")
      ->transform(CLI::AsSizeValue(true))->capture_default_str();
  cmd->add_option("--seed", a->seed, "Seed of the random weights")->capture_default_str();
  cmd->add_option("--init", a->init, "random: normal-ish weights (std 0.02, norms 1); zeros: sparse files, no disk use")
      ->check(CLI::IsMember({"random", "zeros"}))->capture_default_str();
  cmd->add_option("--tokenizer-from", a->tokenizer_from, "Model directory or id whose tokenizer is copied (default: the bundled tiny-llama)")
      ->transform(model_argument());
  add_common_options(cmd, *opts);
  cmd->callback([=] {
    apply_common_options(*opts);
    SynthOptions o;
    try {
      o.shape = resolve_synth_shape(requested_shape(cmd, *a));
    } catch (const Error& e) {
      throw CLI::ValidationError(e.what());  // a shape the options do not make is a usage error (exit 2)
    }
    o.dtype = parse_dtype(a->dtype);
    o.max_shard_bytes = a->max_shard_bytes;
    o.seed = a->seed;
    o.init = a->init == "zeros" ? SynthInit::Zeros : SynthInit::Random;
    o.tokenizer_from = a->tokenizer_from;
    const SynthResult r = write_synthetic_model(o, a->output);
    const nlohmann::json j = result_json(r, *a);
    if (opts->json()) {
      print_json(j);
      return;
    }
    const ModelConfig& c = r.cfg;
    fmt::print("wrote          {}\n", r.output_dir);
    fmt::print("architecture   {}{}\n", arch_name(c.arch), a->preset.empty() ? "" : " (preset " + a->preset + ")");
    fmt::print("parameters     {} ({:.2f} B) in {} tensors, {} {}\n", r.n_params, double(r.n_params) / 1e9, r.n_tensors,
               a->dtype, a->init == "zeros" ? "zeros" : fmt::format("random, seed {}", a->seed));
    fmt::print("layers         {} x (hidden {}, heads {}/{} kv, head_dim {}, ffn {})\n", c.n_layers, c.hidden, c.n_heads,
               c.n_kv_heads, c.head_dim, c.is_moe() ? c.moe_ffn : c.ffn);
    if (c.is_moe()) fmt::print("experts        {} (top-{})\n", c.n_experts, c.n_experts_used);
    fmt::print("vocab          {}{} (tokenizer: {} tokens from {})\n", c.vocab, c.tie_embeddings ? ", tied" : "",
               r.tokenizer_tokens, r.tokenizer_from);
    fmt::print("size           {:.2f} GB in {} shard{} ({:.2f} GB on disk)\n", double(r.bytes) / 1e9, r.shards.size(),
               r.shards.size() == 1 ? "" : "s", double(r.disk_bytes) / 1e9);
    fmt::print("time           {:.2f} s ({:.0f} MB/s)\n", r.seconds, j["mb_per_s"].get<double>());
  });
}

}  // namespace llmq::cli
