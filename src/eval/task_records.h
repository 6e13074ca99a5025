#pragma once
// Multiple-choice task records read from JSONL files and rendered as
// lm-evaluation-harness renders its multiple_choice tasks, so accuracies are
// comparable with lm-eval's (docs/quality.md, "Task accuracy").
//
// Accepted records (one JSON object per line; "task" optional everywhere,
// default the file's stem):
//   generic:   {"context"|"query": str, "choices": [str...], "gold"|"answer": int,
//               "target_delimiter"?: str (default " ")}
//   MMLU:      {"question": str, "choices": [str...], "answer": int | "A".., "subject"?: str}
//   HellaSwag: {"activity_label", "ctx_a", "ctx_b": str, "endings": [str...], "label": int | "0"..}
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace llmq {

enum class TaskRecordStyle { Generic, Mmlu, Hellaswag };
const char* to_string(TaskRecordStyle style);

struct TaskRecord {
  std::string task;            // the "task" field, else the file's stem
  TaskRecordStyle style = TaskRecordStyle::Generic;
  std::string fewshot_group;   // few-shot examples come from the same group: the task (and subject, MMLU)
  std::string description;     // once before the few-shot examples (MMLU: the subject line); may be empty
  std::string query;           // lm-eval's doc_to_text
  std::vector<std::string> choices;  // doc_to_choice, without the target delimiter
  std::string target_delimiter = " ";
  int gold = 0;
  std::string source;          // "file:line", for messages
};

// One JSON object as a record; `where` ("file:line") prefixes every error.
// Throws llmq::Error on a record that fits none of the formats.
TaskRecord parse_task_record(const nlohmann::json& j, const std::string& default_task, const std::string& where);

// Every record of a JSONL file (blank lines skipped), task defaulting to the
// file's stem. Throws llmq::Error "file:line: problem" on the first bad line.
std::vector<TaskRecord> read_task_records(const std::string& path);

// Python's str.strip() (ASCII whitespace and \x1c-\x1f) and str.capitalize()
// (first byte upper-cased, the rest lower-cased; ASCII letters only).
std::string py_strip(std::string_view s);
std::string py_capitalize(std::string_view s);
// HellaSwag's preprocess (lm-eval tasks/hellaswag/utils.py): strip, " [title]" -> ". ",
// drop "[...]" (no newline inside), then "  " -> " " once over the text.
std::string hellaswag_preprocess(std::string_view text);

// For every record, the indices of its few-shot examples: the first n records
// of its few-shot group in file order, itself excluded (lm-eval's first_n
// sampler drawing from the evaluated split). Fewer when the group is smaller.
std::vector<std::vector<size_t>> fewshot_examples(const std::vector<TaskRecord>& records, int n);

// The context of records[index] after its examples: description, then each
// example as query + delimiter + gold choice + "\n\n", then the query.
std::string task_context(const std::vector<TaskRecord>& records, size_t index, const std::vector<size_t>& examples);

// The continuations scored against the context: delimiter + choice.
std::vector<std::string> task_continuations(const TaskRecord& r);

}  // namespace llmq
