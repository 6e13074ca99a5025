#include "eval/plot_svg.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace llmq {

namespace {

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string tick_label(double v) {
  if (v == 0) return "0";
  return fmt::format("{:g}", std::abs(v) < 1e-12 ? 0.0 : v);
}

// Widens a degenerate or empty range so that axes always have extent.
void widen(double& lo, double& hi, bool log) {
  if (!(lo < hi)) {
    const double pad = log ? 0.0 : std::max(std::abs(lo) * 0.1, 1.0);
    if (log) {
      lo /= 2;
      hi *= 2;
    } else {
      lo -= pad;
      hi += pad;
    }
  }
}

constexpr int kLeft = 84, kRight = 28, kTop = 44, kBottom = 56;

}  // namespace

AxisTicks linear_ticks(double lo, double hi, int target) {
  widen(lo, hi, false);
  const double raw = (hi - lo) / std::max(1, target);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / mag;  // in [1, 10): round to the nearest of 1, 2, 5, 10
  const double step = mag * (f < 1.5 ? 1.0 : f < 3.0 ? 2.0 : f < 7.0 ? 5.0 : 10.0);
  AxisTicks t;
  t.lo = std::floor(lo / step) * step;
  t.hi = std::ceil(hi / step) * step;
  const int n = int(std::lround((t.hi - t.lo) / step));
  for (int i = 0; i <= n; ++i) {
    const double v = t.lo + i * step;  // not accumulated, so no drift
    t.ticks.push_back(std::abs(v) < step * 1e-9 ? 0.0 : v);
  }
  return t;
}

AxisTicks log_ticks(double lo, double hi) {
  widen(lo, hi, true);
  const int d0 = int(std::floor(std::log10(lo))), d1 = int(std::ceil(std::log10(hi)));
  AxisTicks t;
  t.lo = std::pow(10.0, d0);
  t.hi = std::pow(10.0, d1);
  const bool fine = d1 - d0 < 3;
  for (int d = d0; d <= d1; ++d) {
    const double base = std::pow(10.0, d);
    t.ticks.push_back(base);
    if (fine && d < d1) {
      t.ticks.push_back(2 * base);
      t.ticks.push_back(5 * base);
    }
  }
  return t;
}

