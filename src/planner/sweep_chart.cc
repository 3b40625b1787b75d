// planner/sweep_chart.cc: drawing a budget sweep as an SVG line chart.
#include "planner/sweep_chart.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "core/units.h"
#include "planner/plan_picture.h"

namespace strata::planner {

namespace {

// A round step that cuts [0, top] into about n intervals (1, 2 or 5 times a power of ten).
double nice_step(double top, int n) {
  const double raw = std::max(top, 1e-9) / n;
  const double p = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0})
    if (m * p >= raw) return m * p;
  return 10 * p;
}

}  // namespace

std::string sweep_svg(std::span<const SweepPoint> points, std::string_view title, std::string_view budget_name) {
  constexpr int kWidth = 720, kHeight = 420, kLeft = 64, kRight = 24, kTop = 56, kBottom = 70;
  const int plot_w = kWidth - kLeft - kRight, plot_h = kHeight - kTop - kBottom;
  double x_lo = 0, x_hi = 1, y_hi = 1;
  if (!points.empty()) {
    x_lo = x_hi = static_cast<double>(points.front().budget_bytes) / kGiB;
    for (const SweepPoint& p : points) {
      const double x = static_cast<double>(p.budget_bytes) / kGiB;
      x_lo = std::min(x_lo, x), x_hi = std::max(x_hi, x);
      y_hi = std::max({y_hi, p.achieved_tokens_per_s, p.predicted_tokens_per_s});
    }
  }
  if (x_hi - x_lo < 1e-9) x_lo -= 0.5, x_hi += 0.5;
  const double y_step = nice_step(y_hi * 1.05, 5);
  const double y_top = std::ceil(y_hi * 1.05 / y_step) * y_step;
  auto px = [&](double gib) { return kLeft + (gib - x_lo) / (x_hi - x_lo) * plot_w; };
  auto py = [&](double tps) { return kTop + plot_h - tps / y_top * plot_h; };

  std::string s = fmt::format(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
      "font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\" class=\"strata-sweep\">\n"
      "<rect width=\"{0}\" height=\"{1}\" fill=\"#ffffff\"/>\n",
      kWidth, kHeight);
  s += fmt::format("<text x=\"8\" y=\"22\" font-size=\"15\" font-weight=\"bold\">{}</text>\n", xml_escape(title));
  // Axes, gridlines and ticks: tok/s every y_step; a tick at each swept budget.
  for (double v = 0; v <= y_top + y_step / 2; v += y_step) {
    const double y = py(v);
    s += fmt::format("<line x1=\"{}\" x2=\"{}\" y1=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#e4e4e4\"/>"
                     "<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\" fill=\"#444\">{:g}</text>\n",
                     kLeft, kLeft + plot_w, y, y, kLeft - 6, y + 4, v);
  }
  s += fmt::format("<line x1=\"{0}\" x2=\"{0}\" y1=\"{1}\" y2=\"{2}\" stroke=\"#222\"/>"
                   "<line x1=\"{0}\" x2=\"{3}\" y1=\"{2}\" y2=\"{2}\" stroke=\"#222\"/>\n",
                   kLeft, kTop, kTop + plot_h, kLeft + plot_w);
  for (const SweepPoint& p : points) {
    const double x = px(static_cast<double>(p.budget_bytes) / kGiB);
    s += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\" fill=\"#444\">{}</text>\n", x,
                     kTop + plot_h + 16, xml_escape(format_bytes(p.budget_bytes)));
  }
  s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{} budget</text>\n", kLeft + plot_w / 2,
                   kTop + plot_h + 36, xml_escape(budget_name));
  s += fmt::format(
      "<text x=\"14\" y=\"{0}\" transform=\"rotate(-90 14 {0})\" text-anchor=\"middle\">decode tok/s</text>\n",
      kTop + plot_h / 2);
  // The bound (dashed) and what was achieved (solid, dotted with the mode).
  std::string bound, achieved;
  for (const SweepPoint& p : points) {
    const double x = px(static_cast<double>(p.budget_bytes) / kGiB);
    bound += fmt::format("{}{:.1f},{:.1f}", bound.empty() ? "" : " ", x, py(p.predicted_tokens_per_s));
    achieved += fmt::format("{}{:.1f},{:.1f}", achieved.empty() ? "" : " ", x, py(p.achieved_tokens_per_s));
  }
  s += fmt::format("<polyline class=\"bound\" points=\"{}\" fill=\"none\" stroke=\"#e15759\" stroke-width=\"2\" "
                   "stroke-dasharray=\"6 4\"/>\n",
                   bound);
  s += fmt::format("<polyline class=\"achieved\" points=\"{}\" fill=\"none\" stroke=\"#4e79a7\" stroke-width=\"2\"/>\n",
                   achieved);
  for (const SweepPoint& p : points) {
    const double x = px(static_cast<double>(p.budget_bytes) / kGiB), y = py(p.achieved_tokens_per_s);
    s += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"4\" fill=\"#4e79a7\" data-budget-bytes=\"{}\" "
                     "data-achieved=\"{:.4g}\" data-predicted=\"{:.4g}\" data-mode=\"{}\"><title>{}: {:.2f} tok/s "
                     "achieved, {:.2f} predicted, {}</title></circle>\n",
                     x, y, p.budget_bytes, p.achieved_tokens_per_s, p.predicted_tokens_per_s, xml_escape(p.mode),
                     xml_escape(format_bytes(p.budget_bytes)), p.achieved_tokens_per_s, p.predicted_tokens_per_s,
                     xml_escape(p.mode));
    s += fmt::format(
        "<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\" fill=\"#666\" font-size=\"10\">{}</text>\n", x,
        y - 8, xml_escape(p.mode));
  }
  const int ly = kHeight - 14;
  s += fmt::format("<line x1=\"{0}\" x2=\"{1}\" y1=\"{2}\" y2=\"{2}\" stroke=\"#4e79a7\" stroke-width=\"2\"/>"
                   "<text x=\"{3}\" y=\"{4}\">achieved (median)</text>\n",
                   kLeft, kLeft + 24, ly, kLeft + 30, ly + 4);
  s += fmt::format("<line x1=\"{0}\" x2=\"{1}\" y1=\"{2}\" y2=\"{2}\" stroke=\"#e15759\" stroke-width=\"2\" "
                   "stroke-dasharray=\"6 4\"/><text x=\"{3}\" y=\"{4}\">plan's bound (predicted)</text>\n",
                   kLeft + 170, kLeft + 194, ly, kLeft + 200, ly + 4);
  s += "</svg>\n";
  return s;
}

}  // namespace strata::planner
