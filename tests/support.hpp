#pragma once
// Helpers shared by all test executables: paths to the source/build trees and to ../shared, and a
// subprocess runner for pipeline tests of the real binaries.
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

namespace vstar::test {

std::filesystem::path SourceDir();
std::filesystem::path BinDir();     // build/bin
std::filesystem::path BinaryDir();  // build/
std::filesystem::path FixtureDir(); // tests/fixtures
// ../shared next to the checkout (override with $VSTAR_SHARED); empty path if it is absent.
std::filesystem::path SharedDir();
// A fresh empty directory under the build tree, removed at exit of the test process.
std::filesystem::path TempDir(const std::string& tag);

struct RunResult {
  int status = -1;  // exit code, or 128+signal
  std::string out;
  std::string err;
};
// Runs argv[0] (a name in build/bin, or a path) with `input` on stdin. `env` entries are added to the
// environment (VSTAR_CACHE points into the build tree unless given).
RunResult Run(const std::vector<std::string>& argv, const std::string& input = "",
              const std::map<std::string, std::string>& env = {});

std::vector<std::string> Lines(const std::string& text);
std::string ReadFile(const std::filesystem::path& p);
void WriteFile(const std::filesystem::path& p, const std::string& data);

}  // namespace vstar::test

// Skips the rest of a test when a ../shared asset is missing, loudly (Catch2 v2 has no SKIP).
#define VSTAR_REQUIRE_SHARED(rel)                                                              \
  do {                                                                                         \
    if (::vstar::test::SharedDir().empty() ||                                                  \
        !std::filesystem::exists(::vstar::test::SharedDir() / (rel))) {                        \
      WARN("SKIPPED: ../shared/" << (rel) << " is absent; this test needs the shared assets"); \
      return;                                                                                  \
    }                                                                                          \
  } while (0)
