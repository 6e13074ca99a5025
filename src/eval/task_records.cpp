#include "eval/task_records.h"

#include <filesystem>
#include <fstream>
#include <map>

#include "util/error.h"

namespace llmq {

namespace {

bool py_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r') || (c >= '\x1c' && c <= '\x1f'); }

Error record_error(const std::string& where, const std::string& problem) { return file_error(where, problem); }

std::string string_field(const nlohmann::json& j, const char* key, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end()) throw record_error(where, fmt::format("\"{}\" is missing", key));
  if (!it->is_string()) throw record_error(where, fmt::format("\"{}\" must be a string", key));
  return it->get<std::string>();
}

std::vector<std::string> choices_field(const nlohmann::json& j, const char* key, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end()) throw record_error(where, fmt::format("\"{}\" is missing", key));
  if (!it->is_array() || it->size() < 2) throw record_error(where, fmt::format("\"{}\" must be an array of at least 2 strings", key));
  std::vector<std::string> out;
  for (const auto& c : *it) {
    if (!c.is_string()) throw record_error(where, fmt::format("\"{}\" must hold strings only", key));
    out.push_back(c.get<std::string>());
  }
  return out;
}

// The gold index: an integer, a string of digits (HellaSwag's "label"), or a
// letter A.. when `letters` (MMLU's "answer").
int gold_field(const nlohmann::json& j, const char* key, size_t n_choices, bool letters, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end()) throw record_error(where, fmt::format("\"{}\" is missing", key));
  long long g = -1;
  if (it->is_number_integer()) {
    g = it->get<long long>();
  } else if (it->is_string()) {
    const std::string s = it->get<std::string>();
    if (letters && s.size() == 1 && s[0] >= 'A' && s[0] <= 'Z') g = s[0] - 'A';
    else if (!s.empty() && s.size() < 10 && s.find_first_not_of("0123456789") == std::string::npos) g = std::stoll(s);
    else throw record_error(where, fmt::format("\"{}\" must be a choice index{}", key, letters ? " or a letter A.." : ""));
  } else {
    throw record_error(where, fmt::format("\"{}\" must be a choice index{}", key, letters ? " or a letter A.." : ""));
  }
  if (g < 0 || g >= (long long)n_choices)
    throw record_error(where, fmt::format("\"{}\" is {}, outside the {} choices", key, it->dump(), n_choices));
  return int(g);
}

std::string replace_all(std::string_view s, std::string_view from, std::string_view to) {
  std::string out;
  size_t pos = 0;
  for (size_t hit; (hit = s.find(from, pos)) != std::string_view::npos; pos = hit + from.size())
    out.append(s.substr(pos, hit - pos)).append(to);
  out.append(s.substr(pos));
  return out;
}

void parse_mmlu(const nlohmann::json& j, TaskRecord& r, const std::string& where) {
  r.style = TaskRecordStyle::Mmlu;
  const std::string question = string_field(j, "question", where);
  const std::vector<std::string> options = choices_field(j, "choices", where);
  if (options.size() > 26) throw record_error(where, "\"choices\" has more than 26 entries (letters A..Z)");
  r.gold = gold_field(j, "answer", options.size(), true, where);
  r.query = py_strip(question);
  for (size_t i = 0; i < options.size(); ++i) {
    const char letter = char('A' + i);
    r.query += fmt::format("\n{}. {}", letter, options[i]);
    r.choices.push_back(std::string(1, letter));
  }
  r.query += "\nAnswer:";
  if (j.contains("subject")) {
    const std::string subject = string_field(j, "subject", where);
    r.description = "The following are multiple choice questions (with answers) about " +
                    replace_all(subject, "_", " ") + ".\n\n";
    r.fewshot_group += "\n" + subject;
  }
}

void parse_hellaswag(const nlohmann::json& j, TaskRecord& r, const std::string& where) {
  r.style = TaskRecordStyle::Hellaswag;
  const std::string ctx = string_field(j, "ctx_a", where) + " " + py_capitalize(string_field(j, "ctx_b", where));
  r.query = hellaswag_preprocess(string_field(j, "activity_label", where) + ": " + ctx);
  for (const std::string& e : choices_field(j, "endings", where)) r.choices.push_back(hellaswag_preprocess(e));
  r.gold = gold_field(j, "label", r.choices.size(), false, where);
}

void parse_generic(const nlohmann::json& j, TaskRecord& r, const std::string& where) {
  r.style = TaskRecordStyle::Generic;
  r.query = string_field(j, j.contains("context") ? "context" : "query", where);
  r.choices = choices_field(j, "choices", where);
  if (!j.contains("gold") && !j.contains("answer")) throw record_error(where, "\"gold\" (or \"answer\") is missing");
  r.gold = gold_field(j, j.contains("gold") ? "gold" : "answer", r.choices.size(), false, where);
  if (j.contains("target_delimiter")) r.target_delimiter = string_field(j, "target_delimiter", where);
}

}  // namespace

