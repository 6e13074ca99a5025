// llm_quantize._core: the C++ half of the Python package. Two things cross
// the boundary: the command tree (run_cli with --format json, results handed
// over as JSON text) and a loaded model (ModelHandle). Python owns the
// keyword-argument mapping and the exceptions (python/llm_quantize/).
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>

#include "cli_app.h"
#include "export/gguf/gguf_model_loader.h"
#include "export/hf/loaders/ct_lowbit_loader.h"
#include "export/hf/loaders/hf_quant_loader.h"
#include "io/model_locator.h"
#include "model_handle.h"
#include "util/error.h"
#include "util/progress.h"

namespace py = pybind11;

namespace {

struct CliRun {
  int code = 0;
  std::vector<std::string> results;  // each object print_json produced, as JSON text
};

// Runs the command with the GIL released; `progress(label, done, total)` is
// called with the GIL held. An exception the callback raises is re-raised
// once the command returns (the command itself cannot be interrupted there).
CliRun run_cli(const std::vector<std::string>& args, const py::object& progress) {
  CliRun run;
  std::vector<std::string> argv_store = {"llm-quantize"};
  argv_store.insert(argv_store.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_store) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::optional<py::error_already_set> callback_error;
  llmq::cli::set_json_sink([&](const nlohmann::json& j) { run.results.push_back(j.dump()); });
  if (!progress.is_none())
    llmq::set_progress_listener([&](const std::string& label, size_t done, size_t total) {
      py::gil_scoped_acquire gil;
      if (callback_error) return;
      try {
        progress(label, done, total);
      } catch (py::error_already_set& e) {
        callback_error = std::move(e);
      }
    });
  {
    py::gil_scoped_release nogil;
    run.code = llmq::cli::run_cli(int(argv_store.size()), argv.data());
  }
  llmq::cli::set_json_sink({});
  llmq::set_progress_listener({});
  if (callback_error) throw std::move(*callback_error);
  return run;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "llm-quantize's C++ core (use the llm_quantize package)";
  llmq::register_gguf_model_loader();
  llmq::register_ct_lowbit_loader();
  llmq::register_hf_quant_loaders();
  py::register_exception<llmq::Error>(m, "CoreError", PyExc_RuntimeError);

  m.def(
      "run_cli",
      [](const std::vector<std::string>& args, const py::object& progress) {
        const CliRun r = run_cli(args, progress);
        return py::make_tuple(r.code, r.results);
      },
      py::arg("args"), py::arg("progress") = py::none(),
      "Runs `llm-quantize ARGS...` in this process; returns (exit code, [JSON text of each result]).");

  m.def("resolve_model_path", &llmq::resolve_model_path, py::arg("model"),
        "A path as given, or a Hugging Face id's snapshot directory in the local cache.");

  using llmq::py::ModelHandle;
  py::class_<ModelHandle>(m, "ModelHandle")
      .def(py::init([](const std::string& path) {
             py::gil_scoped_release nogil;
             return std::make_unique<ModelHandle>(path);
           }),
           py::arg("path"))
      .def("logits",
           [](const ModelHandle& h, const std::vector<int32_t>& ids) {
             std::vector<float> v;
             {
               py::gil_scoped_release nogil;
               v = h.logits(ids);
             }
             const py::ssize_t n = py::ssize_t(ids.size()), vocab = py::ssize_t(h.vocab());
             py::array_t<float> out({n, vocab});
             std::copy(v.begin(), v.end(), out.mutable_data());
             return out;
           },
           py::arg("ids"))
      .def("generate",
           [](const ModelHandle& h, const std::string& prompt, int64_t max_tokens) {
             py::gil_scoped_release nogil;
             return h.generate(prompt, max_tokens);
           },
           py::arg("prompt"), py::arg("max_tokens"))
      .def("generate_ids",
           [](const ModelHandle& h, const std::vector<int32_t>& ids, int64_t max_tokens) {
             py::gil_scoped_release nogil;
             return h.generate_ids(ids, max_tokens);
           },
           py::arg("ids"), py::arg("max_tokens"))
      .def("perplexity",
           [](const ModelHandle& h, const std::string& text, int64_t ctx, int64_t chunks) {
             py::gil_scoped_release nogil;
             return h.perplexity(text, ctx, chunks);
           },
           py::arg("text"), py::arg("ctx"), py::arg("chunks"))
      .def("info_json", [](const ModelHandle& h) { return h.info().dump(); })
      .def("encode",
           [](const ModelHandle& h, const std::string& text, bool add_special) { return h.tokenizer().encode(text, add_special); },
           py::arg("text"), py::arg("add_special_tokens") = false)
      .def("decode",
           [](const ModelHandle& h, const std::vector<int32_t>& ids, bool skip_special) {
             return h.tokenizer().decode(ids, skip_special);
           },
           py::arg("ids"), py::arg("skip_special_tokens") = true)
      .def_property_readonly("bos_token_id", [](const ModelHandle& h) { return h.tokenizer().bos_id(); })
      .def_property_readonly("eos_token_id", [](const ModelHandle& h) { return h.tokenizer().eos_id(); })
      .def_property_readonly("vocab_size", &ModelHandle::vocab);
}
