// A FIFO (or device) given where a file is read would block the reader
// forever or read differently on each pass: it is refused at once, naming it.
#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdlib>

#include <gtest/gtest.h>

#include "common/fixtures.h"
#include "common/run_cli.h"

using namespace llmq::test;

namespace {

TEST(SpecialFileInputs, AFifoIsRefusedNotReadFrom) {
  TempDir d;
  const std::string fifo = d / "data.fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const std::string tiny = q(model_dir("tiny-llama"));
  for (const std::string& args : {"quality perplexity " + tiny + " --data " + q(fifo),
                                  "analyze " + tiny + " --calibration-data " + q(fifo) + " -o " + q(d / "x.imatrix"),
                                  "quantize " + tiny + " gptq --calibration " + q(fifo) + " -o " + q(d / "x-gptq")}) {
    SCOPED_TRACE(args);
    // `timeout` turns a reader blocked on the FIFO into exit 124 instead of a hung test.
    const std::string err = d / "err";
    const int status = std::system(("timeout 60 " + std::string(LLMQ_CLI_PATH) + " " + args + " --quiet </dev/null >/dev/null 2>" + q(err)).c_str());
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    const std::string msg = read_file(err);
    EXPECT_EQ(code, 1) << msg;
    EXPECT_NE(msg.find(fifo + ": is not a regular file"), std::string::npos) << msg;
  }
}

}  // namespace