static void render_panel(std::string& svg, const PlotPanel& p, int y0, int width, int height) {
  std::vector<PlotPoint> pts;
  for (const PlotPoint& q : p.points)
    if (std::isfinite(q.x) && std::isfinite(q.y) && (!p.log_y || q.y > 0)) pts.push_back(q);
  std::sort(pts.begin(), pts.end(), [](const PlotPoint& a, const PlotPoint& b) { return a.x < b.x; });

  double xmin = 0, xmax = 1, ymin = p.log_y ? 0.01 : 0, ymax = 1;
  if (!pts.empty()) {
    xmin = xmax = pts[0].x;
    ymin = ymax = pts[0].y;
    for (const PlotPoint& q : pts) {
      xmin = std::min(xmin, q.x), xmax = std::max(xmax, q.x);
      ymin = std::min(ymin, q.y), ymax = std::max(ymax, q.y);
    }
  }
  if (p.x_min) xmin = pts.empty() ? *p.x_min : std::min(xmin, *p.x_min);
  if (p.x_max) xmax = pts.empty() ? *p.x_max : std::max(xmax, *p.x_max);
  if (p.reference_y && (!p.log_y || *p.reference_y > 0)) {
    ymin = std::min(ymin, *p.reference_y);
    ymax = std::max(ymax, *p.reference_y);
  }
  const double xpad = (xmax - xmin) * 0.06, ypad = p.log_y ? 0.0 : (ymax - ymin) * 0.08;
  const AxisTicks xt = linear_ticks(xmin - xpad, xmax + xpad, 8);
  const AxisTicks yt = p.log_y ? log_ticks(ymin, ymax) : linear_ticks(ymin - ypad, ymax + ypad, 6);

  const double px0 = kLeft, px1 = width - kRight, py0 = y0 + kTop, py1 = y0 + height - kBottom;
  auto sx = [&](double x) { return px0 + (x - xt.lo) / (xt.hi - xt.lo) * (px1 - px0); };
  auto sy = [&](double y) {
    const double f = p.log_y ? (std::log10(y) - std::log10(yt.lo)) / (std::log10(yt.hi) - std::log10(yt.lo))
                             : (y - yt.lo) / (yt.hi - yt.lo);
    return py1 - f * (py1 - py0);
  };

  svg += fmt::format("<g class=\"panel\">\n<text x=\"{}\" y=\"{}\" font-size=\"15\" font-weight=\"bold\">{}</text>\n",
                     px0, y0 + 26, xml_escape(p.title));
  // Grid, ticks and tick labels.
  for (double v : xt.ticks) {
    const double x = sx(v);
    svg += fmt::format("<line class=\"grid\" x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\" stroke=\"#e4e4e4\"/>\n"
                       "<line class=\"tick\" x1=\"{0:.1f}\" y1=\"{2:.1f}\" x2=\"{0:.1f}\" y2=\"{3:.1f}\" stroke=\"#333\"/>\n"
                       "<text class=\"xtick\" x=\"{0:.1f}\" y=\"{4:.1f}\" font-size=\"11\" text-anchor=\"middle\">{5}</text>\n",
                       x, py0, py1, py1 + 5, py1 + 18, tick_label(v));
  }
  for (double v : yt.ticks) {
    const double y = sy(v);
    svg += fmt::format("<line class=\"grid\" x1=\"{0:.1f}\" y1=\"{2:.1f}\" x2=\"{1:.1f}\" y2=\"{2:.1f}\" stroke=\"#e4e4e4\"/>\n"
                       "<line class=\"tick\" x1=\"{3:.1f}\" y1=\"{2:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\" stroke=\"#333\"/>\n"
                       "<text class=\"ytick\" x=\"{4:.1f}\" y=\"{5:.1f}\" font-size=\"11\" text-anchor=\"end\">{6}</text>\n",
                       px0, px1, y, px0 - 5, px0 - 8, y + 4, tick_label(v));
  }
  svg += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#333\"/>\n", px0, py0,
                     px1 - px0, py1 - py0);
  svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"13\" text-anchor=\"middle\">{}</text>\n",
                     (px0 + px1) / 2, py1 + 40, xml_escape(p.x_title));
  svg += fmt::format("<text x=\"{0:.1f}\" y=\"{1:.1f}\" font-size=\"13\" text-anchor=\"middle\" "
                     "transform=\"rotate(-90 {0:.1f} {1:.1f})\">{2}</text>\n",
                     px0 - 62, (py0 + py1) / 2, xml_escape(p.y_title + (p.log_y ? " (log scale)" : "")));

  struct Box {
    double x0, x1, y;
  };
  std::vector<Box> placed;  // labels drawn so far, to move a new one below its point if it would collide
  if (p.reference_y && (!p.log_y || *p.reference_y > 0)) {
    // At the left end: small models sit far above the base line there, so the label is rarely covered.
    const double y = sy(*p.reference_y);
    svg += fmt::format("<line class=\"reference\" x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" "
                       "stroke=\"#888\" stroke-dasharray=\"6 4\"/>\n",
                       px0, y, px1, y);
    if (!p.reference_label.empty()) {
      svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"11\" fill=\"#666\">{}</text>\n", px0 + 4,
                         y - 4, xml_escape(p.reference_label));
      placed.push_back({px0 + 4, px0 + 4 + 6.5 * double(p.reference_label.size()), y - 4});
    }
  }
  // The line joins only the points that no other point beats at an equal or
  // smaller size (lower is better on both metrics): the size/quality
  // frontier. Joining every point would draw a trade-off curve through
  // methods that are simply worse (e.g. a larger file with higher KLD).
  const std::vector<PlotPoint> frontier = size_quality_frontier(pts);
  if (frontier.size() > 1) {
    std::string path;
    for (const PlotPoint& q : frontier)
      path += fmt::format("{}{:.1f},{:.1f}", path.empty() ? "M" : " L", sx(q.x), sy(q.y));
    svg += fmt::format("<path class=\"frontier\" d=\"{}\" fill=\"none\" stroke=\"#4a7ab5\" stroke-width=\"1.5\"/>\n",
                       path);
  }
  for (const PlotPoint& q : pts) {
    const double x = sx(q.x), y = sy(q.y);
    svg += fmt::format("<circle class=\"point\" cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"4.5\" fill=\"#d9534f\">"
                       "<title>{}: x={:g}, y={:g}</title></circle>\n",
                       x, y, xml_escape(q.label), q.x, q.y);
    // Labels go left of points near the right edge so they stay inside.
    const double w = 6.5 * double(q.label.size());  // about 11px sans-serif
    const bool left = x + 7 + w > px1;
    const double x0 = left ? x - 7 - w : x + 7, x1 = left ? x - 7 : x + 7 + w;
    double ly = y - 7;
    for (const Box& b : placed)
      if (x0 < b.x1 && b.x0 < x1 && std::abs(b.y - ly) < 13) ly = y + 17;
    placed.push_back({x0, x1, ly});
    svg += fmt::format("<text class=\"label\" x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"11\" text-anchor=\"{}\">{}</text>\n",
                       left ? x - 7 : x + 7, ly, left ? "end" : "start", xml_escape(q.label));
  }
  svg += "</g>\n";
}

std::vector<PlotPoint> size_quality_frontier(std::vector<PlotPoint> points) {
  std::sort(points.begin(), points.end(),
            [](const PlotPoint& a, const PlotPoint& b) { return a.x != b.x ? a.x < b.x : a.y < b.y; });
  std::vector<PlotPoint> frontier;
  for (const PlotPoint& q : points)
    if (frontier.empty() || q.y < frontier.back().y) frontier.push_back(q);
  return frontier;
}

std::string render_svg(const std::vector<PlotPanel>& panels, const std::string& title, int width, int panel_height) {
  const int title_h = title.empty() ? 0 : 34;
  const int height = title_h + panel_height * int(std::max<size_t>(1, panels.size()));
  std::string svg = fmt::format(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
      "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n"
      "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
      width, height);
  if (!title.empty())
    svg += fmt::format("<text x=\"{}\" y=\"24\" font-size=\"17\" text-anchor=\"middle\">{}</text>\n", width / 2,
                       xml_escape(title));
  for (size_t i = 0; i < panels.size(); ++i)
    render_panel(svg, panels[i], title_h + int(i) * panel_height, width, panel_height);
  svg += "</svg>\n";
  return svg;
}

}  // namespace llmq
