#pragma once
// Minimal SVG scatter plots (labelled points joined in x order, axes with
// ticks, optional dashed reference line), stacked as panels that share one
// image. Written by hand so that reports need no plotting dependency.
#include <optional>
#include <string>
#include <vector>

namespace llmq {

struct PlotPoint {
  double x = 0, y = 0;
  std::string label;
};

struct PlotPanel {
  std::string title, x_title, y_title;
  bool log_y = false;  // points with y <= 0 are left out on a log axis
  std::vector<PlotPoint> points;
  std::optional<double> reference_y;  // dashed horizontal line, e.g. the base model's perplexity
  std::string reference_label;
  std::optional<double> x_min, x_max;  // x range to cover besides the points (panels sharing an x axis)
};

// The points no other point beats at an equal or smaller x (lower y is
// better), in increasing x.
std::vector<PlotPoint> size_quality_frontier(std::vector<PlotPoint> points);

struct AxisTicks {
  double lo = 0, hi = 1;      // the axis range (ticks at both ends for linear axes)
  std::vector<double> ticks;  // where ticks and grid lines go
};

// "Nice" ticks (1, 2, 5 x 10^k steps) covering [lo, hi], about `target` of them.
AxisTicks linear_ticks(double lo, double hi, int target = 6);
// Ticks at decades covering [lo, hi] (lo > 0); also at 2x and 5x when the
// range spans fewer than three decades.
AxisTicks log_ticks(double lo, double hi);

// The panels stacked vertically in one SVG document.
std::string render_svg(const std::vector<PlotPanel>& panels, const std::string& title, int width = 760,
                       int panel_height = 380);

}  // namespace llmq
