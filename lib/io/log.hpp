#pragma once
// Logging to stderr (stdout carries records only). Level set by --log-level or $VSTAR_LOG_LEVEL.
#include <sstream>
#include <string>
#include <string_view>

namespace vstar::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3, kQuiet = 4 };

void SetLevel(Level level);
Level GetLevel();
// Accepts debug|info|warn|error|quiet; throws std::invalid_argument otherwise.
Level ParseLevel(std::string_view name);
void SetProgramName(std::string name);
void Write(Level level, std::string_view message);

template <typename... Args>
std::string Cat(const Args&... args) {
  std::ostringstream s;
  (s << ... << args);
  return s.str();
}
template <typename... Args>
void Debug(const Args&... a) { if (GetLevel() <= Level::kDebug) Write(Level::kDebug, Cat(a...)); }
template <typename... Args>
void Info(const Args&... a) { if (GetLevel() <= Level::kInfo) Write(Level::kInfo, Cat(a...)); }
template <typename... Args>
void Warn(const Args&... a) { if (GetLevel() <= Level::kWarn) Write(Level::kWarn, Cat(a...)); }
template <typename... Args>
void Error(const Args&... a) { if (GetLevel() <= Level::kError) Write(Level::kError, Cat(a...)); }

}  // namespace vstar::log
