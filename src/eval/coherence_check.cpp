#include "eval/coherence_check.h"

#include <cmath>

#include <fmt/format.h>

#include "eval/generate.h"
#include "eval/perplexity.h"
#include "model/transformer.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace llmq {

const std::vector<std::string>& default_coherence_prompts() {
  // A sentence of context each: with no context at all small models loop
  // on their own, which would hide a broken quantization.
  static const std::vector<std::string> prompts = {
      "The function returns a list of the names of the files in the directory. If the path does not exist,",
      "The kernel keeps a list of the devices that are attached to the system. When a new device is added,",
      "The river rises in the mountains to the north of the city and flows south through a wide valley. In the "
      "nineteenth century",
      "She opened the door and looked out at the garden. The rain had stopped, and",
      "The committee met in the spring to discuss the new plan for the school. After a long debate,",
  };
  return prompts;
}

// Written for this check (so it is in no calibration or evaluation set).
const std::string& default_heldout_text() {
  static const std::string text =
      "The old harbour town sits where the river meets the sea. For centuries its people lived from fishing and "
      "from the trade in salt, wool and timber that passed through its narrow streets. In the nineteenth century a "
      "railway line reached the town, and with it came visitors from the cities inland, who walked along the "
      "cliffs, bathed in the cold water and wrote letters home about the light on the bay. A small museum near the "
      "church now keeps the tools of the boat builders, a collection of maps and the logbook of a ship that was "
      "lost in a winter storm. Each summer the town holds a festival with music, boat races and a market on the "
      "quay. Many of the houses have been turned into shops and cafes, but the fishing boats still leave the "
      "harbour before dawn, and in the evening the gulls follow them back as they return with their catch.";
  return text;
}

namespace {

std::vector<int32_t> generate(const Transformer& model, const Tokenizer& tok, const std::string& prompt,
                              int64_t max_new_tokens) {
  GenerateOptions g;
  g.max_new_tokens = max_new_tokens;
  g.stop_token = tok.eos_id();
  return generate_greedy(model, tok.encode(prompt, false), g);
}

// Every token of the text scored in one window (after the first).
double heldout_ppl(const Transformer& model, const std::vector<int32_t>& tokens) {
  PerplexityOptions o;
  o.ctx = int64_t(tokens.size()) - 1;
  o.chunks = 1;
  o.score_from = 0;
  return perplexity(model, tokens, o).ppl;
}

}  // namespace

CoherenceReport check_coherence(const LoadedModel& original, const LoadedModel& quantized,
                                const CoherenceOptions& opt) {
  if (original.weights->cfg.vocab != quantized.weights->cfg.vocab)
    fail("coherence check: the quantized model has {} tokens, the original {}", quantized.weights->cfg.vocab,
         original.weights->cfg.vocab);
  const Tokenizer& tok = *original.tokenizer;
  const Transformer a(original.weights), b(quantized.weights);
  CoherenceReport r;

  int usable = 0, broken = 0;
  for (const std::string& prompt : opt.prompts.empty() ? default_coherence_prompts() : opt.prompts) {
    PromptCheck c;
    c.prompt = prompt;
    const auto ta = generate(a, tok, prompt, opt.max_new_tokens), tb = generate(b, tok, prompt, opt.max_new_tokens);
    c.original_text = tok.decode(ta);
    c.quantized_text = tok.decode(tb);
    c.original_problem = describe_degeneracy(repetition_stats(ta));
    c.quantized_problem = describe_degeneracy(repetition_stats(tb));
    usable += c.original_problem.empty();
    broken += c.broken();
    r.prompts.push_back(std::move(c));
  }
  if (broken > 0 && 2 * broken >= usable)
    for (const PromptCheck& c : r.prompts)
      if (c.broken()) r.failures.push_back(fmt::format("\"{}\" -> {}", c.prompt, c.quantized_problem));

  const std::vector<int32_t> text = tok.encode(opt.heldout_text.empty() ? default_heldout_text() : opt.heldout_text, false);
  if (text.size() < 16) fail("coherence check: the held-out text has only {} tokens", text.size());
  r.heldout_tokens = int64_t(text.size());
  r.ppl_original = heldout_ppl(a, text);
  r.ppl_quantized = heldout_ppl(b, text);
  if (!(r.ppl_quantized <= opt.max_ppl_ratio * r.ppl_original))  // also catches NaN
    r.failures.push_back(fmt::format("held-out perplexity {:.2f} against {:.2f} for the original ({:.2f}x, limit {:.2f}x)",
                                     r.ppl_quantized, r.ppl_original, r.ppl_quantized / r.ppl_original,
                                     opt.max_ppl_ratio));
  return r;
}

}  // namespace llmq
