#pragma once
// A one-line progress bar on stderr: records done, rate, and ETA when the total is known. Redraws at
// most ten times a second; disabled when not shown (no TTY, --progress=never).
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <utility>

namespace vstar::io {

class ProgressBar {
 public:
  ProgressBar(std::string label, std::optional<size_t> total, bool enabled);
  ~ProgressBar() { Finish(); }
  void Tick(size_t n = 1);
  void Finish();
  // A short text drawn after the counts from the next redraw on (e.g. "loss 0.4321").
  void SetNote(std::string note) { note_ = std::move(note); }
  // The text drawn for `done` records after `seconds` (exposed for tests).
  static std::string Format(const std::string& label, size_t done, std::optional<size_t> total,
                            double seconds, const std::string& note = "");

 private:
  void Draw();
  std::string label_;
  std::string note_;
  std::optional<size_t> total_;
  bool enabled_;
  bool finished_ = false;
  size_t done_ = 0;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace vstar::io
