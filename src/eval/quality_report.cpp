#include "eval/quality_report.h"

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "eval/plot_svg.h"
#include "io/model_locator.h"

namespace llmq {

namespace {

// Columns are padded by what a terminal shows, so count code points, not bytes ("±").
size_t display_width(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xc0) != 0x80;
  return n;
}

std::string pad(const std::string& s, size_t w, bool right = false) {
  const size_t d = display_width(s);
  if (d >= w) return s;
  return right ? std::string(w - d, ' ') + s : s + std::string(w - d, ' ');
}

std::string percent(double fraction, int decimals) { return fmt::format("{:.{}f}%", 100.0 * fraction, decimals); }

// A value that would print as -0.00 (a model against itself) prints as +0.00.
double no_negative_zero(double v, int decimals) { return std::abs(v) < 0.5 * std::pow(10.0, -decimals) ? 0.0 : v; }

}  // namespace

std::string format_bytes(uint64_t bytes) {
  const double b = double(bytes);
  if (b >= 1024.0 * 1024 * 1024) return fmt::format("{:.2f} GiB", b / (1024.0 * 1024 * 1024));
  if (b >= 1024.0 * 1024) return fmt::format("{:.1f} MiB", b / (1024.0 * 1024));
  if (b >= 1024.0) return fmt::format("{:.1f} KiB", b / 1024.0);
  return fmt::format("{} B", bytes);
}

void assign_labels(std::vector<QualityRow>& rows) {
  std::map<std::string, int> uses;
  for (QualityRow& r : rows) {
    r.label = model_short_name(r.path);  // a cache snapshot shows its model name
    ++uses[r.label];
  }
  for (QualityRow& r : rows)
    if (uses[r.label] > 1) r.label = r.path;
}

void sort_by_size(std::vector<QualityRow>& rows) {
  std::stable_sort(rows.begin(), rows.end(), [](const QualityRow& a, const QualityRow& b) {
    if (a.file_bytes != b.file_bytes) return a.file_bytes > b.file_bytes;
    return a.label < b.label;
  });
}

std::string format_quality_table(const std::vector<QualityRow>& rows) {
  const std::vector<std::string> head = {"Model", "Perplexity", "Delta", "KLD", "Top-1", "Size", "BPW"};
  std::vector<std::vector<std::string>> cells;
  for (const QualityRow& r : rows) {
    const QualityMetrics& m = r.metrics;
    std::vector<std::string> c;
    c.push_back(r.is_base ? r.label + " (base)" : r.label);
    c.push_back(fmt::format("{:.4f} \u00b1 {:.4f}", m.ppl, m.ppl_stderr));
    if (r.is_base) {
      c.insert(c.end(), {"-", "-", "-"});
    } else {
      c.push_back(fmt::format("{:+.2f}% \u00b1 {:.2f}%", no_negative_zero(m.ppl_delta_pct, 2), m.ppl_delta_pct_stderr));
      c.push_back(fmt::format("{:.6f}", m.kld_mean));
      c.push_back(percent(m.top1_agreement, 2));
    }
    c.push_back(format_bytes(r.file_bytes));
    c.push_back(fmt::format("{:.2f}", r.bpw()));
    cells.push_back(std::move(c));
  }
  std::vector<size_t> w(head.size());
  for (size_t j = 0; j < head.size(); ++j) {
    w[j] = display_width(head[j]);
    for (const auto& c : cells) w[j] = std::max(w[j], display_width(c[j]));
  }
  // Text columns left-aligned, numbers right-aligned.
  auto line = [&](const std::vector<std::string>& c, bool header) {
    std::string s;
    for (size_t j = 0; j < c.size(); ++j) {
      if (j) s += " | ";
      s += pad(c[j], w[j], !header && j > 0);
    }
    while (!s.empty() && s.back() == ' ') s.pop_back();
    return s + "\n";
  };
  std::string out = line(head, true);
  std::string rule;
  for (size_t j = 0; j < w.size(); ++j) rule += (j ? "-|-" : "") + std::string(w[j], '-');
  out += rule + "\n";
  for (const auto& c : cells) out += line(c, false);
  return out;
}

