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

// Containers (CI) often forbid the cross-memory attach OpenMPI's shared-memory transport
// uses for large messages; copying through the shared segment works everywhere.
std::string mpirun(int n) {
  return "mpirun -np " + std::to_string(n) + " --oversubscribe --allow-run-as-root --mca btl_vader_single_copy_mechanism none";
}

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

// Runs `mpirun -np 2 llm-quantize ARGS -o OUT` in the background and kills
// its rank 1 (the process whose command line names OUT: other tests may run
// jobs too) once the shell test `when` holds. Returns mpirun's exit code, or
// 99 when the job ended before it could be stopped.
int kill_rank_one(const std::string& args, const std::string& out, const std::string& when, const TempDir& d) {
  const std::string script =
      mpirun(2) + " " + std::string(LLMQ_CLI_PATH) + " " + args + " -o " + q(out) + " >" + q(d / "log") +
      " 2>&1 & mp=$!\n"
      "for i in $(seq 2400); do\n"
      "  if " + when + "; then\n"
      "    for p in /proc/[0-9]*; do\n"
      "      if grep -qF " + q(out) + " $p/cmdline 2>/dev/null && tr '\\0' '\\n' <$p/environ 2>/dev/null | grep -qx OMPI_COMM_WORLD_RANK=1; then\n"
      "        kill -9 ${p#/proc/}; wait $mp; exit $?\n"
      "      fi\n"
      "    done\n"
      "  fi\n"
      "  sleep 0.05\n"
      "done\n"
      "wait $mp; exit 99\n";
  write_file(d / "kill.sh", script);
  const int status = std::system(("bash " + q(d / "kill.sh")).c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
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

TEST(MpiCli, SmoothQuantAndFp8KvCalibrationAreByteIdentical) {
  REQUIRE_MPI();
  // Activation and KV-cache ranges summed over the ranks' windows; rank 0 quantizes.
  expect_same_output("quantize " + q(model_dir("tiny-llama")) + " smoothquant --samples 12 --ctx 64 --quiet -o {out}", "w8a8");
  expect_same_output("quantize " + q(model_dir("tiny-llama")) + " fp8 --kv-cache-dtype fp8 --samples 12 --ctx 64 --quiet -o {out}",
                     "fp8kv", {2});
}

TEST(MpiCli, AwqIsByteIdentical) {
  REQUIRE_MPI();
  // Activation means and Gram matrices summed over the ranks' windows, scales searched on every
  // rank alike, clipping and codes of each linear on its owner.
  expect_same_output("quantize " + q(model_dir("tiny-llama")) + " awq --samples 48 --ctx 64 --quiet -o {out}", "awq");
}

TEST(MpiCli, DynamicAllocationIsByteIdentical) {
  REQUIRE_MPI();
  TempDir d;
  const std::string im = d / "tiny.imatrix";
  ASSERT_EQ(run_cli("analyze " + q(model_dir("tiny-llama")) + " --calibration-samples 8 -c 64 --quiet -o " + q(im)).code, 0);
  // The ranks share the sensitivity measurements (no cache: each run measures), plan
  // from the same table, and encode their share of the tensors. A short ladder keeps it quick.
  expect_same_output("quantize " + q(model_dir("tiny-llama")) + " gguf -q dynamic --target-bpw 4.5 --sensitivity fast "
                         "--ladder Q3_K,IQ4_XS,Q4_K,Q5_K,Q6_K --no-sensitivity-cache --imatrix " + q(im) + " --quiet -o {out}",
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
  const std::string out = d / "never.imatrix";
  // Killed half a second after it starts; mpirun then stops rank 0 and names the dead rank.
  const int code = kill_rank_one("analyze " + q(model_dir("small-llama")) + " --calibration-samples 64 -c 256 --quiet", out,
                                 "[ $i -ge 10 ]", d);
  EXPECT_NE(code, 0);
  EXPECT_NE(code, 99) << "the job ended before rank 1 was killed";
  const std::string err = read_file(d / "log");
  EXPECT_NE(err.find("rank 1"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(out));
}

TEST(MpiCli, GptqKilledMidwayResumesToTheSameBytes) {
  REQUIRE_MPI();
  TempDir d;
  const std::string model = q(model_dir("small-llama"));
  const std::string args = " gptq --samples 32 --ctx 128 --quiet";
  const std::string one = d / "one", out = d / "two";
  ASSERT_EQ(run_cli("quantize " + model + args + " -o " + q(one)).code, 0);
  // Rank 1 is killed once both ranks have saved their hidden states after layer 2.
  const std::string ckpt = out + ".checkpoint";
  const int code = kill_rank_one("quantize " + model + args, out,
                                 "[ -f " + q(ckpt + "/layer-00002.safetensors") + " ] && [ -f " +
                                     q(ckpt + "/states-rank1-of2.safetensors") + " ]",
                                 d);
  ASSERT_NE(code, 99) << "the job finished before it could be stopped: " << read_file(d / "log");
  ASSERT_NE(code, 0);
  ASSERT_FALSE(fs::exists(out));
  const CliResult r = run_cli("quantize " + model + args + " -o " + q(out) + " --format json", mpirun(2));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_GE(nlohmann::json::parse(r.out).at("resumed_layers").get<int>(), 2) << r.out;
  for (const auto& e : fs::directory_iterator(one)) {
    if (e.path().filename().string()[0] == '.') continue;  // our output marker
    EXPECT_EQ(read_file(e.path().string()), read_file(out + "/" + e.path().filename().string())) << e.path().filename();
  }
}
