#include "export/hf/model_quantizer.h"

#include <map>
#include <set>

#include "export/hf/layer_linears.h"
#include "model/layer_residency.h"
#include "quant/methods/rtn.h"
#include "util/error.h"

namespace llmq {

const char* int_quant_method_name(IntQuantMethod m) {
  switch (m) {
    case IntQuantMethod::Rtn: return "rtn";
    case IntQuantMethod::Gptq: return "gptq";
    case IntQuantMethod::Awq: return "awq";
  }
  return "?";
}

IntQuantMethod parse_int_quant_method(const std::string& s) {
  if (s == "rtn") return IntQuantMethod::Rtn;
  if (s == "gptq") return IntQuantMethod::Gptq;
  if (s == "awq") return IntQuantMethod::Awq;
  fail("unknown quantization method '{}' (expected rtn, gptq or awq)", s);
}

std::vector<double> hessian_from_gram(std::vector<double> gram, int64_t tokens) {
  const double f = 2.0 / double(std::max<int64_t>(tokens, 1));
  for (double& v : gram) v *= f;
  return gram;
}

int64_t layer_working_bytes(ModelWeights& w, IntQuantMethod method) {
  int64_t worst = 0;
  for (int l = 0; l < int(w.cfg.n_layers); ++l) {
    int64_t dense = 0;
    for (const NamedTensor& nt : layer_tensors(w, l)) {
      int64_t n = 1;
      for (int64_t d : nt.shape) n *= d;
      dense += 4 * n;
    }
    std::map<LinearKey, int64_t> widths;  // one statistic per distinct input
    for (const LayerLinear& lin : layer_linears(w, l)) widths[lin.key] = lin.weight->cols();
    int64_t stats = 0;
    for (const auto& [key, n] : widths) {
      const int64_t b = 12 * n * n;  // 8 bytes float64 + 4 bytes single precision per entry
      stats = method == IntQuantMethod::Awq ? stats + b : std::max(stats, b);
    }
    if (method == IntQuantMethod::Rtn) stats = 0;
    worst = std::max(worst, dense + stats);
  }
  return worst;
}

QuantizedModel quantize_model_rtn(const ModelWeights& source, const IntQuantizeOptions& opt,
                                  const LayerProgressFn& progress, IntLayerStream* stream) {
  QuantizedModel qm;
  qm.weights = std::make_shared<ModelWeights>(source);
  const IgnoreList ignore(opt.ignore);
  for (int layer = stream ? stream->first_layer : 0; layer < int(source.cfg.n_layers); ++layer) {
    prepare_layer(*qm.weights, layer, stream);
    for (LayerLinear& l : without_ignored(layer_linears(*qm.weights, layer), ignore)) {
      QuantizedLinear q = quantize_rtn(*l.weight, opt.spec_of(l.name));
      *l.weight = q.dequantize();
      qm.report["linears"][l.name] = {{"method", "rtn"}};
      qm.linears.emplace(l.name, std::move(q));
    }
    finish_layer(qm, source, layer, stream);
    if (progress) progress(layer, int(source.cfg.n_layers));
  }
  return qm;
}

QuantizedModel quantize_model_int(const ModelWeights& source, const std::vector<std::vector<int32_t>>& windows,
                                  const IntQuantizeOptions& opt, const LayerProgressFn& progress,
                                  IntLayerStream* stream) {
  // Validate every width (and the --ignore patterns) before any long work starts.
  ModelWeights& probe = const_cast<ModelWeights&>(source);  // model_linears only reads
  const IgnoreList ignore(opt.ignore);
  std::vector<std::string> ignored;
  for (const LayerLinear& l : model_linears(probe)) {
    if (ignore.ignored(l.name)) {
      ignored.push_back(l.name);
      continue;
    }
    try {
      opt.spec.validate(l.weight->cols());
    } catch (const Error& e) {
      fail("{}: {}", l.name, e.what());
    }
  }
  if (ignored.size() == model_linears(probe).size()) fail("--ignore leaves no linear to quantize");
  if (!opt.linear_bits.empty()) {
    if (opt.method == IntQuantMethod::Awq)  // AWQ's scale search assumes one grid for a layer's linears
      fail("per-linear bit widths (--dynamic-experts) are written for rtn and gptq, not {}", int_quant_method_name(opt.method));
    std::set<std::string> known;
    for (const LayerLinear& l : model_linears(probe)) known.insert(l.name);
    for (const auto& [name, bits] : opt.linear_bits) {
      if (!known.count(name)) fail("per-linear bits name {}, which is not a linear of the model", name);
      IntQuantSpec s = opt.spec;
      s.bits = bits;
      s.validate(0);  // the bits; every width was checked above
    }
  }
  if (opt.method != IntQuantMethod::Rtn && windows.empty())
    fail("{} needs calibration data (no calibration windows)", int_quant_method_name(opt.method));
  QuantizedModel qm;
  switch (opt.method) {
    case IntQuantMethod::Rtn: qm = quantize_model_rtn(source, opt, progress, stream); break;
    case IntQuantMethod::Gptq: qm = quantize_model_gptq(source, windows, opt, progress, stream); break;
    case IntQuantMethod::Awq: qm = quantize_model_awq(source, windows, opt, progress, stream); break;
  }
  qm.ignored = ignored;
  if (!ignored.empty()) qm.report["ignored"] = ignored;
  qm.report["method"] = int_quant_method_name(opt.method);
  qm.report["spec"] = opt.spec.describe();
  return qm;
}

}  // namespace llmq
