// llm-quantize inspect MODEL: architecture, tensor count, parameters, dtype, size.
#include <fmt/format.h>

#include "../cli_common.h"
#include "model/model_loader.h"
#include "model/weights.h"
#include "tokenizer/tokenizer.h"

namespace llmq::cli {

void register_inspect(CLI::App& app) {
  auto* cmd = app.add_subcommand("inspect", "Show a model's architecture, size and storage type");
  auto opts = std::make_shared<CommonOptions>();
  auto model = std::make_shared<std::string>();
  cmd->add_option("model", *model, "Model directory (Hugging Face), .gguf file or Hugging Face id in the local cache")
      ->required()->transform(model_argument());
  add_common_options(cmd, *opts);
  cmd->callback([=] {
    apply_common_options(*opts);
    LoadedModel m = load_model(*model, {.lazy = true});  // headers and vectors only for HF and GGUF
    const ModelConfig& c = m.weights->cfg;
    int64_t n_tensors = int64_t(named_tensors(*m.weights).size());
    nlohmann::json j = {
        {"model", m.path}, {"format", m.format}, {"architecture", arch_name(c.arch)}, {"dtype", m.dtype},
        {"tensors", n_tensors}, {"parameters", m.n_params}, {"size_bytes", m.file_bytes},
        {"bits_per_weight", m.n_params ? double(m.file_bytes) * 8.0 / double(m.n_params) : 0.0},
        {"hidden_size", c.hidden}, {"layers", c.n_layers}, {"attention_heads", c.n_heads},
        {"kv_heads", c.n_kv_heads}, {"head_dim", c.head_dim}, {"intermediate_size", c.ffn},
        {"vocab_size", c.vocab}, {"tied_embeddings", c.tie_embeddings}, {"rope_theta", c.rope_theta},
        {"experts", c.n_experts}, {"experts_per_token", c.n_experts_used}};
    if (opts->json()) {
      print_json(j);
      return;
    }
    fmt::print("model          {}\n", m.path);
    fmt::print("format         {} ({})\n", m.format, m.dtype);
    fmt::print("architecture   {}\n", arch_name(c.arch));
    fmt::print("parameters     {} ({:.2f} M)\n", m.n_params, double(m.n_params) / 1e6);
    fmt::print("tensors        {}\n", n_tensors);
    fmt::print("size           {:.2f} MiB ({:.2f} bits/weight)\n", double(m.file_bytes) / 1048576.0,
               j["bits_per_weight"].get<double>());
    fmt::print("layers         {} x (hidden {}, heads {}/{} kv, head_dim {}, ffn {})\n", c.n_layers, c.hidden,
               c.n_heads, c.n_kv_heads, c.head_dim, c.is_moe() ? c.moe_ffn : c.ffn);
    if (c.is_moe()) fmt::print("experts        {} (top-{})\n", c.n_experts, c.n_experts_used);
    fmt::print("vocab          {}{}\n", c.vocab, c.tie_embeddings ? " (tied embeddings)" : "");
  });
}

}  // namespace llmq::cli
