#pragma once
// Helpers shared by all test executables: paths to the source/build trees and to ../shared, and a
// subprocess runner for pipeline tests of the real binaries.
#include <array>
#include <filesystem>
#include <map>
#include <sstream>
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

// The Ultralight-Nano-SimplePose TorchScript the build converts from ../shared (plugins/topdown), and
// what makes it (for VSTAR_REQUIRE_FILE).
std::filesystem::path SimplePoseModel();
inline constexpr const char* kSimplePoseHow =
    "the build converts ../shared's SimplePose ONNX with tools/convert_pose.py when the venv has onnx2torch";
// The project virtualenv's python ($VSTAR_VENV, else the venv the build was configured with).
std::filesystem::path VenvPython();
// True when `name` is an executable file in a $PATH directory.
bool HaveProgram(const std::string& name);
// The vs-* binaries this build configuration declares (cmd/vs-*.cpp, less those VSTAR_DEV_COMMANDS
// leaves out), whether or not they built; sorted.
const std::vector<std::string>& DeclaredBinaries();

// Skips. A test that cannot run reports *skipped* to ctest, never passed: Skip() prints the reason on
// stderr and counts it, the test case returns, and the process exits with kSkipExitCode (tests/main.cpp),
// which tests/CMakeLists.txt declares as every test's SKIP_RETURN_CODE. Where nothing may be missing a
// skip is a failure instead: SkipIsFailure() is true when ../shared and the virtualenv are both present
// (every machine we develop and run CI on, so a skip there means a moved asset or a broken set-up), or
// when VSTAR_NO_SKIP is set (non-empty, not 0) or CI=true.
inline constexpr int kSkipExitCode = 77;
bool SkipIsFailure();
// True when ../shared holds the shared data (its assets/ folder), not merely an empty directory.
bool SharedPresent();
// Fails the running test when SkipIsFailure(), else records the skip; use the macros below.
void Skip(const std::string& why);
// Records a skip that is never a failure (a part the build configuration leaves out on purpose).
void SkipConfigured(const std::string& why);
// Test cases of this process that skipped.
int SkippedCount();
// Why each requirement is not met, "" when it is (the VSTAR_REQUIRE_* macros below).
std::string MissingShared(const std::filesystem::path& rel);
std::string MissingVenv();
std::string MissingProgram(const std::string& name);
std::string MissingFile(const std::filesystem::path& path, const std::string& how);
std::string UndeclaredBinary(const std::string& name);

// Overlay oracle: what an overlay frame should show, in frame pixels.
struct Drawn {
  std::vector<std::array<double, 4>> boxes;     // x1 y1 x2 y2: outlines
  std::vector<std::array<double, 2>> points;    // keypoints: filled dots
  std::vector<std::array<double, 4>> segments;  // x1 y1 x2 y2: limbs
};
struct OverlayCheck {
  size_t changed = 0;      // pixels where the overlay differs from the frame
  size_t far = 0;          // of those, farther than the tolerance from everything in Drawn
  size_t marks = 0;        // sample pixels that must have been painted: box outlines, keypoint centres
  size_t marks_painted = 0;
  bool same_size = false;
};
// Compares an overlay with the frame it was drawn on (lossless files, read as RGB).
OverlayCheck CompareOverlay(const std::filesystem::path& frame, const std::filesystem::path& overlay,
                            const Drawn& drawn, double tolerance);

std::vector<std::string> Lines(const std::string& text);
std::string ReadFile(const std::filesystem::path& p);
void WriteFile(const std::filesystem::path& p, const std::string& data);

}  // namespace vstar::test

// Skips the rest of the test case with the reason `why` (anything that streams: VSTAR_SKIP("no " << p)).
// Use it at the top level of a TEST_CASE body: it returns from it.
#define VSTAR_SKIP(why)                         \
  do {                                          \
    std::ostringstream vstar_skip_why_;         \
    vstar_skip_why_ << why;                     \
    ::vstar::test::Skip(vstar_skip_why_.str()); \
    return;                                     \
  } while (0)

// Skips unless ../shared/<rel> exists.
#define VSTAR_REQUIRE_SHARED(rel) VSTAR_SKIP_IF_MISSING(::vstar::test::MissingShared(rel))
// Skips unless the project virtualenv exists (VenvPython()).
#define VSTAR_REQUIRE_VENV() VSTAR_SKIP_IF_MISSING(::vstar::test::MissingVenv())
// Skips unless the program `name` is on $PATH.
#define VSTAR_REQUIRE_PROGRAM(name) VSTAR_SKIP_IF_MISSING(::vstar::test::MissingProgram(name))
// Skips unless `path` exists (a file the build makes only when its inputs exist); `how` says what makes it.
#define VSTAR_REQUIRE_FILE(path, how) VSTAR_SKIP_IF_MISSING(::vstar::test::MissingFile(path, how))

// A vs-* binary this configuration leaves out (VSTAR_DEV_COMMANDS) skips the test whatever
// SkipIsFailure() says: that is the developer's choice, and `make check` builds them all. A declared
// binary missing from build/bin fails the test.
#define VSTAR_REQUIRE_BINARY(name)                                                 \
  do {                                                                             \
    if (auto vstar_why_ = ::vstar::test::UndeclaredBinary(name); !vstar_why_.empty()) { \
      ::vstar::test::SkipConfigured(vstar_why_);                                   \
      return;                                                                      \
    }                                                                              \
    REQUIRE(std::filesystem::exists(::vstar::test::BinDir() / (name)));            \
  } while (0)

#define VSTAR_SKIP_IF_MISSING(reason)                                 \
  do {                                                                \
    if (auto vstar_why_ = (reason); !vstar_why_.empty()) VSTAR_SKIP(vstar_why_); \
  } while (0)
