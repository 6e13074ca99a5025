// `mpirun -np N llm-quantize ...` gives the same bytes as one process, at
// N = 2 and 3 on this machine (--oversubscribe lets 3 ranks share 2 cores),
// and a rank that dies or fails stops the job with no output left behind.
// Skipped where the build has no MPI or mpirun is missing.
#include <filesystem>

#include <gtest/gtest.h>

#include "common/fixtures.h"
#include "common/run_cli.h"
#include "distributed/cluster.h"

using namespace llmq::test;
namespace fs = std::filesystem;

namespace {

bool have_mpirun() { return std::system("command -v mpirun >/dev/null 2>&1") == 0; }

std::string mpirun(int n) { return "mpirun -np " + std::to_string(n) + " --oversubscribe --allow-run-as-root"; }

#define REQUIRE_MPI()                                                        \
  if (!llmq::built_with_mpi() || !have_mpirun()) GTEST_SKIP() << "no MPI in this build or no mpirun"

// Runs `args` (with "{out}" replaced by the output path) as one process and
// as N = 2, 3 ranks, and checks that every output file is byte-identical.
void expect_same_output(const std::string& args, const std::string& name, std::vector<int> ranks = {2, 3}) {
  TempDir d;
  auto with_out = [&](const std::string& out) {
    std::string a = args;
    a.replace(a.find("{out}"), 5, q(out));
    return a;
  };
  const std::string one = d / (name + "-1");
  const CliResult r1 = run_cli(with_out(one));
  ASSERT_EQ(r1.code, 0) << r1.err;
  for (int n : ranks) {
    const std::string many = d / (name + "-" + std::to_string(n));
    const CliResult rn = run_cli(with_out(many), mpirun(n));
    ASSERT_EQ(rn.code, 0) << n << " ranks: " << rn.err;
    if (fs::is_directory(one)) {
      size_t files = 0;
      for (const auto& e : fs::directory_iterator(one)) {
        if (e.path().filename().string()[0] == '.') continue;  // our output marker
        ++files;
        EXPECT_EQ(read_file(e.path().string()), read_file(many + "/" + e.path().filename().string()))
            << name << ": " << e.path().filename() << " differs at " << n << " ranks";
      }
      EXPECT_GT(files, 0u);
    } else {
      EXPECT_EQ(read_file(one), read_file(many)) << name << " differs at " << n << " ranks";
    }
  }
}

}  // namespace

TEST(MpiCli, AnalyzeIsByteIdenticalAtAnyRankCount) {
  REQUIRE_MPI();
  expect_same_output("analyze " + q(model_dir("tiny-llama")) + " --calibration-samples 14 -c 64 --quiet -o {out}", "llama.imatrix");
  expect_same_output("analyze " + q(model_dir("tiny-qwen3moe")) + " --calibration-samples 14 -c 64 --quiet -o {out}",
                     "moe.imatrix", {3});
}

TEST(MpiCli, GgufWithImatrixIsByteIdentical) {
  REQUIRE_MPI();
  TempDir d;
  const std::string im = d / "tiny.imatrix";
  ASSERT_EQ(run_cli("analyze " + q(model_dir("tiny-llama")) + " --calibration-samples 8 -c 64 --quiet -o " + q(im)).code, 0);
  expect_same_output("quantize " + q(model_dir("tiny-llama")) + " gguf -q Q4_K_M --imatrix " + q(im) + " --quiet -o {out}",
                     "q4km.gguf");
  expect_same_output("quantize " + q(model_dir("tiny-llama")) + " gguf -q IQ2_XXS --imatrix " + q(im) + " --quiet -o {out}",
                     "iq2xxs.gguf", {3});
}

TEST(MpiCli, GptqIsByteIdentical) {
  REQUIRE_MPI();
  // 48 windows: three blocks of 16, one per rank at N = 3.
  expect_same_output("quantize " + q(model_dir("tiny-llama")) + " gptq --samples 48 --ctx 64 --quiet -o {out}", "gptq");
  expect_same_output("quantize " + q(model_dir("tiny-qwen3moe")) + " gptq --samples 32 --ctx 64 --quiet -o {out}",
                     "gptq-moe", {2});
}

TEST(MpiCli, DynamicAllocationIsByteIdentical) {
  REQUIRE_MPI();
  TempDir d;
  const std::string im = d / "tiny.imatrix";
  ASSERT_EQ(run_cli("analyze " + q(model_dir("tiny-llama")) + " --calibration-samples 8 -c 64 --quiet -o " + q(im)).code, 0);
  // The ranks share the sensitivity measurements (no cache: each run measures), plan
  // from the same table, and encode their share of the tensors.
  expect_same_output("quantize " + q(model_dir("tiny-llama")) + " gguf -q dynamic --target-bpw 4.5 --sensitivity fast "
                         "--no-sensitivity-cache --imatrix " + q(im) + " --quiet -o {out}",
                     "dynamic.gguf", {2});
}

TEST(MpiCli, AFailingRankNamesItselfAndLeavesNoOutput) {
  REQUIRE_MPI();
  TempDir d;
  const std::string out = d / "never.gguf";
  const CliResult r = run_cli("quantize " + q(model_dir("tiny-llama")) + " gguf -q Q4_K_M --imatrix " +
                                  q(d / "missing.imatrix") + " --quiet -o " + q(out),
                              mpirun(2));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("error: rank 0 of 2 on "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("missing.imatrix"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out));
}

TEST(MpiCli, AKilledRankStopsTheJobWithNoOutput) {
  REQUIRE_MPI();
  TempDir d;
  const std::string out = d / "never.imatrix", log = d / "log";
  // Rank 1 of this job (its command line names our output; other tests may run jobs too) is
  // killed once it runs; mpirun then stops rank 0 and names the dead rank.
  const std::string script =
      mpirun(2) + " " + std::string(LLMQ_CLI_PATH) + " analyze " + q(model_dir("small-llama")) +
      " --calibration-samples 64 -c 256 --quiet -o " + q(out) + " >" + q(log) + " 2>&1 & mp=$!\n"
      "for i in $(seq 600); do\n"
      "  for p in /proc/[0-9]*; do\n"
      "    if grep -qF " + q(out) + " $p/cmdline 2>/dev/null && tr '\\0' '\\n' <$p/environ 2>/dev/null | grep -qx OMPI_COMM_WORLD_RANK=1; then\n"
      "      sleep 0.5; kill -9 ${p#/proc/}; wait $mp; exit $?\n"
      "    fi\n"
      "  done\n"
      "  sleep 0.05\n"
      "done\n"
      "wait $mp; exit 99\n";
  write_file(d / "kill.sh", script);
  const int status = std::system(("bash " + q(d / "kill.sh")).c_str());
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  EXPECT_NE(code, 0);
  EXPECT_NE(code, 99) << "rank 1 was never seen";
  const std::string err = read_file(log);
  EXPECT_NE(err.find("rank 1"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(out));
}
