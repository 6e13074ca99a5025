// The output rule: nothing the program did not create is deleted or replaced,
// and no output is, contains or lies inside an input.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "common/fixtures.h"
#include "util/atomic_output.h"
#include "util/error.h"
#include "util/output_guard.h"

using namespace llmq;
using llmq::test::TempDir;
namespace fs = std::filesystem;

namespace {

void write_text(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

std::string read_text(const std::string& path) {
  std::ifstream f(path);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// Every test starts and ends with no protected inputs and no --overwrite.
class OutputGuard : public ::testing::Test {
 protected:
  void SetUp() override { reset(); }
  void TearDown() override { reset(); }
  static void reset() {
    clear_protected_inputs();
    set_overwrite_outputs(false);
  }
};

void expect_refused(const std::function<void()>& f, const std::string& must_name) {
  try {
    f();
    ADD_FAILURE() << "not refused: " << must_name;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(must_name), std::string::npos) << e.what();
  }
}

void write_dir(const std::string& path) {
  AtomicOutputDir out(path);
  write_text(out.file("config.json"), "{}");
  out.commit();
}

}  // namespace

TEST_F(OutputGuard, OutputThatIsContainsOrLiesInsideAnInputIsRefused) {
  TempDir d;
  const std::string model = d / "model";
  fs::create_directories(model);
  write_text(model + "/model.safetensors", "weights");
  protect_input(model);
  expect_refused([&] { check_output_path(model); }, model);                        // is
  expect_refused([&] { check_output_path(d.path.string()); }, "contains");           // the model's parent
  expect_refused([&] { check_output_path(model + "/model.safetensors"); }, "inside");
  expect_refused([&] { check_output_path(model + "/new.gguf"); }, "inside");
  expect_refused([&] { check_output_path(model + "/../model/./x"); }, "inside");     // . and .. folded
  fs::create_symlink(model, d / "link");
  expect_refused([&] { check_output_path(d / "link"); }, "is the input");            // symlinks resolved
  EXPECT_NO_THROW(check_output_path(d / "model-gptq"));                              // a sibling is fine
  EXPECT_NO_THROW(check_output_path(d / "model.imatrix"));
  EXPECT_EQ(read_text(model + "/model.safetensors"), "weights");
}

TEST_F(OutputGuard, HardLinkOfAnInputFileIsTheInput) {
  TempDir d;
  write_text(d / "data.txt", "text");
  fs::create_hard_link(d / "data.txt", d / "alias.txt");
  protect_input(d / "data.txt");
  expect_refused([&] { AtomicOutputFile f(d / "alias.txt"); }, "alias.txt");
  EXPECT_EQ(read_text(d / "data.txt"), "text");
}

TEST_F(OutputGuard, InputNamedAfterTheFileWasOpenedStillBlocksTheRename) {
  TempDir d;
  write_text(d / "imatrix", "precious");
  AtomicOutputFile f(d / "imatrix");
  f.write("new", 3);
  protect_input(d / "imatrix");
  EXPECT_THROW(f.commit(), Error);
  EXPECT_EQ(read_text(d / "imatrix"), "precious");
}

TEST_F(OutputGuard, ExistingDirectoryIsRefusedWithoutOverwrite) {
  TempDir d;
  const std::string out = d / "out";
  fs::create_directories(out);
  write_text(out + "/mine.txt", "user data");
  expect_refused([&] { write_dir(out); }, "already exists");
  set_overwrite_outputs(true);  // even with --overwrite: the directory is not ours
  expect_refused([&] { write_dir(out); }, "not written by llm-quantize");
  EXPECT_EQ(read_text(out + "/mine.txt"), "user data");
}

TEST_F(OutputGuard, OverwriteReplacesOnlyOurOwnOutput) {
  TempDir d;
  const std::string out = d / "out";
  write_dir(out);
  EXPECT_TRUE(is_our_output_dir(out));
  write_text(out + "/stale.txt", "old");
  expect_refused([&] { write_dir(out); }, "--overwrite");
  set_overwrite_outputs(true);
  write_dir(out);
  EXPECT_TRUE(fs::exists(out + "/config.json"));
  EXPECT_FALSE(fs::exists(out + "/stale.txt"));  // the earlier output was replaced whole
  for (const auto& e : fs::directory_iterator(d.path))  // no temporaries or moved-aside copies left
    EXPECT_EQ(e.path().filename().string(), "out");
}

TEST_F(OutputGuard, FileOutputOverAFileOrDirectory) {
  TempDir d;
  write_text(d / "old.gguf", "old");
  {
    AtomicOutputFile f(d / "old.gguf");  // an earlier file output is replaced, as llama-quantize does
    f.write("new", 3);
    f.commit();
  }
  EXPECT_EQ(read_text(d / "old.gguf"), "new");
  fs::create_directories(d / "adir");
  expect_refused([&] { AtomicOutputFile f(d / "adir"); }, "is a directory");
}

TEST_F(OutputGuard, SpecialFilesAreNeverOutputs) {
  TempDir d;
  ASSERT_EQ(::mkfifo((d / "fifo").c_str(), 0600), 0);
  expect_refused([&] { AtomicOutputFile f(d / "fifo"); }, "special file");
  expect_refused([&] { check_output_path("/dev/null"); }, "special file");
}

TEST_F(OutputGuard, StaleTemporariesOfDeadProcessesAreRemoved) {
  TempDir d;
  // A pid that is surely not running: a child that has exited and been reaped.
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  int status = 0;
  ::waitpid(child, &status, 0);
  const std::string dead = std::to_string(child);
  write_text(d / (".out.gguf.tmp-" + dead), "partial");
  write_text(d / (".out.gguf.tmp-1"), "pid 1 is alive: kept");
  write_text(d / (".other.gguf.tmp-" + dead), "another target: kept");
  fs::create_directories(d / (".dir.tmp-" + dead));
  write_text(d / (".dir.tmp-" + dead) + "/" + kOutputMarker, "");
  fs::create_directories(d / (".dir.tmp-" + dead + "x"));  // not our pattern
  {
    AtomicOutputFile f(d / "out.gguf");
    f.write("x", 1);
    f.commit();
  }
  write_dir(d / "dir");
  EXPECT_FALSE(fs::exists(d / (".out.gguf.tmp-" + dead)));
  EXPECT_TRUE(fs::exists(d / ".out.gguf.tmp-1"));
  EXPECT_TRUE(fs::exists(d / (".other.gguf.tmp-" + dead)));
  EXPECT_FALSE(fs::exists(d / (".dir.tmp-" + dead)));
  EXPECT_TRUE(fs::exists(d / (".dir.tmp-" + dead + "x")));
}

TEST_F(OutputGuard, UncommittedDirectoryLeavesNothing) {
  TempDir d;
  {
    AtomicOutputDir out(d / "out");
    write_text(out.file("a"), "a");
  }
  EXPECT_TRUE(fs::is_empty(d.path));
}
