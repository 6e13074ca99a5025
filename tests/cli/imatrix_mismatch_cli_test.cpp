// An importance matrix made for another model is refused when its entries
// have other widths than the tensors they would weigh (tiny-llama's imatrix,
// hidden 256, given for small-llama, hidden 512), not ignored or read past.
// The legacy .dat format carries no model fingerprint, so this is the widths'
// check; GGUF imatrix files of ours are refused by their fingerprint first.
#include <filesystem>

#include <gtest/gtest.h>

#include "common/fixtures.h"
#include "common/run_cli.h"

using namespace llmq::test;
namespace fs = std::filesystem;

namespace {

TEST(ImatrixMismatchCli, AnotherModelsImatrixIsRefused) {
  TempDir d;
  const std::string imatrix = d / "tiny.imatrix";
  const CliResult a = run_cli("analyze " + q(model_dir("tiny-llama")) + " --calibration-samples 2 --ctx 32 --output-format dat -o " + q(imatrix) + " --quiet");
  ASSERT_EQ(a.code, 0) << a.err;
  const std::string out = d / "small.gguf";
  const CliResult r = run_cli("quantize " + q(model_dir("small-llama")) + " gguf -q Q4_K_M --imatrix " + q(imatrix) + " -o " + q(out) + " --quiet");
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("made for another model"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_FALSE(fs::exists(out));
}

}  // namespace

namespace {

// Same names and widths, other weights: a fine-tune's imatrix given for its
// sibling. The fingerprint analyze stores tells them apart; the f32 copy of
// the same weights (and its BF16 GGUF) agrees with the bf16 original.
TEST(ImatrixMismatchCli, SameShapesOtherWeightsIsRefusedSameWeightsInAnyFloatTypePass) {
  TempDir d;
  const std::string shape = " --preset llama-1b --hidden 128 --layers 2 --ffn 256 --heads 4 --kv-heads 2 --vocab 8192";
  for (const auto& [dir, extra] : {std::pair{"a", " --seed 1"}, {"a32", " --seed 1 --dtype f32"}, {"b", " --seed 2"}})
    ASSERT_EQ(run_cli("synth -o " + q(d / dir) + shape + extra + " --quiet").code, 0) << dir;
  const std::string imatrix = d / "a.imatrix";
  const CliResult a = run_cli("analyze " + q(d / "a") + " --calibration-samples 2 --ctx 32 -o " + q(imatrix) + " --quiet");
  ASSERT_EQ(a.code, 0) << a.err;

  const CliResult same = run_cli("quantize " + q(d / "a32") + " gguf -q Q4_K_M --imatrix " + q(imatrix) + " -o " +
                                 q(d / "a32.gguf") + " --quiet");
  EXPECT_EQ(same.code, 0) << same.err;
  // An imatrix computed on the BF16 GGUF of the same weights is that model's too.
  const CliResult bf16 = run_cli("quantize " + q(d / "a") + " gguf -q BF16 -o " + q(d / "a-bf16.gguf") + " --quiet");
  ASSERT_EQ(bf16.code, 0) << bf16.err;
  const std::string from_gguf = d / "a-gguf.imatrix";
  const CliResult g = run_cli("analyze " + q(d / "a-bf16.gguf") + " --calibration-samples 2 --ctx 32 -o " + q(from_gguf) +
                              " --quiet");
  ASSERT_EQ(g.code, 0) << g.err;
  const CliResult same_gguf = run_cli("quantize " + q(d / "a32") + " gguf -q Q4_K_M --imatrix " + q(from_gguf) + " -o " +
                                      q(d / "a32-g.gguf") + " --quiet");
  EXPECT_EQ(same_gguf.code, 0) << same_gguf.err;

  const std::string out = d / "b.gguf";
  const CliResult other = run_cli("quantize " + q(d / "b") + " gguf -q Q4_K_M --imatrix " + q(imatrix) + " -o " + q(out) +
                                  " --quiet");
  EXPECT_EQ(other.code, 1) << other.err;
  EXPECT_NE(other.err.find("weights other than"), std::string::npos) << other.err;
  EXPECT_NE(other.err.find(imatrix), std::string::npos) << other.err;
  EXPECT_EQ(std::count(other.err.begin(), other.err.end(), '\n'), 1) << other.err;
  EXPECT_FALSE(fs::exists(out));

  const CliResult dynamic = run_cli("quantize " + q(d / "b") + " gguf -q dynamic --target-bpw 4.5 --imatrix " +
                                    q(imatrix) + " -o " + q(out) + " --quiet");
  EXPECT_EQ(dynamic.code, 1) << dynamic.err;
  EXPECT_NE(dynamic.err.find("weights other than"), std::string::npos) << dynamic.err;
  EXPECT_FALSE(fs::exists(out));
}

}  // namespace
