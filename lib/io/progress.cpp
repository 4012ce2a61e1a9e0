#include "io/progress.hpp"

#include <cstdio>

namespace vstar::io {

ProgressBar::ProgressBar(std::string label, std::optional<size_t> total, bool enabled)
    : label_(std::move(label)), total_(total), enabled_(enabled) {
  start_ = last_draw_ = std::chrono::steady_clock::now();
}

namespace {
std::string Clock(double seconds) {
  long s = static_cast<long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%02ld:%02ld", s / 60, s % 60);
  return buf;
}
}  // namespace

std::string ProgressBar::Format(const std::string& label, size_t done, std::optional<size_t> total,
                                double seconds, const std::string& note) {
  double rate = seconds > 0 ? done / seconds : 0.0;
  char buf[256];
  std::string text = label + " ";
  if (total && *total > 0) {
    const int width = 24;
    int filled = static_cast<int>(width * std::min<double>(1.0, double(done) / *total));
    text += "[" + std::string(filled, '#') + std::string(width - filled, '.') + "] ";
    std::snprintf(buf, sizeof buf, "%zu/%zu records  %.2f rec/s", done, *total, rate);
    text += buf;
    if (!note.empty()) text += "  " + note;
    if (rate > 0 && done < *total) text += "  ETA " + Clock((*total - done) / rate);
  } else {
    std::snprintf(buf, sizeof buf, "%zu records  %.2f rec/s", done, rate);
    text += buf;
    if (!note.empty()) text += "  " + note;
  }
  text += "  " + Clock(seconds);
  return text;
}

void ProgressBar::Draw() {
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::fprintf(stderr, "\r\033[K%s", Format(label_, done_, total_, secs, note_).c_str());
  std::fflush(stderr);
}

void ProgressBar::Tick(size_t n) {
  done_ += n;
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  if (now - last_draw_ < std::chrono::milliseconds(100) && !(total_ && done_ == *total_)) return;
  last_draw_ = now;
  Draw();
}

void ProgressBar::Finish() {
  if (!enabled_ || finished_) return;
  finished_ = true;
  Draw();
  std::fputc('\n', stderr);
}

}  // namespace vstar::io
