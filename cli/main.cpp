// llm-quantize: a thin command-line layer over the llmq library.
#include "cli_app.h"
#include "runtime/process_setup.h"
#include "util/peak_memory.h"

int main(int argc, char** argv) {
  llmq::restart_with_tuned_math_libraries(argv);  // before any work: the libraries read these at load
  llmq::start_peak_memory_sampler();
  return llmq::cli::run_cli(argc, argv);
}