std::string format_quality_details(const QualityRow& r) {
  const QualityMetrics& m = r.metrics;
  std::string s;
  s += fmt::format("Model:               {} ({}{}, {}, {:.2f} bits per weight)\n", r.label, r.format,
                   r.dtype.empty() ? "" : " " + r.dtype, format_bytes(r.file_bytes), r.bpw());
  s += fmt::format("Tokens scored:       {}\n", m.tokens);
  s += fmt::format("PPL (base):          {:.4f} \u00b1 {:.4f}\n", m.ppl_base, m.ppl_base_stderr);
  s += fmt::format("PPL (model):         {:.4f} \u00b1 {:.4f}\n", m.ppl, m.ppl_stderr);
  s += fmt::format("ln(PPL ratio):       {:.6f} \u00b1 {:.6f}\n", no_negative_zero(m.ln_ppl_ratio, 6), m.ln_ppl_ratio_stderr);
  s += fmt::format("PPL change:          {:+.4f} \u00b1 {:.4f} ({:+.3f}% \u00b1 {:.3f}%)\n",
                   no_negative_zero(m.ppl_delta, 4), m.ppl_delta_stderr, no_negative_zero(m.ppl_delta_pct, 3),
                   m.ppl_delta_pct_stderr);
  s += fmt::format("Mean KLD:            {:.6f} \u00b1 {:.6f}\n", m.kld_mean, m.kld_stderr);
  s += fmt::format("KLD percentiles:     median {:.6f}, 90% {:.6f}, 99% {:.6f}, 99.9% {:.6f}, max {:.6f}\n",
                   m.kld_median, m.kld_p90, m.kld_p99, m.kld_p999, m.kld_max);
  s += fmt::format("Top-1 agreement:     {} \u00b1 {}\n", percent(m.top1_agreement, 3),
                   percent(m.top1_agreement_stderr, 3));
  s += fmt::format("Same top-{:g} set:    {} \u00b1 {}\n", m.top_p, percent(m.same_top_p, 3),
                   percent(m.same_top_p_stderr, 3));
  s += fmt::format("RMS \u0394p (target):     {}\n", percent(m.rms_p_diff, 3));
  s += fmt::format("Mean entropy:        {:.4f} nats (base {:.4f})\n", m.entropy_model, m.entropy_base);
  s += fmt::format("Evaluation:          {:.1f} s, {:.1f} tokens/s\n", m.seconds, m.tokens_per_second);
  return s;
}

nlohmann::json row_to_json(const QualityRow& r) {
  const QualityMetrics& m = r.metrics;
  nlohmann::json j = {
      {"model", r.label},
      {"path", r.path},
      {"format", r.format},
      {"dtype", r.dtype},
      {"is_base", r.is_base},
      {"file_bytes", r.file_bytes},
      {"size_mib", double(r.file_bytes) / (1024.0 * 1024.0)},
      {"n_params", r.n_params},
      {"bpw", r.bpw()},
      {"tokens", m.tokens},
      {"perplexity", m.ppl},
      {"perplexity_stderr", m.ppl_stderr},
      {"base_perplexity", m.ppl_base},
      {"base_perplexity_stderr", m.ppl_base_stderr},
      {"ln_ppl_ratio", m.ln_ppl_ratio},
      {"ln_ppl_ratio_stderr", m.ln_ppl_ratio_stderr},
      {"ppl_delta", m.ppl_delta},
      {"ppl_delta_stderr", m.ppl_delta_stderr},
      {"ppl_delta_pct", m.ppl_delta_pct},
      {"ppl_delta_pct_stderr", m.ppl_delta_pct_stderr},
      {"kld_mean", m.kld_mean},
      {"kld_stderr", m.kld_stderr},
      {"kld_median", m.kld_median},
      {"kld_p90", m.kld_p90},
      {"kld_p99", m.kld_p99},
      {"kld_p999", m.kld_p999},
      {"kld_max", m.kld_max},
      {"top1_agreement", m.top1_agreement},
      {"top1_agreement_stderr", m.top1_agreement_stderr},
      {"top_p", m.top_p},
      {"same_top_p", m.same_top_p},
      {"same_top_p_stderr", m.same_top_p_stderr},
      {"rms_p_diff", m.rms_p_diff},
      {"entropy", m.entropy_model},
      {"base_entropy", m.entropy_base},
      {"seconds", m.seconds},
      {"tokens_per_second", m.tokens_per_second},
  };
  if (r.gate) j["gate"] = {{"passed", r.gate->passed}, {"violations", r.gate->violations}};
  return j;
}

nlohmann::json rows_to_json(const std::vector<QualityRow>& rows) {
  nlohmann::json a = nlohmann::json::array();
  for (const QualityRow& r : rows) a.push_back(row_to_json(r));
  return a;
}

std::string quality_plot_svg(const std::vector<QualityRow>& rows, PlotMetric metric, const std::string& title) {
  std::vector<PlotPanel> panels;
  double x_min = 0, x_max = 0;  // both panels share the bits-per-weight axis
  for (size_t i = 0; i < rows.size(); ++i) {
    x_min = i ? std::min(x_min, rows[i].bpw()) : rows[i].bpw();
    x_max = i ? std::max(x_max, rows[i].bpw()) : rows[i].bpw();
  }
  if (metric != PlotMetric::Perplexity) {
    PlotPanel p;
    p.title = "Mean KL divergence from the base vs size";
    p.x_title = "bits per weight";
    p.y_title = "mean KLD (nats)";
    p.log_y = true;
    p.x_min = x_min;
    p.x_max = x_max;
    for (const QualityRow& r : rows)
      if (!r.is_base) p.points.push_back({r.bpw(), r.metrics.kld_mean, r.label});
    panels.push_back(std::move(p));
  }
  if (metric != PlotMetric::Kld) {
    PlotPanel p;
    p.title = "Perplexity vs size";
    p.x_title = "bits per weight";
    p.y_title = "perplexity";
    p.x_min = x_min;
    p.x_max = x_max;
    for (const QualityRow& r : rows) {
      p.points.push_back({r.bpw(), r.metrics.ppl, r.label});
      if (r.is_base) {
        p.reference_y = r.metrics.ppl;
        p.reference_label = fmt::format("base {:.3f}", r.metrics.ppl);
      }
    }
    panels.push_back(std::move(p));
  }
  return render_svg(panels, title);
}

}  // namespace llmq
