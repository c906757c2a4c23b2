// A time plot as inline SVG: a frame with labelled axes (ticks at 1-2-5 steps, a log scale for
// latency), into which the caller draws with X() and Y(). Every time plot of a page gets the same
// width and time range, so a wave's parts line up.
//
// Thread-safety: a Plot is used by one thread.
#ifndef FAULTLINE_REPORT_INTERNAL_PLOT_H_
#define FAULTLINE_REPORT_INTERNAL_PLOT_H_

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <string_view>

namespace faultline::report::internal {

// A 1, 2 or 5 times a power of ten at least `raw`.
inline double NiceStep(double raw) {
  if (!(raw > 0)) return 1;
  const double p = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (m * p >= raw) return m * p;
  }
  return 10 * p;
}

// "0.5", "12", "1000": no trailing zeros.
inline std::string FormatTick(double v) {
  if (std::fabs(v) < 1e-9) return "0";
  std::string s = fmt::format("{:.3f}", v);
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s;
}

class Plot {
 public:
  Plot(double width, double total_height, double t0, double t1)
      : width_(width), t0_(t0), t1_(t1 > t0 ? t1 : t0 + 1), total_height_(total_height) {
    this->height = total_height_ - top - kBottom;
  }

  double X(double t) const { return kLeft + (t - t0_) / (t1_ - t0_) * (width_ - kLeft - kRight); }
  double Y(double v) const {
    double f = 0;
    if (y_log) {
      f = (std::log10(std::max(v, y0)) - std::log10(y0)) / (std::log10(y1) - std::log10(y0));
    } else {
      f = (v - y0) / (y1 - y0);
    }
    return top + height - std::clamp(f, 0.0, 1.0) * height;
  }

  // Opens the SVG and draws the grid, the ticks and the axis titles.
  void Begin(std::string_view id, std::string_view x_title, std::string_view y_title) {
    out += fmt::format(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" id=\"plot-{}\" "
        "width=\"{:.0f}\" height=\"{:.0f}\" viewBox=\"0 0 {:.0f} {:.0f}\">\n",
        id, width_, total_height_, width_, total_height_);
    const double x_step = NiceStep((t1_ - t0_) / 12);
    for (double t = std::ceil(t0_ / x_step) * x_step; t <= t1_ + 1e-9; t += x_step) {
      const double x = X(t);
      out += fmt::format(
          "<line class=\"grid\" x1=\"{:.1f}\" x2=\"{:.1f}\" y1=\"{:.1f}\" y2=\"{:.1f}\"/><text "
          "x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>\n",
          x, x, top, top + height, x, top + height + 14, FormatTick(t));
    }
    if (y_log) {
      for (double v = y0; v <= y1 * 1.0001; v *= 10) HorizontalTick(v);
    } else if (y1 > y0) {
      const double y_step = NiceStep((y1 - y0) / 5);
      for (double v = std::ceil(y0 / y_step) * y_step; v <= y1 + 1e-9; v += y_step) {
        HorizontalTick(v);
      }
    }
    out += fmt::format(
        "<line class=\"axis\" x1=\"{:.1f}\" x2=\"{:.1f}\" y1=\"{:.1f}\" y2=\"{:.1f}\"/>"
        "<line class=\"axis\" x1=\"{:.1f}\" x2=\"{:.1f}\" y1=\"{:.1f}\" y2=\"{:.1f}\"/>\n",
        kLeft, kLeft, top, top + height, kLeft, width_ - kRight, top + height, top + height);
    out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>\n",
                       (kLeft + width_ - kRight) / 2, total_height_ - 4, x_title);
    if (!y_title.empty()) {
      out += fmt::format(
          "<text x=\"14\" y=\"{:.1f}\" text-anchor=\"middle\" transform=\"rotate(-90 14 {:.1f})\">"
          "{}</text>\n",
          top + height / 2, top + height / 2, y_title);
    }
  }
  void End() { out += "</svg>\n"; }

  std::string out;
  bool y_log = false;
  double y0 = 0;
  double y1 = 1;
  double top = 8;
  double height = 0;

 private:
  static constexpr double kLeft = 64;
  static constexpr double kRight = 16;
  static constexpr double kBottom = 36;

  void HorizontalTick(double v) {
    const double y = Y(v);
    out += fmt::format(
        "<line class=\"grid\" x1=\"{:.1f}\" x2=\"{:.1f}\" y1=\"{:.1f}\" y2=\"{:.1f}\"/><text "
        "x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>\n",
        kLeft, width_ - kRight, y, y, kLeft - 4, y + 4, FormatTick(v));
  }

  double width_;
  double t0_;
  double t1_;
  double total_height_;
};

}  // namespace faultline::report::internal

#endif  // FAULTLINE_REPORT_INTERNAL_PLOT_H_
