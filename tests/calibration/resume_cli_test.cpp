// `analyze` killed with SIGKILL mid-run resumes from its checkpoint and
// writes the same bytes as an uninterrupted run.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/run_cli.h"

namespace llmq {
namespace {

namespace fs = std::filesystem;
using test::q;
using test::run_cli;

std::vector<std::string> analyze_args(const std::string& data, const std::string& out, const std::string& ckpt,
                                      const std::string& seed = "3") {
  return {"analyze", test::model_dir("tiny-llama"), "--calibration-data", data, "--calibration-samples", "48",
          "--ctx", "64", "--seed", seed, "--checkpoint-every", "1", "--identify-super-weights",
          "-o", out, "--resume", ckpt, "-q", "-t", "1"};
}

std::string joined(const std::vector<std::string>& args) {
  std::string s;
  for (const auto& a : args) {
    s += ' ';
    s += q(a);
  }
  return s;
}

// Starts the CLI, waits for its first checkpoint, kills it with SIGKILL.
// Returns false if the run finished before a checkpoint could be caught.
bool start_and_kill(const std::vector<std::string>& args, const std::string& ckpt_file, const std::string& out) {
  const pid_t pid = fork();
  if (pid == 0) {
    const int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 1);
    dup2(devnull, 2);
    std::vector<char*> argv{const_cast<char*>(LLMQ_CLI_PATH)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(LLMQ_CLI_PATH, argv.data());
    _exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  bool caught = false;
  while (std::chrono::steady_clock::now() < deadline) {
    if (fs::exists(ckpt_file)) {
      caught = true;
      break;
    }
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) return false;  // ended on its own
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  return caught && WIFSIGNALED(status) && !fs::exists(out);
}

TEST(AnalyzeResume, KilledRunResumesToIdenticalOutput) {
  test::TempDir d;
  {  // ~25 KB of the shared calibration text: enough for 48 windows of 64 tokens
    std::string text = test::read_file(test::data_file("calibration.txt")).substr(0, 25000);
    std::ofstream(d / "calib.txt", std::ios::binary) << text;
  }
  const std::string data = d / "calib.txt";

  const test::CliResult full = run_cli(joined(analyze_args(data, d / "full.imatrix", d / "ckpt-full")));
  ASSERT_EQ(full.code, 0) << full.err;
  EXPECT_FALSE(fs::exists(d / "ckpt-full")) << "checkpoint folder left behind after success";

  const auto args = analyze_args(data, d / "resumed.imatrix", d / "ckpt");
  const std::string ckpt_file = d / "ckpt/analyze.ckpt.gguf";
  ASSERT_TRUE(start_and_kill(args, ckpt_file, d / "resumed.imatrix")) << "could not interrupt the run mid-way";
  ASSERT_TRUE(fs::exists(ckpt_file));

  // A checkpoint from another configuration is refused, not silently mixed in.
  const test::CliResult other = run_cli(joined(analyze_args(data, d / "resumed.imatrix", d / "ckpt", "4")));
  EXPECT_EQ(other.code, 1);
  EXPECT_NE(other.err.find("different run"), std::string::npos) << other.err;

  // A flipped byte in the checkpoint's data is caught, never resumed into the imatrix.
  {
    const std::string good = test::read_file(ckpt_file);
    std::string bad = good;
    bad[bad.size() * 3 / 4] ^= 0x10;  // inside the collectors' arrays (the header is a few hundred bytes)
    std::ofstream(ckpt_file, std::ios::binary | std::ios::trunc) << bad;
    const test::CliResult damaged = run_cli(joined(args));
    EXPECT_EQ(damaged.code, 1);
    EXPECT_NE(damaged.err.find("damaged"), std::string::npos) << damaged.err;
    std::ofstream(ckpt_file, std::ios::binary | std::ios::trunc) << good;
  }

  const test::CliResult resumed = run_cli(joined(args) + " --format json");
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  const nlohmann::json j = nlohmann::json::parse(resumed.out);
  EXPECT_GT(j["resumed_samples"].get<int64_t>(), 0);
  EXPECT_LT(j["resumed_samples"].get<int64_t>(), 48);
  EXPECT_EQ(j["samples"], 48);

  const std::string a = test::read_file(d / "full.imatrix"), b = test::read_file(d / "resumed.imatrix");
  ASSERT_FALSE(a.empty());
  EXPECT_TRUE(a == b) << "resumed importance matrix differs from the uninterrupted one";
  auto peaks = [](const std::string& path) {
    return nlohmann::json::parse(test::read_file(path))["down_proj_peaks"];
  };
  EXPECT_EQ(peaks(d / "full.imatrix.superweights.json"), peaks(d / "resumed.imatrix.superweights.json"));
}

TEST(AnalyzeCli, JsonSummaryAndLegacyFormat) {
  test::TempDir d;
  const test::CliResult r =
      run_cli("analyze " + q(test::model_dir("tiny-llama")) + " --calibration-samples 2 --ctx 32 -t 1 --output-format dat -o " +
              q(d / "m.dat") + " --format json");
  ASSERT_EQ(r.code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["samples"], 2);
  EXPECT_EQ(j["tokens"], 64);
  EXPECT_EQ(j["output"], d / "m.dat");
  EXPECT_EQ(j["output_format"], "dat");
  EXPECT_EQ(j["entries"], 28);
  EXPECT_NE(j["calibration_data"].get<std::string>().find("calibration.txt"), std::string::npos);
  EXPECT_NE(j["calibration_source"].get<std::string>().find("default"), std::string::npos);
  EXPECT_GT(j["tokens_per_second"].get<double>(), 0);
  EXPECT_TRUE(fs::exists(d / "m.dat"));
}

TEST(AnalyzeCli, WarnsWhenDataIsShort) {
  test::TempDir d;
  std::ofstream(d / "short.txt") << "Only a few words of calibration text here, nowhere near enough.";
  const test::CliResult r = run_cli("analyze " + q(test::model_dir("tiny-llama")) + " --calibration-data " +
                                    q(d / "short.txt") + " --calibration-samples 4 --ctx 512 -t 1 -o " + q(d / "m.imatrix"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("warning:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("fewer than the 4 asked for"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace llmq
