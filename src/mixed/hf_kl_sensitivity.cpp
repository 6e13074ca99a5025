#include "mixed/hf_kl_sensitivity.h"

#include <chrono>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "calibration/calibration_data.h"
#include "calibration/imatrix_file.h"
#include "calibration/model_fingerprint.h"
#include "quant/methods/rtn.h"
#include "util/error.h"

namespace fs = std::filesystem;

namespace llmq {

namespace {

constexpr const char* kFormat = "llm-quantize-hf-sensitivity";
// Bump when the measure changes what a cached value means.
constexpr int kRevision = 1;

// KL per linear and width, on disk under a fingerprint of its inputs.
class HfKlCache {
 public:
  HfKlCache(std::string path, nlohmann::json fingerprint) : path_(std::move(path)) {
    doc_ = {{"format", kFormat}, {"fingerprint", std::move(fingerprint)}, {"linears", nlohmann::json::object()}};
    std::error_code ec;
    if (path_.empty() || !fs::exists(path_, ec)) return;
    try {
      std::ifstream f(path_);
      nlohmann::json saved = nlohmann::json::parse(f);
      if (saved.value("format", "") == kFormat && saved.value("fingerprint", nlohmann::json()) == doc_["fingerprint"] &&
          saved.value("linears", nlohmann::json()).is_object())
        doc_["linears"] = saved["linears"];
      else
        note_ = "computed from other inputs (model, calibration text, windows or RTN spec); recomputing";
    } catch (const nlohmann::json::exception& e) {
      note_ = std::string("unreadable (") + e.what() + "); recomputing";
    }
  }
  const std::string& note() const { return note_; }  // why an existing file was not reused
  std::optional<double> find(const std::string& linear, int bits) const {
    const nlohmann::json& l = doc_["linears"];
    if (!l.contains(linear) || !l[linear].contains(std::to_string(bits)) || !l[linear][std::to_string(bits)].is_number())
      return std::nullopt;
    return l[linear][std::to_string(bits)].get<double>();
  }
  void put(const std::string& linear, int bits, double v) {
    doc_["linears"][linear][std::to_string(bits)] = v;
    if (!path_.empty()) save_json_atomically(path_, doc_);
  }

 private:
  std::string path_;
  nlohmann::json doc_;
  std::string note_;
};

nlohmann::json fingerprint(const LoadedModel& m, const std::string& model_dir, const std::string& data_path,
                           const KldMeterOptions& kld, const IntQuantSpec& spec) {
  nlohmann::json j = model_fingerprint(model_dir, m.file_bytes);
  j["data"] = file_fingerprint(data_path);
  j["windows"] = kld.windows;
  j["ctx"] = kld.ctx;
  j["group_size"] = spec.group_size;
  j["sym"] = spec.sym;
  j["revision"] = kRevision;
  return j;
}

}  // namespace

std::string default_hf_sensitivity_cache_path(const std::string& imatrix_path, const IntQuantSpec& spec) {
  return fmt::format("{}.sensitivity-hf-g{}{}.json", imatrix_path, spec.group_size, spec.sym ? "" : "-asym");
}

HfBitAllocation allocate_hf_bits_for_model(const std::string& model_dir, const std::string& imatrix_path,
                                           HfQuantFormat format, const IntQuantizeOptions& quant_in, const HfBudget& budget,
                                           const BitRange& range, const HfAllocationOptions& opt) {
  if (imatrix_path.empty())
    fail("--target-bpw/--target-size for gptq/rtn needs --imatrix FILE (the importance matrix weighs each linear's error)");
  if (!fs::exists(fs::path(model_dir) / "config.json"))
    throw file_error(model_dir, "not a Hugging Face model directory (no config.json)");
  const ImatrixFile imatrix(imatrix_path);
  LoadedModel m = load_hf_model(model_dir, {.lazy = true});
  check_imatrix_model(imatrix, imatrix_path, *m.weights, model_dir);
  IntQuantizeOptions quant = quant_in;
  quant.spec = spec_for_source(format, quant.spec, m.weights->source_dtype);

  std::string data = opt.data_path;
  if (data.empty()) data = default_calibration_path(model_dir).value_or("");
  const SensitivityMode mode = opt.mode ? *opt.mode : data.empty() ? SensitivityMode::Fast : SensitivityMode::Hybrid;
  if (mode == SensitivityMode::Fast)
    return allocate_hf_bits(*m.weights, imatrix, format, quant, budget, range);
  if (data.empty()) fail("{} sensitivity needs calibration text: pass --sensitivity-data FILE", sensitivity_mode_name(mode));

  const std::string cache_path =
      opt.no_cache ? "" : !opt.cache_path.empty() ? opt.cache_path : default_hf_sensitivity_cache_path(imatrix_path, quant.spec);
  HfKlCache cache(cache_path, fingerprint(m, model_dir, data, opt.kld, quant.spec));
  std::unique_ptr<KldSensitivityMeter> meter;  // the base run only when something is left to measure
  int64_t measured = 0, reused = 0;
  const auto t0 = std::chrono::steady_clock::now();
  HfSensitivitySource source;
  source.mode = mode;
  source.progress = opt.progress;
  source.kl = [&](const std::string& linear, int layer, int bits) {
    if (const auto v = cache.find(linear, bits)) {
      ++reused;
      return *v;
    }
    if (!meter) meter = make_kld_meter(m, data, opt.kld, nullptr);
    IntQuantizeOptions o = quant;
    o.linear_bits = {{linear, bits}};
    const IntQuantSpec spec = o.spec_of(linear);
    const double v = meter->measure({linear}, layer, [&spec](Tensor& t) { fake_quantize_rtn(t, spec); });
    cache.put(linear, bits, v);
    ++measured;
    return v;
  };
  HfBitAllocation a = allocate_hf_bits(*m.weights, imatrix, format, quant, budget, range, source);
  a.measured = measured;
  a.reused = reused;
  a.measure_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  a.cache = cache_path;
  a.cache_note = cache.note();
  return a;
}

}  // namespace llmq
