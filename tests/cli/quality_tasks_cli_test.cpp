// `quality tasks`: multiple-choice accuracy of several models from JSONL task
// files, as a table or JSON; bad records are one line naming file:line.
#include <gtest/gtest.h>

#include "common/fixtures.h"
#include "common/run_cli.h"

using namespace llmq::test;

namespace {

const std::string kTiny = model_dir("tiny-llama");
const std::string kTasks = std::string(LLMQ_SOURCE_DIR) + "/tests/eval/data/tasks.jsonl";

}  // namespace

TEST(QualityTasksCli, ModelAgainstItselfJson) {
  auto r = run_cli("quality tasks " + q(kTiny) + " " + q(kTiny) + " --tasks " + q(kTasks) +
                   " --num-fewshot 1 --limit 2 --format json");
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["num_fewshot"], 1);
  EXPECT_EQ(j["records"], 8);
  ASSERT_EQ(j["models"].size(), 2u);
  const auto& a = j["models"][0];
  const auto& b = j["models"][1];
  EXPECT_EQ(a["name"], "tiny-llama");
  EXPECT_EQ(a["tasks"].size(), 4u);
  EXPECT_EQ(a["tasks"]["mmlu_math"]["n"], 2);
  EXPECT_EQ(a["overall"]["n"], 8);
  EXPECT_EQ(a["tasks"], b["tasks"]);  // the same model: identical accuracies
  EXPECT_EQ(a["overall"], b["overall"]);
  const double acc = a["overall"]["acc"].get<double>();
  EXPECT_GE(acc, 0.0);
  EXPECT_LE(acc, 1.0);
}

TEST(QualityTasksCli, TextTableAndBadRecords) {
  auto r = run_cli("quality tasks " + q(kTiny) + " --tasks " + q(kTasks) + " --limit 1 --quiet");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("| task "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("tiny-llama acc_norm"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("| hellaswag "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("| overall "), std::string::npos) << r.out;

  TempDir d;
  const std::string bad = d / "bad.jsonl";
  write_file(bad, R"({"context": "x", "choices": ["a", "b"], "gold": 0})" "\n" R"({"context": "x", "choices": ["a", "b"]})" "\n");
  r = run_cli("quality tasks " + q(kTiny) + " --tasks " + q(bad));
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "error: " + bad + ":2: \"gold\" (or \"answer\") is missing\n");
}
