#include "export/hf/super_weight_protection.h"


#include <fmt/format.h>

#include "export/hf/hf_quant_writer.h"
#include "export/hf/hf_tensor_encoders.h"
#include "util/error.h"

namespace llmq {

namespace {

const NamedTensor* find_tensor(const std::vector<NamedTensor>& all, const std::string& name) {
  for (const NamedTensor& nt : all)
    if (nt.name == name) return &nt;
  return nullptr;
}

}  // namespace

std::map<std::string, std::vector<SuperWeight>> read_protected_linears(const std::string& path) {
  std::map<std::string, std::vector<SuperWeight>> out;
  for (const SuperWeight& s : read_super_weights(path)) out[s.tensor].push_back(s);
  return out;
}

std::vector<std::string> protection_patterns(const std::map<std::string, std::vector<SuperWeight>>& linears,
                                             ModelWeights& w, const std::string& path) {
  const std::vector<NamedTensor> all = named_tensors(w);
  std::vector<std::string> patterns;
  for (const auto& [name, sws] : linears) {
    const NamedTensor* nt = find_tensor(all, name);
    if (!nt || nt->shape.size() != 2 || nt->layer < 0)
      throw file_error(path, fmt::format("super weight in {}, which is no decoder linear of the model", name));
    for (const SuperWeight& s : sws)
      if (s.row < 0 || s.row >= nt->shape[0] || s.col < 0 || s.col >= nt->shape[1])
        throw file_error(path, fmt::format("super weight {}[{}, {}] lies outside its [{}, {}] weight", name, s.row, s.col,
                                           nt->shape[0], nt->shape[1]));
    patterns.push_back(anchored_regex(name));
  }
  return patterns;
}

SuperWeightProtection describe_protection(const std::string& file,
                                          const std::map<std::string, std::vector<SuperWeight>>& linears,
                                          ModelWeights& source, HfQuantFormat format, const IntQuantizeOptions& opt) {
  const std::vector<NamedTensor> all = named_tensors(source);
  SuperWeightProtection p;
  p.file = file;
  for (const auto& [name, sws] : linears) {
    const NamedTensor* nt = find_tensor(all, name);
    if (!nt) throw file_error(file, fmt::format("super weight in {}, which the model does not have", name));
    ProtectedLinear l;
    l.weight = name;
    l.super_weights = sws;
    l.dtype = unquantized_dtype(format, source.source_dtype);
    const int64_t rows = nt->shape[0], cols = nt->shape[1];
    l.float_bytes = uint64_t(rows * cols) * dtype_size(l.dtype);
    l.quantized_bytes = quantized_linear_bytes(format, name, rows, cols, opt);
    for (SuperWeight& s : l.super_weights) {
      s.value = nt->tensor->at(s.row, s.col);  // the model's value, which is what gets stored
      if (round_to(l.dtype, s.value) != s.value) l.exact = false;
    }
    p.linears.push_back(std::move(l));
  }
  return p;
}

int64_t SuperWeightProtection::extra_bytes() const {
  int64_t n = 0;
  for (const ProtectedLinear& l : linears) n += l.extra_bytes();
  return n;
}

nlohmann::json protection_json(const SuperWeightProtection& p) {
  nlohmann::json linears = nlohmann::json::array();
  for (const ProtectedLinear& l : p.linears) {
    nlohmann::json sws = nlohmann::json::array();
    for (const SuperWeight& s : l.super_weights) sws.push_back({{"row", s.row}, {"col", s.col}, {"value", s.value}});
    linears.push_back({{"weight", l.weight},
                       {"dtype", dtype_name(l.dtype)},
                       {"super_weights", sws},
                       {"exact", l.exact},
                       {"float_bytes", l.float_bytes},
                       {"quantized_bytes", l.quantized_bytes},
                       {"extra_bytes", l.extra_bytes()}});
  }
  return {{"file", p.file}, {"linears", linears}, {"extra_bytes", p.extra_bytes()}};
}

}  // namespace llmq
