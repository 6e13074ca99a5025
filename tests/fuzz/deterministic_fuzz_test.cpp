// CI's fuzz of the file readers (issue 21): each target's seeds mutated with
// a fixed seed, a fixed number of times, in this process. Every input must be
// read and used (weights converted, a forward pass run, text encoded) or
// refused with llmq::Error naming the file; anything else fails with the
// iteration to replay. The long, forking search is llmq-fuzz (tests/fuzz/driver).
#include <gtest/gtest.h>

#include <chrono>

#include "common/fixtures.h"
#include "fuzz/fuzz_targets.h"
#include "fuzz/mutator.h"

using namespace llmq::fuzz;

namespace {

struct Plan {
  std::string target;
  int iterations;
  int min_refused;  // the edits did reach the checks
};

class DeterministicFuzz : public ::testing::TestWithParam<Plan> {};

TEST_P(DeterministicFuzz, EveryMutationIsReadOrRefusedNamingTheFile) {
  const Plan& p = GetParam();
  const Target& t = target(p.target);
  llmq::test::TempDir d;
  const Workspace ws(t, d / "work");
  const std::vector<std::string> seeds = seed_inputs(t, d / "seeds");
  Mutator m(7);
  int refused = 0, accepted = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(40);
  for (int i = 0; i < p.iterations && std::chrono::steady_clock::now() < deadline; ++i) {
    const std::string input = m.mutate(seeds[m.pick(seeds.size())], seeds[m.pick(seeds.size())], t.mutable_prefix);
    try {
      (ws.run(input) ? accepted : refused)++;
    } catch (const Finding& f) {
      ADD_FAILURE() << t.name << " iteration " << i << ": " << f.what();
    }
  }
  std::printf("%s: %d read, %d refused\n", t.name.c_str(), accepted, refused);
  EXPECT_GE(refused, p.min_refused);
}

INSTANTIATE_TEST_SUITE_P(Targets, DeterministicFuzz,
                         ::testing::Values(Plan{"safetensors", 600, 100}, Plan{"config", 300, 30},
                                           Plan{"tokenizer", 150, 5}, Plan{"imatrix", 400, 50},
                                           Plan{"gguf", 150, 30}),
                         [](const auto& info) { return info.param.target; });

}  // namespace
