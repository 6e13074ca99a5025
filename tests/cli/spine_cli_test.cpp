// The CLI contract of the spine commands: JSON on stdout, exit codes, and
// one clear line naming the file for every kind of bad input.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "common/fixtures.h"
#include "common/run_cli.h"

using namespace llmq::test;
namespace fs = std::filesystem;

static const std::string kTiny = model_dir("tiny-llama");

TEST(Cli, InspectJson) {
  auto r = run_cli("inspect " + q(kTiny) + " --format json");
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["architecture"], "llama");
  EXPECT_EQ(j["parameters"], reference("tiny-llama")["params"]);
  EXPECT_EQ(j["dtype"], "bf16");
  EXPECT_EQ(j["tensors"], 4 * 9 + 3);
}

TEST(Cli, GenerateJsonMatchesReference) {
  auto ref = reference("tiny-llama");
  auto r = run_cli("generate " + q(kTiny) + " --prompt 'The kernel' -n 24 --format json");
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["ids"], ref["greedy_ids"]);
  EXPECT_EQ(j["text"], ref["greedy_text"]);
}

TEST(Cli, PerplexityJson) {
  auto r = run_cli("quality perplexity " + q(kTiny) + " --data " + q(data_file("wikitext2_test.txt")) +
                   " --chunks 2 --ctx 128 --format json");
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["chunks"], 2);
  EXPECT_EQ(j["tokens_scored"], 128);
  EXPECT_GT(j["perplexity"].get<double>(), 5.0);
  EXPECT_LT(j["perplexity"].get<double>(), 200.0);
  EXPECT_GT(j["perplexity_stderr"].get<double>(), 0.0);
}

TEST(Cli, UsageErrorsExit2) {
  EXPECT_EQ(run_cli("").code, 2);
  EXPECT_EQ(run_cli("inspect").code, 2);
  EXPECT_EQ(run_cli("frobnicate x").code, 2);
  EXPECT_EQ(run_cli("inspect " + q(kTiny) + " --threads -5").code, 2);  // 0 (all cores) .. 1024
  EXPECT_EQ(run_cli("inspect " + q(kTiny) + " --threads 100000").code, 2);
  EXPECT_EQ(run_cli("quantize " + q(kTiny) + " gguf -q Q8_0 --threads 2000").code, 2);
  EXPECT_EQ(run_cli("quality perplexity " + q(kTiny) + " --data x --ctx abc").code, 2);
  auto r = run_cli("inspect --format json");
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(nlohmann::json::accept(r.out)) << r.out;
}

// Every bad input: exit 1, one line on stderr naming the file and the problem.
static void expect_one_line_error(const CliResult& r, const std::string& must_contain) {
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find(must_contain), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST(Cli, BadInputsGiveOneClearLine) {
  TempDir d;
  expect_one_line_error(run_cli("inspect " + q(d / "missing")), d / "missing");

  // Copy of tiny-llama with corruptions applied one at a time.
  auto fresh = [&](const std::string& name) {
    const std::string dst = d / name;
    fs::create_directories(dst);
    for (auto& e : fs::directory_iterator(kTiny)) fs::copy_file(e.path(), dst + "/" + e.path().filename().string());
    for (auto& e : fs::directory_iterator(dst)) fs::permissions(e.path(), fs::perms::owner_write, fs::perm_options::add);
    return dst;
  };
  {
    auto m = fresh("truncated");
    fs::resize_file(m + "/model.safetensors", fs::file_size(m + "/model.safetensors") / 2);
    expect_one_line_error(run_cli("inspect " + q(m)), m + "/model.safetensors");
  }
  {
    auto m = fresh("garbage");
    std::ofstream(m + "/model.safetensors", std::ios::binary | std::ios::trunc) << "\xff\xff\xff\xff\xff\xff\xff\x7fgarbage";
    expect_one_line_error(run_cli("inspect " + q(m)), m + "/model.safetensors");
  }
  {
    auto m = fresh("unknown-arch");
    auto cfg = nlohmann::json::parse(read_file(m + "/config.json"));
    cfg["model_type"] = "gpt_neox";
    std::ofstream(m + "/config.json", std::ios::trunc) << cfg.dump();
    expect_one_line_error(run_cli("inspect " + q(m)), "unknown architecture");
  }
  {
    auto m = fresh("wrong-shape");
    auto cfg = nlohmann::json::parse(read_file(m + "/config.json"));
    cfg["intermediate_size"] = 1024;
    std::ofstream(m + "/config.json", std::ios::trunc) << cfg.dump();
    expect_one_line_error(run_cli("inspect " + q(m)), "expected [1024, 256]");
  }
  {
    auto m = fresh("no-tokenizer");
    fs::remove(m + "/tokenizer.json");
    fs::remove(m + "/tokenizer.model");
    auto r = run_cli("generate " + q(m) + " --prompt hi");
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("tokenizer"), std::string::npos) << r.err;
  }
  {
    const std::string empty = d / "empty.txt";
    std::ofstream(empty).flush();
    expect_one_line_error(run_cli("quality perplexity " + q(kTiny) + " --data " + q(empty)), empty + ": data file is empty");
    expect_one_line_error(run_cli("quality perplexity " + q(kTiny) + " --data " + q(d / "nodata.txt")), d / "nodata.txt");
  }
}
