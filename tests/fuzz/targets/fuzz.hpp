#pragma once
// Shared by the fuzz targets: the input as text, split into fields at NUL bytes (so one input can
// carry several strings, e.g. a completion and a solution), and logging silenced once.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "io/log.hpp"

namespace vstar::fuzz {

inline std::string_view Text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Exactly `n` fields: the input split at its first n-1 NUL bytes (missing fields are empty).
inline std::vector<std::string> Fields(const uint8_t* data, size_t size, size_t n) {
  std::vector<std::string> out(n);
  std::string_view s = Text(data, size);
  for (size_t i = 0; i < n; ++i) {
    size_t nul = i + 1 < n ? s.find('\0') : std::string_view::npos;
    out[i] = std::string(s.substr(0, nul));
    if (nul == std::string_view::npos) break;
    s.remove_prefix(nul + 1);
  }
  return out;
}

inline void Quiet() {
  static bool done = [] {
    log::SetLevel(log::Level::kQuiet);
    return true;
  }();
  (void)done;
}

// An invariant the code under test promises was broken: a crash libFuzzer records.
inline void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace vstar::fuzz
