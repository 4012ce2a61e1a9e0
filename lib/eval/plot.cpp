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

const cv::Scalar kColors[] = {{180, 119, 31},  {14, 127, 255}, {44, 160, 44},   {40, 39, 214},
                              {189, 103, 148}, {75, 86, 140},  {194, 119, 227}, {34, 189, 188}};

void DrawPanel(cv::Mat& img, const cv::Rect& area, const Chart& chart) {
  const int left = 70, right = 20, top = 30, bottom = 40;
  const cv::Rect plot(area.x + left, area.y + top, area.width - left - right,
                      area.height - top - bottom);
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
  cv::putText(img, chart.title, {area.x + left, area.y + 20}, font, 0.55, {0, 0, 0}, 1,
              cv::LINE_AA);
  cv::rectangle(img, plot, {0, 0, 0}, 1);
  if (!std::isfinite(x0)) return;  // nothing to draw
  if (x1 == x0) x1 = x0 + 1;
  if (y1 == y0) {
    y0 -= 0.5 * std::max(1e-12, std::abs(y0));
    y1 += 0.5 * std::max(1e-12, std::abs(y1));
  }
  auto px = [&](double x) {
    return plot.x + static_cast<int>(std::lround((x - x0) / (x1 - x0) * plot.width));
  };
  auto py = [&](double y) {
    return plot.y + plot.height - static_cast<int>(std::lround((y - y0) / (y1 - y0) * plot.height));
  };
  cv::putText(img, Num(y1), {area.x + 4, plot.y + 10}, font, 0.4, {0, 0, 0}, 1, cv::LINE_AA);
  cv::putText(img, Num(y0), {area.x + 4, plot.y + plot.height}, font, 0.4, {0, 0, 0}, 1,
              cv::LINE_AA);
  cv::putText(img, Num(x0), {plot.x, plot.y + plot.height + 15}, font, 0.4, {0, 0, 0}, 1,
              cv::LINE_AA);
  cv::putText(img, Num(x1), {plot.x + plot.width - 40, plot.y + plot.height + 15}, font, 0.4,
              {0, 0, 0}, 1, cv::LINE_AA);
  cv::putText(img, chart.x_label, {plot.x + plot.width / 2 - 20, plot.y + plot.height + 32}, font,
              0.45, {0, 0, 0}, 1, cv::LINE_AA);
  // The legend sits in the top right corner, as wide as its longest name.
  int legend_w = 0;
  for (const auto& s : chart.series) {
    int base = 0;
    legend_w = std::max(legend_w, cv::getTextSize(s.name, font, 0.4, 1, &base).width);
  }
  const int legend_x = plot.x + std::max(0, plot.width - legend_w - 40);
  for (size_t k = 0; k < chart.series.size(); ++k) {
    const auto& s = chart.series[k];
    const cv::Scalar color = kColors[k % (sizeof kColors / sizeof kColors[0])];
    std::vector<cv::Point> pts;
    for (size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i)
      if (std::isfinite(s.x[i]) && std::isfinite(s.y[i])) pts.emplace_back(px(s.x[i]), py(s.y[i]));
    if (pts.size() == 1) cv::circle(img, pts[0], 2, color, cv::FILLED, cv::LINE_AA);
    if (pts.size() > 1) cv::polylines(img, pts, false, color, 2, cv::LINE_AA);
    const int ly = plot.y + 14 + 16 * static_cast<int>(k);
    cv::line(img, {legend_x, ly - 4}, {legend_x + 20, ly - 4}, color, 2);
    cv::putText(img, s.name, {legend_x + 25, ly}, font, 0.4, {0, 0, 0}, 1, cv::LINE_AA);
  }
}

cv::Mat LineCharts(const std::vector<Chart>& charts, int width, int panel_height) {
  cv::Mat img(panel_height * static_cast<int>(charts.size()), width, CV_8UC3,
              cv::Scalar(255, 255, 255));
  for (size_t i = 0; i < charts.size(); ++i)
    DrawPanel(img, cv::Rect(0, panel_height * static_cast<int>(i), width, panel_height), charts[i]);
  return img;
}

