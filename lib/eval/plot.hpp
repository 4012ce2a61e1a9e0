#pragma once
// Small charts written as PNG with OpenCV: line charts (training curves of vs-sft and vs-grpo),
// panels stacked vertically, each with its own y range, axes with min/max labels and a legend;
// grouped bar charts (vs-eval's accuracies per run); and a summary picture that stacks both over
// images.
#include <filesystem>
#include <string>
#include <vector>

namespace vstar::eval {

struct Series {
  std::string name;
  std::vector<double> x, y;  // same length; non-finite points are skipped
};

struct Chart {
  std::string title;
  std::string x_label;
  std::vector<Series> series;
};

// Writes the charts one above the other into a PNG of `width` x (panel_height * charts) pixels.
// Throws std::runtime_error when the file cannot be written.
void WriteLineCharts(const std::filesystem::path& png, const std::vector<Chart>& charts,
                     int width = 800, int panel_height = 300);

// Bars in groups: values[g][s] is series s of group g (NaN: no bar), drawn on 0..y_max with the
// value written over each bar (as a percentage of 1 when `percent`).
struct BarChart {
  std::string title;
  std::vector<std::string> groups, series;
  std::vector<std::vector<double>> values;
  double y_max = 1.0;
  bool percent = true;
};

void WriteBarChart(const std::filesystem::path& png, const BarChart& chart, int width = 900,
                   int height = 360);

// One picture: the bar chart, then the line charts (each panel_height high), then the PNG `images`
// side by side (scaled down to fit the width), all on white. Throws when an image cannot be read or
// the file cannot be written.
void WriteSummary(const std::filesystem::path& png, const BarChart& bars,
                  const std::vector<Chart>& charts,
                  const std::vector<std::filesystem::path>& images, int width = 1200,
                  int panel_height = 260);

}  // namespace vstar::eval
