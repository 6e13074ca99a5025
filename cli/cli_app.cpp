// The command tree of llm-quantize and its exit-code contract (cli_app.h).
#include "cli_app.h"

#include <cstdio>
#include <iostream>

#include <CLI/CLI.hpp>

#include "cli_common.h"
#include "export/gguf/gguf_model_loader.h"
#include "export/hf/loaders/ct_lowbit_loader.h"
#include "export/hf/loaders/hf_quant_loader.h"
#include "distributed/cluster.h"
#include "util/error.h"

namespace llmq::cli {

namespace {

// "error: ..." on stderr; in a job of several processes the line names the rank and host.
void print_error(const char* what) {
  const Cluster& c = Cluster::get();
  if (c.processes() == 1) std::fprintf(stderr, "error: %s\n", what);
  else std::fprintf(stderr, "error: %s: %s\n", c.where().c_str(), what);
}

}  // namespace

int run_cli(int argc, char** argv) {
  CLI::App app{"llm-quantize: post-training quantization of large language models"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "llm-quantize 0.1.0");
  register_inspect(app);
  register_generate(app);
  register_quality(app);
  register_quantize(app);
  register_gguf_model_loader();  // load_model() opens .gguf files
  register_ct_lowbit_loader();   // ... compressed-tensors FP8/int8/FP4 (before the plain loader)
  register_hf_quant_loaders();   // ... and GPTQ/AWQ/compressed-tensors/MLX directories
  register_analyze(app);
  register_profile(app);
  register_synth(app);

  // In a distributed job, commands other than analyze and quantize run on rank 0 alone.
  int sub = 1;
  while (sub < argc && argv[sub][0] == '-') ++sub;
  if (sub < argc && std::string(argv[sub]) != "analyze" && std::string(argv[sub]) != "quantize") {
    if (!Cluster::get().is_root()) return kOk;
    Cluster::get().work_alone();
  }
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--format=json" || (a == "--format" && i + 1 < argc && std::string(argv[i + 1]) == "json")) json = true;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    if (json) print_json({{"error", e.what()}, {"exit_code", kUsageError}});
    return kUsageError;
  } catch (const QualityGateFailure& e) {
    report_peak_memory();
    std::fprintf(stderr, "%s\n", e.message.c_str());
    return kQualityGate;
  } catch (const llmq::Error& e) {
    print_error(e.what());
    if (json) print_json({{"error", e.what()}, {"exit_code", kRuntimeError}});
    return kRuntimeError;
  } catch (const std::bad_alloc&) {
    print_error("out of memory");
    return kRuntimeError;
  } catch (const std::exception& e) {
    print_error(e.what());
    if (json) print_json({{"error", e.what()}, {"exit_code", kRuntimeError}});
    return kRuntimeError;
  }
  report_peak_memory();
  return kOk;
}

}  // namespace llmq::cli