const char* to_string(TaskRecordStyle style) {
  switch (style) {
    case TaskRecordStyle::Generic: return "generic";
    case TaskRecordStyle::Mmlu: return "mmlu";
    case TaskRecordStyle::Hellaswag: return "hellaswag";
  }
  return "?";
}

std::string py_strip(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && py_space(s[b])) ++b;
  while (e > b && py_space(s[e - 1])) --e;
  return std::string(s.substr(b, e - b));
}

std::string py_capitalize(std::string_view s) {
  std::string out(s);
  for (size_t i = 0; i < out.size(); ++i) {
    const char c = out[i];
    if (i == 0 && c >= 'a' && c <= 'z') out[i] = char(c - 'a' + 'A');
    else if (i > 0 && c >= 'A' && c <= 'Z') out[i] = char(c - 'A' + 'a');
  }
  return out;
}

std::string hellaswag_preprocess(std::string_view text) {
  const std::string s = replace_all(py_strip(text), " [title]", ". ");
  std::string dropped;  // re.sub("\\[.*?\\]", "", s): shortest bracketed run, '.' not matching a newline
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '[') {
      const size_t close = s.find_first_of("]\n", i + 1);
      if (close != std::string::npos && s[close] == ']') {
        i = close;
        continue;
      }
    }
    dropped += s[i];
  }
  return replace_all(dropped, "  ", " ");
}

TaskRecord parse_task_record(const nlohmann::json& j, const std::string& default_task, const std::string& where) {
  if (!j.is_object()) throw record_error(where, "a record must be a JSON object");
  TaskRecord r;
  r.source = where;
  r.task = j.contains("task") ? string_field(j, "task", where) : default_task;
  if (r.task.empty()) throw record_error(where, "\"task\" is empty");
  r.fewshot_group = r.task;
  if (j.contains("endings")) parse_hellaswag(j, r, where);
  else if (j.contains("question")) parse_mmlu(j, r, where);
  else if (j.contains("context") || j.contains("query")) parse_generic(j, r, where);
  else
    throw record_error(where, "not a task record: expected \"context\"/\"query\" + \"choices\" + \"gold\", MMLU's "
                              "\"question\" + \"choices\" + \"answer\", or HellaSwag's \"ctx_a\" + \"ctx_b\" + "
                              "\"activity_label\" + \"endings\" + \"label\"");
  return r;
}

std::vector<TaskRecord> read_task_records(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw file_error(path, "cannot open task file");
  const std::string stem = std::filesystem::path(path).stem().string();
  std::vector<TaskRecord> out;
  std::string line;
  for (int64_t n = 1; std::getline(f, line); ++n) {
    if (n == 1 && line.compare(0, 3, "\xEF\xBB\xBF") == 0) line.erase(0, 3);  // UTF-8 byte order mark
    if (py_strip(line).empty()) continue;
    const std::string where = fmt::format("{}:{}", path, n);
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      std::string msg = e.what();
      if (size_t k = msg.find("] "); k != std::string::npos) msg.erase(0, k + 2);  // drop "[json.exception...]"
      throw record_error(where, "not valid JSON (" + msg + ")");
    }
    out.push_back(parse_task_record(j, stem, where));
  }
  if (out.empty()) throw file_error(path, "holds no task records");
  return out;
}

std::vector<std::vector<size_t>> fewshot_examples(const std::vector<TaskRecord>& records, int n) {
  std::vector<std::vector<size_t>> out(records.size());
  if (n <= 0) return out;
  std::map<std::string, std::vector<size_t>> first;  // group -> its first n + 1 records
  for (size_t i = 0; i < records.size(); ++i) {
    std::vector<size_t>& g = first[records[i].fewshot_group];
    if (g.size() < size_t(n) + 1) g.push_back(i);
  }
  for (size_t i = 0; i < records.size(); ++i)
    for (size_t k : first[records[i].fewshot_group])
      if (k != i && out[i].size() < size_t(n)) out[i].push_back(k);
  return out;
}

std::string task_context(const std::vector<TaskRecord>& records, size_t index, const std::vector<size_t>& examples) {
  const TaskRecord& r = records[index];
  std::string ctx = r.description;
  for (size_t k : examples) {
    const TaskRecord& e = records[k];
    ctx += e.query + e.target_delimiter + e.choices[size_t(e.gold)] + "\n\n";
  }
  return ctx + r.query;
}

std::vector<std::string> task_continuations(const TaskRecord& r) {
  std::vector<std::string> out;
  for (const std::string& c : r.choices) out.push_back(r.target_delimiter + c);
  return out;
}

}  // namespace llmq
