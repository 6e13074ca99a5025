// llm-quantize quality tasks MODEL [QUANTIZED...] --tasks FILE.jsonl [--num-fewshot N] [--limit N]
// Multiple-choice accuracy (acc, acc_norm) as lm-evaluation-harness scores it, one column pair per model.
#include <fmt/format.h>

#include "../cli_common.h"
#include "eval/task_records.h"
#include "eval/task_scoring.h"
#include "io/model_locator.h"
#include "model/model_loader.h"
#include "util/progress.h"

namespace llmq::cli {

void register_quality_tasks(CLI::App* quality) {
  auto* cmd = quality->add_subcommand("tasks", "Multiple-choice task accuracy (acc, acc_norm) of one or more models, "
                                               "scored as lm-evaluation-harness does");
  struct Args {
    std::vector<std::string> models, tasks;
    int num_fewshot = 0;
    int64_t limit = 0;
  };
  auto a = std::make_shared<Args>();
  auto opts = std::make_shared<CommonOptions>();
  cmd->add_option("models", a->models, "Models compared (directories, files or Hugging Face ids); the first is the reference column")
      ->required()->expected(1, -1)->transform(model_argument());
  cmd->add_option("--tasks", a->tasks, "JSONL task file(s): generic, MMLU- or HellaSwag-style records (docs/quality.md)")
      ->required()->expected(1, -1);
  cmd->add_option("--num-fewshot", a->num_fewshot, "Few-shot examples before each record (the first of its task)")
      ->capture_default_str()->check(CLI::Range(0, 1000));
  cmd->add_option("--limit", a->limit, "Records evaluated per task, the first ones (0 = all)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  add_common_options(cmd, *opts);
  cmd->callback([a, opts] {
    apply_common_options(*opts);
    protect_run_inputs(a->models);
    protect_run_inputs(a->tasks);
    std::vector<TaskRecord> records;
    for (const std::string& f : a->tasks) {
      std::vector<TaskRecord> r = read_task_records(f);
      records.insert(records.end(), std::make_move_iterator(r.begin()), std::make_move_iterator(r.end()));
    }
    const TaskEvalOptions eo{.num_fewshot = a->num_fewshot, .limit = a->limit};
    const size_t n_eval = evaluated_records(records, a->limit).size();
    std::vector<std::string> names;
    std::vector<TaskEvalResult> results;
    nlohmann::json models = nlohmann::json::array();
    for (const std::string& path : a->models) {
      LoadedModel m = load_model(path, {.lazy = true});
      Transformer model(m.weights);
      names.push_back(model_short_name(path));
      Progress bar(names.back(), n_eval, true, "records");
      results.push_back(evaluate_tasks(model, *m.tokenizer, records, eo, [&](size_t, size_t, double acc) {
        bar.update(1, fmt::format("acc {:.4f}", acc));
      }));
      bar.finish();
      nlohmann::json j = results.back().to_json();
      j["model"] = path;
      j["name"] = names.back();
      j["format"] = m.format;
      j["dtype"] = m.dtype;
      models.push_back(j);
    }
    if (opts->json()) {
      print_json({{"task_files", a->tasks}, {"num_fewshot", a->num_fewshot}, {"limit", a->limit},
                  {"fewshot_sampler", "first_n"}, {"records", n_eval}, {"models", models}});
      return;
    }
    fmt::print("{}", task_accuracy_table(names, results));
    fmt::print("\n{} records, {}-shot; acc: most likely choice; acc_norm: most likely per byte of the choice; "
               "± one standard error\n", n_eval, a->num_fewshot);
  });
}

}  // namespace llmq::cli
