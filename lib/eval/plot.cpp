#include "eval/plot.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <stdexcept>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace vstar::eval {
namespace {

std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

const cv::Scalar kColors[] = {{180, 119, 31}, {14, 127, 255}, {44, 160, 44}, {40, 39, 214}, {189, 103, 148}};

void DrawPanel(cv::Mat& img, const cv::Rect& area, const Chart& chart) {
  const int left = 70, right = 20, top = 30, bottom = 40;
  const cv::Rect plot(area.x + left, area.y + top, area.width - left - right, area.height - top - bottom);
  double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
  for (const auto& s : chart.series)
    for (size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
      x0 = std::min(x0, s.x[i]);
      x1 = std::max(x1, s.x[i]);
      y0 = std::min(y0, s.y[i]);
      y1 = std::max(y1, s.y[i]);
    }
  const auto font = cv::FONT_HERSHEY_SIMPLEX;
  cv::putText(img, chart.title, {area.x + left, area.y + 20}, font, 0.55, {0, 0, 0}, 1, cv::LINE_AA);
  cv::rectangle(img, plot, {0, 0, 0}, 1);
  if (!std::isfinite(x0)) return;  // nothing to draw
  if (x1 == x0) x1 = x0 + 1;
  if (y1 == y0) {
    y0 -= 0.5 * std::max(1e-12, std::abs(y0));
    y1 += 0.5 * std::max(1e-12, std::abs(y1));
  }
  auto px = [&](double x) { return plot.x + static_cast<int>(std::lround((x - x0) / (x1 - x0) * plot.width)); };
  auto py = [&](double y) { return plot.y + plot.height - static_cast<int>(std::lround((y - y0) / (y1 - y0) * plot.height)); };
  cv::putText(img, Num(y1), {area.x + 4, plot.y + 10}, font, 0.4, {0, 0, 0}, 1, cv::LINE_AA);
  cv::putText(img, Num(y0), {area.x + 4, plot.y + plot.height}, font, 0.4, {0, 0, 0}, 1, cv::LINE_AA);
  cv::putText(img, Num(x0), {plot.x, plot.y + plot.height + 15}, font, 0.4, {0, 0, 0}, 1, cv::LINE_AA);
  cv::putText(img, Num(x1), {plot.x + plot.width - 40, plot.y + plot.height + 15}, font, 0.4, {0, 0, 0}, 1, cv::LINE_AA);
  cv::putText(img, chart.x_label, {plot.x + plot.width / 2 - 20, plot.y + plot.height + 32}, font, 0.45, {0, 0, 0}, 1,
              cv::LINE_AA);
  for (size_t k = 0; k < chart.series.size(); ++k) {
    const auto& s = chart.series[k];
    const cv::Scalar color = kColors[k % (sizeof kColors / sizeof kColors[0])];
    std::vector<cv::Point> pts;
    for (size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i)
      if (std::isfinite(s.x[i]) && std::isfinite(s.y[i])) pts.emplace_back(px(s.x[i]), py(s.y[i]));
    if (pts.size() == 1) cv::circle(img, pts[0], 2, color, cv::FILLED, cv::LINE_AA);
    if (pts.size() > 1) cv::polylines(img, pts, false, color, 2, cv::LINE_AA);
    const int ly = plot.y + 14 + 16 * static_cast<int>(k);
    cv::line(img, {plot.x + plot.width - 150, ly - 4}, {plot.x + plot.width - 130, ly - 4}, color, 2);
    cv::putText(img, s.name, {plot.x + plot.width - 125, ly}, font, 0.4, {0, 0, 0}, 1, cv::LINE_AA);
  }
}

}  // namespace

void WriteLineCharts(const std::filesystem::path& png, const std::vector<Chart>& charts, int width, int panel_height) {
  if (charts.empty()) throw std::invalid_argument("WriteLineCharts: no chart");
  cv::Mat img(panel_height * static_cast<int>(charts.size()), width, CV_8UC3, cv::Scalar(255, 255, 255));
  for (size_t i = 0; i < charts.size(); ++i)
    DrawPanel(img, cv::Rect(0, panel_height * static_cast<int>(i), width, panel_height), charts[i]);
  if (!cv::imwrite(png.string(), img)) throw std::runtime_error("cannot write the chart " + png.string());
}

}  // namespace vstar::eval
