// llm-quantize: a thin command-line layer over the llmq library.
#include <cstdio>

#include "cli_app.h"
#include "distributed/cluster.h"
#include "runtime/process_setup.h"
#include "util/peak_memory.h"
#include "util/progress.h"

int main(int argc, char** argv) {
  llmq::restart_with_tuned_math_libraries(argv);  // before any work: the libraries read these at load
  llmq::Cluster::start(&argc, &argv);              // joins the job when started by mpirun
  const llmq::Cluster& cluster = llmq::Cluster::get();
  if (!cluster.is_root()) {
    // Rank 0 reports for the job: the others keep stdout and progress quiet (errors still reach stderr).
    if (!std::freopen("/dev/null", "w", stdout)) return 1;
    llmq::mute_progress();
  }
  llmq::start_peak_memory_sampler();
  const int rc = llmq::cli::run_cli(argc, argv);
  llmq::Cluster::stop(rc);
  return rc;
}
