#pragma once
// The whole command-line program as a function, so that the executable and
// the Python package (python/) run the same parse, dispatch and error
// contract. Never exits the process: every outcome is a return code.
#include <functional>

#include <nlohmann/json.hpp>

namespace llmq::cli {

// Runs `llm-quantize argv[1..]`; returns the exit code (cli_common.h ExitCode).
// Errors print one line on stderr (and, with --format json, a JSON error object).
int run_cli(int argc, char** argv);

// Where print_json sends results: stdout when unset. The Python package sets
// it to receive the objects `--format json` prints.
void set_json_sink(std::function<void(const nlohmann::json&)> sink);

}  // namespace llmq::cli
