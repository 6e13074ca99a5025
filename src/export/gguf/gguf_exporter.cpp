#include "export/gguf/gguf_exporter.h"

#include <chrono>
#include <filesystem>

#include "distributed/ordered_jobs.h"
#include "export/gguf/gguf_gptq.h"
#include "export/gguf/gguf_model_metadata.h"
#include "export/gguf/gguf_tensor_source.h"
#include "io/gguf/gguf_writer.h"
#include "io/hf_checkpoint.h"
#include "io/model_locator.h"
#include "export/hf/model_quantizer.h"
#include "quant/formats/ggml/ggml_quants.h"
#include "quant/methods/gptq_ggml.h"
#include "tokenizer/tokenizer.h"
#include "util/atomic_output.h"
#include "util/error.h"

namespace fs = std::filesystem;

namespace llmq {

namespace {

using ggml::GgmlType;

// The float type the checkpoint stores its matrices in: what llama-quantize
// would find for a tensor it leaves unquantized.
GgmlType checkpoint_float_type(const HfCheckpoint& ckpt, const std::vector<GgufTensorSpec>& layout) {
  for (const GgufTensorSpec& s : layout) {
    if (s.ne.size() < 2 || s.sources.empty()) continue;
    if (const TensorView* tv = ckpt.find(s.sources.front())) {
      if (tv->dtype == DType::BF16) return GgmlType::BF16;
      if (tv->dtype == DType::F16) return GgmlType::F16;
      return GgmlType::F32;
    }
  }
  return GgmlType::F32;
}

// Refuses outputs that are, contain or lie inside the checkpoint directory.
void protect_input(const std::string& output, const HfCheckpoint& ckpt) { ensure_not_same_path(output, ckpt.dir()); }

// How a tensor was encoded, for the report.
struct EncodeFlags {
  bool importance = false, gptq = false;
};

// One expert's rows (all rows when not stacked) with GPTQ when `gptq` has
// the Hessian of their input; false when it has none (the caller quantizes
// the rows as usual).
bool encode_with_gptq(GgufGptq& gptq, const GgufTensorSpec& spec, int64_t expert, GgmlType type, const float* rows,
                      int64_t n_rows, const float* imatrix, uint8_t* out) {
  const GramStats* g = gptq.find(spec, int(expert));
  if (!g) return false;
  const int64_t cols = spec.row_length();
  Tensor w;
  w.shape = {n_rows, cols};
  w.data.assign(rows, rows + n_rows * cols);
  const std::vector<uint8_t> bytes =
      gptq_quantize_ggml(w, hessian_from_gram(g->matrix(), g->tokens), type, imatrix, gptq.gptq());
  std::copy(bytes.begin(), bytes.end(), out);
  return true;
}

// Quantizes (or copies) the fp32 values of one tensor; stacked experts are
// encoded one by one, each with its own importance vector (and Hessian).
void encode_tensor(const GgufTensorSpec& spec, GgmlType type, bool quantizable, const std::vector<float>& values,
                   const ImportanceLookup& importance, GgufGptq* gptq, std::vector<uint8_t>& out, EncodeFlags& flags) {
  const int64_t cols = spec.row_length();
  const int64_t rows_per_expert = spec.n_rows() / spec.n_experts();
  const size_t row_bytes = ggml::row_size(type, cols);
  out.resize(row_bytes * size_t(spec.n_rows()));
  flags = {};
  for (int64_t e = 0; e < spec.n_experts(); ++e) {
    const float* imatrix = nullptr;
    if (importance && quantizable && ggml::block_size(type) > 1) {
      const std::vector<float>* v = importance(spec.name, spec.is_stacked() ? int(e) : -1);
      // As llama-quantize: a token_embd entry of the wrong size is ignored, any other is an error.
      if (v && int64_t(v->size()) != cols && spec.role != TensorRole::TokenEmbedding)
        fail("importance matrix for {} has {} values per matrix, the tensor has {} columns", spec.name, v->size(),
             cols);
      if (v && int64_t(v->size()) == cols) {
        imatrix = v->data();
        flags.importance = true;
      }
    }
    const size_t first_row = size_t(e * rows_per_expert);
    if (gptq && quantizable && gptq_supports_ggml_type(type) &&
        encode_with_gptq(*gptq, spec, e, type, values.data() + first_row * size_t(cols), rows_per_expert, imatrix,
                         out.data() + first_row * row_bytes)) {
      flags.gptq = true;
      continue;
    }
    ggml::quantize_rows(type, values.data() + first_row * size_t(cols), out.data() + first_row * row_bytes,
                        rows_per_expert, cols, imatrix);
  }
}

// The per-tensor report of a plan: types, sizes, totals.
GgufExportResult planned_result(const std::vector<GgufTensorSpec>& layout, const std::vector<TensorTypeChoice>& plan) {
  GgufExportResult result;
  for (size_t i = 0; i < layout.size(); ++i) {
    GgufTensorResult t;
    t.name = layout[i].name;
    t.ne = layout[i].ne;
    t.type = plan[i].type;
    t.note = plan[i].note;
    t.n_elements = layout[i].n_elements();
    t.bytes = ggml::row_size(t.type, layout[i].row_length()) * size_t(layout[i].n_rows());
    result.n_elements += t.n_elements;
    result.tensor_bytes += t.bytes;
    result.tensors.push_back(std::move(t));
  }
  return result;
}

// llama-quantize refuses the coarsest types without importance data for
// every tensor they apply to; so do we, before writing anything.
void check_importance(const std::string& model_dir, const std::vector<GgufTensorSpec>& layout,
                      const std::vector<TensorTypeChoice>& plan, const ImportanceLookup& importance, GgufPreset preset) {
  for (size_t i = 0; i < layout.size(); ++i) {
    // An entry of another width belongs to another model: refuse it rather than read past it or ignore it.
    for (int64_t e = 0; importance && e < layout[i].n_experts(); ++e)
      if (const std::vector<float>* v = importance(layout[i].name, layout[i].is_stacked() ? int(e) : -1);
          v && int64_t(v->size()) != layout[i].row_length())
        fail("the importance matrix's entry for {} has {} values, but its rows have {} (was it made for another model?)",
             layout[i].name, v->size(), layout[i].row_length());
    if (!plan[i].needs_importance) continue;
    const std::string type = ggml::type_name(plan[i].type);
    if (!importance)
      fail("-q {}: tensor {} would be {}, which needs an importance matrix (the result is garbage without one); "
           "make one with `llm-quantize analyze {} -o model.imatrix` and pass --imatrix model.imatrix",
           preset_info(preset).name, layout[i].name, type, model_dir);
    for (int64_t e = 0; e < layout[i].n_experts(); ++e)
      if (!importance(layout[i].name, layout[i].is_stacked() ? int(e) : -1))
        fail("the importance matrix has no entry for {}, which {} needs (was it made for another model?)",
             layout[i].name, type);
  }
}

}  // namespace

std::string default_gguf_output_path(const std::string& model_dir, GgufPreset preset) {
  fs::path p = fs::path(model_output_base(model_dir)).lexically_normal();  // a cache snapshot: ./<name>
  if (p.filename().empty()) p = p.parent_path();
  return (p.parent_path() / (p.filename().string() + "-" + preset_info(preset).name + ".gguf")).string();
}

GgufExportResult export_gguf(const std::string& model_dir, const GgufExportOptions& opt,
                             const GgufExportProgress& progress) {
  const auto start = std::chrono::steady_clock::now();
  HfCheckpoint ckpt(model_dir);
  const ModelConfig cfg = ModelConfig::from_json(ckpt.config(), (fs::path(model_dir) / "config.json").string());
  const std::vector<GgufTensorSpec> layout = gguf_tensor_layout(cfg);
  for (const GgufTensorSpec& s : layout) check_gguf_sources(ckpt, s);

  GgufQuantOptions quant = opt.quant;
  if (opt.importance) quant.has_imatrix = true;
  const std::vector<TensorTypeChoice> plan = plan_tensor_types(cfg, layout, quant, checkpoint_float_type(ckpt, layout));

  GgufExportResult result = planned_result(layout, plan);
  result.model_dir = model_dir;
  result.preset = quant.preset;
  result.dry_run = opt.dry_run;
  result.source_bytes = ckpt.total_bytes();
  for (const TensorTypeChoice& c : plan) result.needs_importance |= c.needs_importance;

  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  if (opt.dry_run) {
    for (size_t i = 0; i < result.tensors.size(); ++i)
      if (progress) progress(i, result.tensors.size(), result.tensors[i]);
    result.seconds = elapsed();
    return result;
  }

  check_importance(model_dir, layout, plan, opt.importance, quant.preset);
  if (opt.gptq && !Cluster::get().single())
    fail("GGUF export with GPTQ runs in one process (its layer-by-layer Hessians are not spread over ranks yet)");
  if (opt.output.empty()) fail("no output path given for the GGUF file");
  protect_input(opt.output, ckpt);
  // Rank 0 writes the file; every rank (one, unless run under mpirun) encodes tensors, the next one free at a time.
  Cluster& cluster = Cluster::get();
  std::unique_ptr<GgufWriter> writer;
  if (cluster.is_root()) {
    const std::unique_ptr<Tokenizer> tokenizer = Tokenizer::load(model_dir);
    const std::string name = opt.model_name.empty() ? model_short_name(model_dir) : opt.model_name;
    writer = std::make_unique<GgufWriter>(opt.output);
    for (const auto& [key, value] : gguf_model_metadata(cfg, *tokenizer, name, preset_info(quant.preset).file_type))
      writer->set(key, value);
    for (size_t i = 0; i < layout.size(); ++i) writer->add_tensor(layout[i].name, layout[i].ne, plan[i].type);
  }

  std::vector<float> values, scratch;
  auto produce = [&](int64_t i) {
    std::vector<uint8_t> encoded;
    EncodeFlags flags;
    read_gguf_tensor(ckpt, cfg, layout[size_t(i)], values, scratch);
    encode_tensor(layout[size_t(i)], plan[size_t(i)].type, plan[size_t(i)].quantizable, values, opt.importance,
                  opt.gptq.get(), encoded, flags);
    encoded.push_back(uint8_t((flags.importance ? 1 : 0) | (flags.gptq ? 2 : 0)));  // travels with the bytes to the writing rank
    return encoded;
  };
  auto consume = [&](int64_t i, std::vector<uint8_t>& encoded) {
    result.tensors[size_t(i)].used_importance = (encoded.back() & 1) != 0;
    result.tensors[size_t(i)].used_gptq = (encoded.back() & 2) != 0;
    writer->write_tensor_data(layout[size_t(i)].name, encoded.data(), encoded.size() - 1);
    if (progress) progress(size_t(i), layout.size(), result.tensors[size_t(i)]);
  };
  run_ordered_jobs(cluster, int64_t(layout.size()), produce, consume);
  if (!cluster.is_root()) {
    result.seconds = elapsed();
    return result;
  }
  writer->finish();
  result.output = opt.output;
  result.file_bytes = size_t(fs::file_size(opt.output));
  result.seconds = elapsed();
  return result;
}

}  // namespace llmq
