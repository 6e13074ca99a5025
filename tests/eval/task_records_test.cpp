// Task records: parsing the three JSONL formats and rendering them as
// lm-evaluation-harness does (expected strings worked out by hand from
// lm-eval's mmlu template and hellaswag preprocess).
#include <gtest/gtest.h>

#include "common/fixtures.h"
#include "eval/task_records.h"

using namespace llmq;

namespace {

const std::string kTasks = std::string(LLMQ_SOURCE_DIR) + "/tests/eval/data/tasks.jsonl";

TaskRecord parse(const std::string& json, const std::string& task = "file") {
  return parse_task_record(nlohmann::json::parse(json), task, "t.jsonl:1");
}

}  // namespace

TEST(TaskRecords, MmluRendering) {
  TaskRecord r = parse(R"({"question": "  What is 2 + 2? ", "choices": ["3", "4", "5", "22"], "answer": "B",
                           "subject": "elementary_mathematics"})");
  EXPECT_EQ(r.style, TaskRecordStyle::Mmlu);
  EXPECT_EQ(r.task, "file");
  EXPECT_EQ(r.query, "What is 2 + 2?\nA. 3\nB. 4\nC. 5\nD. 22\nAnswer:");
  EXPECT_EQ(r.description, "The following are multiple choice questions (with answers) about elementary mathematics.\n\n");
  EXPECT_EQ(r.gold, 1);
  EXPECT_EQ(task_continuations(r), (std::vector<std::string>{" A", " B", " C", " D"}));
  EXPECT_EQ(parse(R"({"question": "q", "choices": ["a", "b", "c", "d"], "answer": 3})").gold, 3);
  EXPECT_EQ(parse(R"({"question": "q", "choices": ["a", "b", "c", "d"], "answer": 3})").description, "");
}

TEST(TaskRecords, HellaswagRendering) {
  TaskRecord r = parse(R"({"activity_label": "Removing ice from car", "ctx_a": "Then, the man writes over the snow covering the window of a car, and a woman wearing winter clothes smiles.",
                           "ctx_b": "then", "endings": [", the man adds wax to the windshield and cuts it.", ", the man continues removing the snow on his car."],
                           "label": "1"})");
  EXPECT_EQ(r.style, TaskRecordStyle::Hellaswag);
  EXPECT_EQ(r.query, "Removing ice from car: Then, the man writes over the snow covering the window of a car, and a woman "
                     "wearing winter clothes smiles. Then");
  EXPECT_EQ(r.gold, 1);
  EXPECT_EQ(task_continuations(r)[0], " , the man adds wax to the windshield and cuts it.");

  // WikiHow brackets: " [title]" -> ". ", [..] dropped, double spaces halved; ctx_b.capitalize() lower-cases the rest.
  TaskRecord w = parse(R"({"activity_label": "Home and Garden", "ctx_a": "[header] How to grow tomatoes [title] Pick a sunny spot.",
                           "ctx_b": "[step] Tomatoes need SIX hours of sun.",
                           "endings": ["[step] Water them daily.", "Plant them  in  shade.", "[title] Sing to them.", "Paint them blue [substeps] twice."],
                           "label": 0})");
  EXPECT_EQ(w.query, "Home and Garden: How to grow tomatoes. Pick a sunny spot. tomatoes need six hours of sun.");
  EXPECT_EQ(w.choices, (std::vector<std::string>{" Water them daily.", "Plant them in shade.", " Sing to them.", "Paint them blue twice."}));
  EXPECT_EQ(task_continuations(w)[0], "  Water them daily.");
}

TEST(TaskRecords, PythonStringHelpers) {
  EXPECT_EQ(py_strip(" \t\nab c\r\n\x0b"), "ab c");
  EXPECT_EQ(py_capitalize("hELLO wORLD"), "Hello world");
  EXPECT_EQ(py_capitalize("[step] ABC"), "[step] abc");
  EXPECT_EQ(py_capitalize(""), "");
  // A bracket does not close across a newline; "   " halves to "  " (one pass).
  EXPECT_EQ(hellaswag_preprocess("a [b\nc] d [e]f   g"), "a [b\nc] d f  g");
  EXPECT_EQ(hellaswag_preprocess("x [a[b] y] z ["), "x y] z [");
}

