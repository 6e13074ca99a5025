// The command tree of llm-quantize and its exit-code contract (cli_app.h).
#include "cli_app.h"

#include <cstdio>
#include <iostream>

#include <CLI/CLI.hpp>

#include "cli_common.h"
#include "export/gguf/gguf_model_loader.h"
#include "export/hf/loaders/ct_lowbit_loader.h"
#include "export/hf/loaders/hf_quant_loader.h"
#include "util/error.h"

namespace llmq::cli {

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
    std::fprintf(stderr, "error: %s\n", e.what());
    if (json) print_json({{"error", e.what()}, {"exit_code", kRuntimeError}});
    return kRuntimeError;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "error: out of memory\n");
    return kRuntimeError;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    if (json) print_json({{"error", e.what()}, {"exit_code", kRuntimeError}});
    return kRuntimeError;
  }
  report_peak_memory();
  return kOk;
}

}  // namespace llmq::cli
