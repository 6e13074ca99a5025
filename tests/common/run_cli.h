#pragma once
// Runs the llm-quantize binary and captures stdout, stderr and the exit code.
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

#include "common/fixtures.h"

namespace llmq::test {

struct CliResult {
  int code = -1;
  std::string out, err;
};

// `shell_prefix` runs first in the same shell (e.g. "ulimit -v 900000; timeout 60").
inline CliResult run_cli(const std::string& args, const std::string& shell_prefix = "") {
  TempDir d;
  const std::string out = d / "out", err = d / "err";
  const std::string cmd = shell_prefix + " " + std::string(LLMQ_CLI_PATH) + " " + args + " >" + out + " 2>" + err +
                          " </dev/null";
  int status = std::system(cmd.c_str());
  CliResult r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = read_file(out);
  r.err = read_file(err);
  return r;
}

inline std::string q(const std::string& s) { return "'" + s + "'"; }  // shell-quote (no ' in our paths)

}  // namespace llmq::test
