#pragma once
// A one-line progress bar on stderr: records done, rate, and ETA when the total is known. Redraws at
// most ten times a second; disabled when not shown (no TTY, --progress=never).
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

namespace vstar::io {

class ProgressBar {
 public:
  ProgressBar(std::string label, std::optional<size_t> total, bool enabled);
  ~ProgressBar() { Finish(); }
  void Tick(size_t n = 1);
  void Finish();
  // The text drawn for `done` records after `seconds` (exposed for tests).
  static std::string Format(const std::string& label, size_t done, std::optional<size_t> total,
                            double seconds);

 private:
  void Draw();
  std::string label_;
  std::optional<size_t> total_;
  bool enabled_;
  bool finished_ = false;
  size_t done_ = 0;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace vstar::io