cv::Mat Bars(const BarChart& c, int width, int height) {
  cv::Mat img(height, width, CV_8UC3, cv::Scalar(255, 255, 255));
  const auto font = cv::FONT_HERSHEY_SIMPLEX;
  const int left = 60, right = 20, top = 50, bottom = 60;
  const cv::Rect plot(left, top, width - left - right, height - top - bottom);
  cv::putText(img, c.title, {left, 22}, font, 0.6, {0, 0, 0}, 1, cv::LINE_AA);
  // Legend on the title line's right, one swatch per series.
  int lx = width - right;
  for (size_t k = c.series.size(); k-- > 0;) {
    int base = 0;
    const cv::Size z = cv::getTextSize(c.series[k], font, 0.45, 1, &base);
    lx -= z.width + 26;
    cv::rectangle(img, cv::Rect(lx, 12, 14, 12), kColors[k % (sizeof kColors / sizeof kColors[0])],
                  cv::FILLED);
    cv::putText(img, c.series[k], {lx + 18, 23}, font, 0.45, {0, 0, 0}, 1, cv::LINE_AA);
  }
  const double y_max = c.y_max > 0 ? c.y_max : 1.0;
  auto py = [&](double v) {
    return plot.y + plot.height -
           static_cast<int>(std::lround(std::clamp(v / y_max, 0.0, 1.0) * plot.height));
  };
  for (int t = 0; t <= 4; ++t) {
    const double v = y_max * t / 4;
    const int y = py(v);
    cv::line(img, {plot.x, y}, {plot.x + plot.width, y}, {225, 225, 225}, 1);
    cv::putText(img, c.percent ? Num(100 * v) + "%" : Num(v), {6, y + 4}, font, 0.4, {0, 0, 0}, 1,
                cv::LINE_AA);
  }
  cv::line(img, {plot.x, plot.y + plot.height}, {plot.x + plot.width, plot.y + plot.height},
           {0, 0, 0}, 1);
  const size_t groups = c.groups.size(), series = std::max<size_t>(c.series.size(), 1);
  if (groups == 0) return img;
  const double slot = static_cast<double>(plot.width) / groups;
  const double bar = std::min(40.0, 0.8 * slot / series);
  for (size_t g = 0; g < groups; ++g) {
    const double x0 = plot.x + g * slot + (slot - bar * series) / 2;
    for (size_t k = 0; k < c.series.size() && g < c.values.size() && k < c.values[g].size(); ++k) {
      const double v = c.values[g][k];
      if (!std::isfinite(v)) continue;
      const int xa = static_cast<int>(std::lround(x0 + k * bar)),
                xb = static_cast<int>(std::lround(x0 + (k + 1) * bar)) - 2;
      cv::rectangle(img, cv::Point(xa, py(v)), cv::Point(xb, plot.y + plot.height),
                    kColors[k % (sizeof kColors / sizeof kColors[0])], cv::FILLED);
      char label[32];
      std::snprintf(label, sizeof label, c.percent ? "%.0f" : "%.3g", c.percent ? 100 * v : v);
      cv::putText(img, label, {xa, py(v) - 4}, font, 0.38, {0, 0, 0}, 1, cv::LINE_AA);
    }
    int base = 0;
    const cv::Size z = cv::getTextSize(c.groups[g], font, 0.45, 1, &base);
    const int cx = static_cast<int>(std::lround(plot.x + (g + 0.5) * slot));
    cv::putText(img, c.groups[g],
                {cx - z.width / 2, plot.y + plot.height + 20 + 16 * static_cast<int>(g % 2)}, font,
                0.45, {0, 0, 0}, 1, cv::LINE_AA);
  }
  return img;
}

void Write(const std::filesystem::path& png, const cv::Mat& img, const char* what) {
  if (!cv::imwrite(png.string(), img))
    throw std::runtime_error(std::string("cannot write the ") + what + " " + png.string());
}

}  // namespace

void WriteBarChart(const std::filesystem::path& png, const BarChart& chart, int width, int height) {
  Write(png, Bars(chart, width, height), "bar chart");
}

void WriteSummary(const std::filesystem::path& png, const BarChart& bars,
                  const std::vector<Chart>& charts,
                  const std::vector<std::filesystem::path>& images, int width, int panel_height) {
  std::vector<cv::Mat> rows = {Bars(bars, width, 360)};
  if (!charts.empty()) rows.push_back(LineCharts(charts, width, panel_height));
  if (!images.empty()) {
    // Side by side, each scaled to an equal share of the width (never enlarged).
    const int share = width / static_cast<int>(images.size());
    std::vector<cv::Mat> tiles;
    int h = 0;
    for (const auto& f : images) {
      cv::Mat m = cv::imread(f.string(), cv::IMREAD_COLOR);
      if (m.empty()) throw std::runtime_error("cannot read the image " + f.string());
      if (m.cols > share)
        cv::resize(m, m, {share, std::max(1, m.rows * share / m.cols)}, 0, 0, cv::INTER_AREA);
      h = std::max(h, m.rows);
      tiles.push_back(m);
    }
    cv::Mat row(h, width, CV_8UC3, cv::Scalar(255, 255, 255));
    for (size_t i = 0; i < tiles.size(); ++i)
      tiles[i].copyTo(row(cv::Rect(static_cast<int>(i) * share, 0, tiles[i].cols, tiles[i].rows)));
    rows.push_back(row);
  }
  cv::Mat img;
  cv::vconcat(rows, img);
  Write(png, img, "summary");
}

void WriteLineCharts(const std::filesystem::path& png, const std::vector<Chart>& charts, int width,
                     int panel_height) {
  if (charts.empty()) throw std::invalid_argument("WriteLineCharts: no chart");
  Write(png, LineCharts(charts, width, panel_height), "chart");
}

}  // namespace vstar::eval