TEST(TaskRecords, GenericRecordsAndFewshotContext) {
  TaskRecord g = parse(R"({"context": "The capital of France is", "choices": ["Paris", "London"], "gold": 0, "task": "capitals"})");
  EXPECT_EQ(g.style, TaskRecordStyle::Generic);
  EXPECT_EQ(g.task, "capitals");
  EXPECT_EQ(task_continuations(g), (std::vector<std::string>{" Paris", " London"}));
  TaskRecord d = parse(R"({"query": "2+2=", "choices": ["4", "5"], "answer": 0, "target_delimiter": ""})");
  EXPECT_EQ(task_continuations(d), (std::vector<std::string>{"4", "5"}));

  std::vector<TaskRecord> recs = read_task_records(kTasks);
  ASSERT_EQ(recs.size(), 10u);
  EXPECT_EQ(recs[8].task, "tasks");  // no "task" field: the file's stem
  EXPECT_EQ(recs[8].source, kTasks + ":9");

  // Few-shot: the first n records of the same task, the record itself skipped.
  auto ex = fewshot_examples(recs, 2);
  EXPECT_EQ(ex[0], (std::vector<size_t>{1, 2}));
  EXPECT_EQ(ex[1], (std::vector<size_t>{0, 2}));
  EXPECT_EQ(ex[2], (std::vector<size_t>{0, 1}));
  EXPECT_EQ(ex[6], (std::vector<size_t>{7}));  // "capitals" has two records
  EXPECT_EQ(ex[9], (std::vector<size_t>{8}));
  EXPECT_TRUE(fewshot_examples(recs, 0)[0].empty());

  EXPECT_EQ(task_context(recs, 7, {6}), "The capital of France is Paris\n\nThe capital of Germany is");
  EXPECT_EQ(task_context(recs, 1, {0}),
            "The following are multiple choice questions (with answers) about elementary mathematics.\n\n"
            "What is 2 + 2?\nA. 3\nB. 4\nC. 5\nD. 22\nAnswer: B\n\n"
            "What is 3 times 3?\nA. 6\nB. 9\nC. 33\nD. 1\nAnswer:");
  EXPECT_EQ(task_context(recs, 5, {}), "Baking cookies: A woman puts flour in a bowl. She");
}

TEST(TaskRecords, BadRecordsNameFileAndLine) {
  test::TempDir d;
  const std::string f = d / "bad.jsonl";
  auto check = [&](const std::string& line, const std::string& want) {
    test::write_file(f, R"({"context": "x", "choices": ["a", "b"], "gold": 1})" "\n\n" + line + "\n");
    const std::string e = test::thrown_message([&] { read_task_records(f); });
    EXPECT_EQ(e.rfind(f + ":3: ", 0), 0u) << e;
    EXPECT_NE(e.find(want), std::string::npos) << e;
    EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  };
  check("{not json", "not valid JSON");
  check("[1, 2]", "must be a JSON object");
  check(R"({"text": "x"})", "not a task record");
  check(R"({"context": "x", "choices": ["a", "b"], "gold": 2})", "\"gold\" is 2, outside the 2 choices");
  check(R"({"context": "x", "choices": ["a"], "gold": 0})", "at least 2 strings");
  check(R"({"question": "x", "choices": ["a", "b"], "answer": "E"})", "\"answer\" is \"E\", outside the 2 choices");
  check(R"({"question": "x", "choices": ["a", "b"], "answer": 1.5})", "must be a choice index or a letter");
  check(R"({"ctx_a": "x", "ctx_b": "y", "endings": ["a", "b"], "label": 0})", "\"activity_label\" is missing");
  check(R"({"context": "x", "choices": ["a", 3], "gold": 0})", "strings only");
  test::write_file(f, "\n");
  EXPECT_NE(test::thrown_message([&] { read_task_records(f); }).find("holds no task records"), std::string::npos);
  EXPECT_NE(test::thrown_message([&] { read_task_records(d / "missing.jsonl"); }).find("cannot open"), std::string::npos);
}
