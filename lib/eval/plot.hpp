#pragma once
// Small line charts written as PNG with OpenCV (training curves of vs-sft and GRPO): panels stacked
// vertically, each with its own y range, axes with min/max labels and a legend.
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
void WriteLineCharts(const std::filesystem::path& png, const std::vector<Chart>& charts, int width = 800,
                     int panel_height = 300);

}  // namespace vstar::eval
