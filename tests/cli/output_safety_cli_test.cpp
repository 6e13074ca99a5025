// The data-loss cases found by running the CLI as a careless user would: an
// output path that is, contains or lies inside an input, or an existing
// directory, is refused with exit 1 and leaves every input as it was.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "common/fixtures.h"
#include "common/run_cli.h"

using namespace llmq::test;
namespace fs = std::filesystem;

namespace {

const std::string kTiny = model_dir("tiny-llama");

// A writable copy of tiny-llama at <parent>/model, with a sibling file.
struct Workspace {
  TempDir d;
  std::string parent = d / "parent", model = d / "parent/model", sibling = d / "parent/notes.txt";
  Workspace() {
    fs::create_directories(model);
    for (auto& e : fs::directory_iterator(kTiny)) fs::copy_file(e.path(), model + "/" + e.path().filename().string());
    std::ofstream(sibling) << "the user's notes";
  }
  // Name and size of every file below the parent: what must survive.
  std::map<std::string, uintmax_t> files() const {
    std::map<std::string, uintmax_t> m;
    for (auto& e : fs::recursive_directory_iterator(parent))
      if (e.is_regular_file()) m[e.path().string()] = e.file_size();
    return m;
  }
};

void expect_refused(const CliResult& r, const std::string& names) {
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find(names), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

std::string small_rtn() { return " rtn --bits 4 --group-size 64 --quiet"; }

}  // namespace

TEST(OutputSafetyCli, OutputOnTheModelsParentDirectoryDeletesNothing) {
  Workspace w;
  const auto before = w.files();
  expect_refused(run_cli("quantize " + q(w.model) + small_rtn() + " -o " + q(w.parent)), w.parent);
  expect_refused(run_cli("quantize " + q(w.model) + small_rtn() + " -o " + q(w.parent) + " --overwrite"), w.parent);
  expect_refused(run_cli("quantize " + q(w.model) + " fp8 --quiet -o " + q(w.parent)), w.parent);
  EXPECT_EQ(w.files(), before);
}

TEST(OutputSafetyCli, OutputOnTheModelsWeightsIsRefused) {
  Workspace w;
  const auto before = w.files();
  const std::string weights = w.model + "/model.safetensors";
  expect_refused(run_cli("quantize " + q(w.model) + small_rtn() + " -o " + q(weights)), weights);
  expect_refused(run_cli("quantize " + q(w.model) + " gguf -q Q8_0 --quiet -o " + q(weights)), weights);
  expect_refused(run_cli("analyze " + q(w.model) + " --calibration-samples 1 --ctx 32 --quiet -o " + q(weights)), weights);
  expect_refused(run_cli("quantize " + q(w.model) + small_rtn() + " -o " + q(w.model + "/sub")), "inside");
  EXPECT_EQ(w.files(), before);
  EXPECT_TRUE(fs::is_regular_file(weights));
}

TEST(OutputSafetyCli, ExistingDirectoryNeedsOverwriteAndMustBeOurs) {
  Workspace w;
  const std::string out = w.d / "out";
  fs::create_directories(out);
  std::ofstream(out + "/keep.txt") << "mine";
  expect_refused(run_cli("quantize " + q(w.model) + small_rtn() + " -o " + q(out)), "already exists");
  // Refused before the work, not when the finished output is committed: no resume checkpoint was started.
  expect_refused(run_cli("quantize " + q(w.model) + " gptq --samples 2 --ctx 32 --quiet -o " + q(out)), "already exists");
  EXPECT_FALSE(fs::exists(out + ".checkpoint"));
  expect_refused(run_cli("quantize " + q(w.model) + " fp8 --quiet -o " + q(out)), "already exists");
  EXPECT_FALSE(fs::exists(out + ".checkpoint"));
  expect_refused(run_cli("quantize " + q(w.model) + small_rtn() + " -o " + q(out) + " --overwrite"),
                 "not written by llm-quantize");
  EXPECT_TRUE(fs::exists(out + "/keep.txt"));

  const std::string ours = w.d / "ours";
  ASSERT_EQ(run_cli("quantize " + q(w.model) + small_rtn() + " -o " + q(ours)).code, 0);
  expect_refused(run_cli("quantize " + q(w.model) + small_rtn() + " -o " + q(ours)), "--overwrite");
  auto r = run_cli("quantize " + q(w.model) + small_rtn() + " -o " + q(ours) + " --overwrite");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(fs::exists(ours + "/config.json"));
  for (auto& e : fs::directory_iterator(w.d.path))  // no temporaries or moved-aside copies
    EXPECT_NE(e.path().filename().string()[0], '.') << e.path();
}

TEST(OutputSafetyCli, InputsAreNeverOverwritten) {
  Workspace w;
  const std::string data = w.d / "calib.txt", imatrix = w.d / "tiny.imatrix";
  fs::copy_file(data_file("calibration.txt"), data);
  ASSERT_EQ(run_cli("analyze " + q(w.model) + " --calibration-data " + q(data) +
                    " --calibration-samples 2 --ctx 64 --quiet -o " + q(imatrix)).code, 0);
  const auto size_of = [](const std::string& p) { return fs::file_size(p); };
  const uintmax_t data_bytes = size_of(data), imatrix_bytes = size_of(imatrix);

  expect_refused(run_cli("analyze " + q(w.model) + " --calibration-data " + q(data) +
                         " --calibration-samples 1 --ctx 32 --quiet -o " + q(data)), data);
  expect_refused(run_cli("quantize " + q(w.model) + " gguf -q Q4_K_M --quiet --imatrix " + q(imatrix) + " -o " + q(imatrix)),
                 imatrix);
  expect_refused(run_cli("profile create --imatrix " + q(imatrix) + " --name p --target-bpw 4.5 -o " + q(imatrix)), imatrix);
  expect_refused(run_cli("quality compare " + q(w.model) + " " + q(w.model) + " --data " + q(data) +
                         " --chunks 1 --ctx 32 --quiet --plot " + q(data)), data);
  EXPECT_EQ(size_of(data), data_bytes);
  EXPECT_EQ(size_of(imatrix), imatrix_bytes);
}
