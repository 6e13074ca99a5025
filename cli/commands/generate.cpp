// llm-quantize generate MODEL --prompt TEXT [-n N]: greedy decoding.
#include <cstdio>

#include <fmt/format.h>

#include "../cli_common.h"
#include "eval/generate.h"
#include "model/model_loader.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace llmq::cli {

void register_generate(CLI::App& app) {
  auto* cmd = app.add_subcommand("generate", "Greedy text generation from a prompt");
  auto opts = std::make_shared<CommonOptions>();
  struct Args {
    std::string model, prompt;
    int64_t n = 32;
    bool add_special = false;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("model", a->model, "Model directory, .gguf file or Hugging Face id")->required()->transform(model_argument());
  cmd->add_option("-p,--prompt", a->prompt, "Prompt text")->required();
  cmd->add_option("-n,--n-predict", a->n, "Tokens to generate")->capture_default_str()->check(CLI::Range(1, 1 << 20));
  cmd->add_flag("--add-special", a->add_special, "Add BOS/EOS as the tokenizer's post-processor says");
  add_common_options(cmd, *opts);
  cmd->callback([=] {
    apply_common_options(*opts);
    protect_run_inputs({a->model});
    LoadedModel m = load_model(a->model, {.lazy = true});
    Transformer model(m.weights);
    std::vector<int32_t> prompt = m.tokenizer->encode(a->prompt, a->add_special);
    if (prompt.empty()) fail("the prompt encodes to no tokens");
    GenerateOptions g;
    g.max_new_tokens = a->n;
    g.stop_token = m.tokenizer->eos_id();
    if (!opts->json()) {
      std::fputs(a->prompt.c_str(), stdout);
      std::fflush(stdout);
    }
    // Stream text as it comes: decode the growing sequence and print what is new.
    std::vector<int32_t> all = prompt;
    std::string shown = m.tokenizer->decode(prompt);
    GenerateTimings tm;
    std::vector<int32_t> out = generate_greedy(model, prompt, g, [&](int32_t id) {
      all.push_back(id);
      if (opts->json()) return;
      std::string now = m.tokenizer->decode(all);
      if (now.size() > shown.size() && now.compare(0, shown.size(), shown) == 0) {
        std::fputs(now.c_str() + shown.size(), stdout);
        std::fflush(stdout);
        shown = now;
      }
    }, &tm);
    std::string text = m.tokenizer->decode(out);
    if (opts->json()) {
      print_json({{"model", a->model}, {"prompt", a->prompt}, {"prompt_ids", prompt}, {"generated_ids", out},
                  {"ids", all}, {"text", m.tokenizer->decode(all)}, {"generated_text", text},
                  {"timings",
                   {{"prompt_tokens", tm.prompt_tokens}, {"prompt_seconds", tm.prompt_seconds},
                    {"prompt_tokens_per_second", tm.prompt_tokens_per_second()}, {"decoded_tokens", tm.decoded_tokens},
                    {"decode_seconds", tm.decode_seconds}, {"decode_tokens_per_second", tm.decode_tokens_per_second()}}}});
    } else {
      std::fputs("\n", stdout);
      if (!opts->quiet)
        std::fprintf(stderr, "prompt: %lld tokens, %.1f tok/s; decode: %lld tokens, %.1f tok/s\n",
                     (long long)tm.prompt_tokens, tm.prompt_tokens_per_second(), (long long)tm.decoded_tokens,
                     tm.decode_tokens_per_second());
    }
  });
}

}  // namespace llmq::cli
