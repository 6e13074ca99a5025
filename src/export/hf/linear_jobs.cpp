#include "export/hf/linear_jobs.h"

#include <algorithm>
#include <numeric>

#include "distributed/byte_codec.h"
#include "util/error.h"

namespace llmq {

std::vector<int> assign_linear_owners(const std::vector<LayerLinear>& linears, int ranks) {
  std::vector<int> owner(linears.size(), 0);
  if (ranks <= 1) return owner;
  std::vector<double> cost(linears.size());
  for (size_t i = 0; i < linears.size(); ++i) {
    const double rows = double(linears[i].weight->rows()), cols = double(linears[i].weight->cols());
    cost[i] = rows * cols * cols + cols * cols * cols;
  }
  std::vector<size_t> order(linears.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return cost[a] > cost[b]; });
  std::vector<double> load(size_t(ranks), 0.0);
  for (size_t i : order) {
    const int r = int(std::min_element(load.begin(), load.end()) - load.begin());
    owner[i] = r;
    load[size_t(r)] += cost[i];
  }
  return owner;
}

void quantize_linears_across_ranks(std::vector<LayerLinear>& linears, Cluster& cluster,
                                   const std::function<LinearOutcome(size_t i)>& quantize, QuantizedModel& qm) {
  const std::vector<int> owner = assign_linear_owners(linears, cluster.size());
  std::vector<LinearOutcome> outcomes(linears.size());
  for (size_t i = 0; i < linears.size(); ++i)
    if (owner[i] == cluster.rank()) outcomes[i] = quantize(i);
  for (size_t i = 0; i < linears.size(); ++i) {
    if (!cluster.single()) {
      std::vector<uint8_t> bytes;
      if (owner[i] == cluster.rank()) bytes = linear_outcome_bytes(outcomes[i]);
      cluster.broadcast(bytes, owner[i]);
      if (owner[i] != cluster.rank()) outcomes[i] = linear_outcome_from_bytes(bytes, linears[i].name);
    }
    LinearOutcome& o = outcomes[i];
    *linears[i].weight = o.q.dequantize();  // later stages and layers see the quantized weights
    qm.report["linears"][linears[i].name] = std::move(o.report);
    for (std::string& f : o.rtn_fallbacks) qm.rtn_fallbacks.push_back(std::move(f));
    for (std::string& w : o.warnings) qm.warnings.push_back(std::move(w));
    qm.linears.insert_or_assign(linears[i].name, std::move(o.q));
  }
}

namespace {

void put_strings(ByteWriter& w, const std::vector<std::string>& v) {
  w.put<uint64_t>(v.size());
  for (const std::string& s : v) w.put_string(s);
}

}  // namespace

std::vector<uint8_t> linear_outcome_bytes(const LinearOutcome& o) {
  ByteWriter w;
  w.put<int64_t>(o.q.rows);
  w.put<int64_t>(o.q.cols);
  w.put<IntQuantSpec>(o.q.spec);
  w.put_vector(o.q.q);
  w.put_vector(o.q.scales);
  w.put_vector(o.q.zeros);
  w.put_vector(o.q.g_idx);
  w.put_string(o.report.dump());
  put_strings(w, o.rtn_fallbacks);
  put_strings(w, o.warnings);
  return std::move(w.bytes());
}

LinearOutcome linear_outcome_from_bytes(const std::vector<uint8_t>& bytes, const std::string& name) {
  ByteReader r(bytes, "quantized " + name);
  LinearOutcome o;
  o.q.rows = r.get<int64_t>();
  o.q.cols = r.get<int64_t>();
  o.q.spec = r.get<IntQuantSpec>();
  o.q.q = r.get_vector<uint8_t>();
  o.q.scales = r.get_vector<float>();
  o.q.zeros = r.get_vector<int32_t>();
  o.q.g_idx = r.get_vector<int32_t>();
  const int64_t groups = o.q.cols > 0 ? o.q.n_groups() : 0;
  if (o.q.rows < 0 || o.q.cols < 0 || o.q.q.size() != size_t(o.q.rows * o.q.cols) ||
      o.q.scales.size() != size_t(o.q.rows * groups) || o.q.zeros.size() != o.q.scales.size() ||
      o.q.g_idx.size() != size_t(o.q.cols))
    fail("quantized {}: the message's arrays do not match a {} x {} weight", name, o.q.rows, o.q.cols);
  o.report = nlohmann::json::parse(r.get_string());
  for (auto* v : {&o.rtn_fallbacks, &o.warnings}) {
    const uint64_t n = r.get<uint64_t>();
    for (uint64_t i = 0; i < n; ++i) v->push_back(r.get_string());
  }
  if (!r.done()) fail("quantized {}: bytes left over in the message", name);
  return o;
}

}  // namespace llmq
