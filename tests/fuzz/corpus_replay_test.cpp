// Replays the kept fuzz corpus (tests/fuzz/corpus/<target>/: inputs that once
// crashed, hung or were accepted wrongly, and hostile cases from issue 21)
// through the readers, and checks that each target's seeds are accepted. The
// long search for new inputs is tests/fuzz/driver (llmq-fuzz); what it finds
// goes into the corpus and is replayed here on every CI run.
#include <gtest/gtest.h>

#include <fstream>

#include "common/fixtures.h"
#include "fuzz/fuzz_targets.h"

using namespace llmq::fuzz;
namespace fs = std::filesystem;

namespace {

class CorpusReplay : public ::testing::TestWithParam<std::string> {};

TEST_P(CorpusReplay, SeedsAreReadAndKeptInputsAreReadOrRefusedNamingTheFile) {
  const Target& t = target(GetParam());
  llmq::test::TempDir d;
  const Workspace ws(t, d / "work");
  for (const std::string& seed : seed_inputs(t, d / "seeds")) {
    std::string refusal;
    bool accepted = false;
    ASSERT_NO_THROW(accepted = ws.run(seed, &refusal));
    EXPECT_TRUE(accepted) << "a seed of " << t.name << " was refused: " << refusal;
  }
  int replayed = 0;
  if (fs::is_directory(corpus_dir(t)))
    for (const auto& e : fs::directory_iterator(corpus_dir(t))) {
      if (!e.is_regular_file() || e.path().extension() == ".md") continue;
      ++replayed;
      try {
        ws.run(read_bytes(e.path()));
      } catch (const Finding& f) {
        ADD_FAILURE() << e.path() << ": " << f.what();
      }
    }
  std::printf("%s: %d kept inputs replayed\n", t.name.c_str(), replayed);
}

INSTANTIATE_TEST_SUITE_P(Targets, CorpusReplay,
                         ::testing::Values("safetensors", "gguf", "config", "tokenizer", "imatrix"));

}  // namespace
