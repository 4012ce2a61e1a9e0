#include "io/log.hpp"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <stdexcept>

namespace vstar::log {
namespace {

Level InitialLevel() {
  const char* env = std::getenv("VSTAR_LOG_LEVEL");
  if (!env) return Level::kInfo;
  try {
    return ParseLevel(env);
  } catch (...) {
    return Level::kInfo;
  }
}

std::atomic<Level> g_level{InitialLevel()};
std::mutex g_mutex;
std::string g_program = "vstar";

}  // namespace

void SetLevel(Level level) { g_level = level; }
Level GetLevel() { return g_level; }

Level ParseLevel(std::string_view name) {
  if (name == "debug") return Level::kDebug;
  if (name == "info") return Level::kInfo;
  if (name == "warn" || name == "warning") return Level::kWarn;
  if (name == "error") return Level::kError;
  if (name == "quiet") return Level::kQuiet;
  throw std::invalid_argument("unknown log level '" + std::string(name) +
                              "' (debug, info, warn, error, quiet)");
}

void SetProgramName(std::string name) {
  std::lock_guard lock(g_mutex);
  g_program = std::move(name);
}

void Write(Level level, std::string_view message) {
  static const char* names[] = {"debug", "info", "warning", "error", ""};
  std::lock_guard lock(g_mutex);
  // On a terminal a progress bar may own the current line: clear it first.
  static const bool tty = isatty(STDERR_FILENO);
  std::fprintf(stderr, "%s%s: %s: %.*s\n", tty ? "\r\033[K" : "", g_program.c_str(), names[static_cast<int>(level)],
               static_cast<int>(message.size()), message.data());
  std::fflush(stderr);
}

}  // namespace vstar::log
