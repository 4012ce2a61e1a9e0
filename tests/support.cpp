#include "support.hpp"

#include "video/image_io.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace vstar::test {
namespace fs = std::filesystem;

fs::path SourceDir() { return VSTAR_SOURCE_DIR; }
fs::path BinDir() { return VSTAR_BIN_DIR; }
fs::path BinaryDir() { return VSTAR_BINARY_DIR; }
fs::path FixtureDir() { return SourceDir() / "tests" / "fixtures"; }

fs::path SharedDir() {
  const char* env = std::getenv("VSTAR_SHARED");
  fs::path p = env ? fs::path(env) : fs::path(VSTAR_SHARED_DIR);
  std::error_code ec;
  if (!fs::is_directory(p, ec)) return {};
  return fs::canonical(p, ec);
}

bool SharedPresent() {
  const fs::path dir = SharedDir();
  std::error_code ec;
  return !dir.empty() && fs::is_directory(dir / "assets", ec);
}

fs::path SimplePoseModel() { return BinaryDir() / "models" / "ultralight_nano_simplepose_256x192.pt"; }

fs::path VenvPython() {
  const char* env = std::getenv("VSTAR_VENV");
  return (env && *env ? fs::path(env) : fs::path(VSTAR_VENV_DIR)) / "bin" / "python";
}

bool HaveProgram(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "");
  for (std::string d; std::getline(dirs, d, ':');)
    if (!d.empty() && access((fs::path(d) / name).c_str(), X_OK) == 0) return true;
  return false;
}

const std::vector<std::string>& DeclaredBinaries() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    std::istringstream list(VSTAR_DECLARED_COMMANDS);
    for (std::string n; std::getline(list, n, ',');)
      if (!n.empty()) v.push_back(n);
    std::sort(v.begin(), v.end());
    return v;
  }();
  return names;
}

namespace {
int g_skipped = 0;

bool EnvSet(const char* name, const char* value = nullptr) {
  const char* v = std::getenv(name);
  if (!v || !*v) return false;
  return value ? std::string(v) == value : std::string(v) != "0";
}
}  // namespace

bool SkipIsFailure() {
  return EnvSet("VSTAR_NO_SKIP") || EnvSet("CI", "true") || (SharedPresent() && fs::exists(VenvPython()));
}

void Skip(const std::string& why) {
  if (SkipIsFailure())
    FAIL("cannot run: " << why
                        << "\n(a skip is a failure where ../shared and the virtualenv are present, or with "
                           "VSTAR_NO_SKIP or CI=true: see CONTRIBUTING.md, Tests)");
  SkipConfigured(why);
}

void SkipConfigured(const std::string& why) {
  ++g_skipped;
  // The count makes tests/main.cpp exit 77, which ctest reports as skipped; stderr says why.
  std::cerr << "SKIPPED: " << why << std::endl;
}

int SkippedCount() { return g_skipped; }

std::string MissingShared(const fs::path& rel) {
  if (!SharedPresent()) {
    const char* env = std::getenv("VSTAR_SHARED");
    return std::string("no shared data (an assets/ folder) in ") + (env ? env : VSTAR_SHARED_DIR) +
           " (set VSTAR_SHARED); this test needs " + rel.string();
  }
  if (!fs::exists(SharedDir() / rel)) return (SharedDir() / rel).string() + " is absent from the shared data";
  return {};
}

std::string MissingVenv() {
  if (fs::exists(VenvPython())) return {};
  return "no python virtualenv at " + VenvPython().string() + " (tools/deps.sh makes it; or set VSTAR_VENV)";
}

std::string MissingProgram(const std::string& name) {
  return HaveProgram(name) ? std::string() : name + " is not on PATH (tools/deps.sh installs it)";
}

std::string MissingFile(const fs::path& path, const std::string& how) {
  return fs::exists(path) ? std::string() : path.string() + " is absent (" + how + ")";
}

std::string UndeclaredBinary(const std::string& name) {
  const auto& d = DeclaredBinaries();
  if (std::find(d.begin(), d.end(), name) != d.end()) return {};
  return name + " is not in this build configuration (VSTAR_DEV_COMMANDS leaves it out)";
}

namespace {
struct TempDirs {
  std::vector<fs::path> dirs;
  ~TempDirs() {
    std::error_code ec;
    for (auto& d : dirs) fs::remove_all(d, ec);
  }
};
TempDirs g_temp;
}  // namespace

fs::path TempDir(const std::string& tag) {
  fs::path base = BinaryDir() / "test-tmp";
  fs::create_directories(base);
  std::string templ = (base / (tag + "-XXXXXX")).string();
  if (!mkdtemp(templ.data())) throw std::runtime_error("mkdtemp failed");
  g_temp.dirs.emplace_back(templ);
  return templ;
}

RunResult Run(const std::vector<std::string>& argv, const std::string& input,
              const std::map<std::string, std::string>& env) {
  if (argv.empty()) throw std::invalid_argument("Run: empty argv");
  std::string exe = argv[0];
  if (exe.find('/') == std::string::npos && fs::exists(BinDir() / exe)) exe = (BinDir() / exe).string();

  int in[2], out[2], err[2];
  if (pipe(in) || pipe(out) || pipe(err)) throw std::runtime_error("pipe failed");
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    for (int fd : {in[0], in[1], out[0], out[1], err[0], err[1]}) close(fd);
    if (!env.count("VSTAR_CACHE")) setenv("VSTAR_CACHE", (BinaryDir() / "test-cache").c_str(), 1);
    for (auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args[0] = exe.data();
    args.push_back(nullptr);
    execv(exe.c_str(), args.data());
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  close(err[1]);
  fcntl(in[1], F_SETFL, O_NONBLOCK);
  RunResult r;
  size_t written = 0;
  bool in_open = true;
  if (input.empty()) {
    close(in[1]);
    in_open = false;
  }
  bool out_open = true, err_open = true;
  char buf[65536];
  while (out_open || err_open) {
    std::vector<pollfd> fds;
    if (out_open) fds.push_back({out[0], POLLIN, 0});
    if (err_open) fds.push_back({err[0], POLLIN, 0});
    if (in_open) fds.push_back({in[1], POLLOUT, 0});
    if (poll(fds.data(), fds.size(), -1) < 0) break;
    for (auto& p : fds) {
      if (!p.revents) continue;
      if (p.fd == in[1]) {
        ssize_t n = write(in[1], input.data() + written, input.size() - written);
        if (n > 0) written += n;
        if (n < 0 || written == input.size()) {
          close(in[1]);
          in_open = false;
        }
        continue;
      }
      ssize_t n = read(p.fd, buf, sizeof buf);
      if (n <= 0) {
        close(p.fd);
        (p.fd == out[0] ? out_open : err_open) = false;
      } else {
        (p.fd == out[0] ? r.out : r.err).append(buf, n);
      }
    }
  }
  if (in_open) close(in[1]);
  int st = 0;
  waitpid(pid, &st, 0);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return r;
}

namespace {
double DistanceToSegment(double px, double py, double x1, double y1, double x2, double y2) {
  const double dx = x2 - x1, dy = y2 - y1, len2 = dx * dx + dy * dy;
  const double t = len2 > 0 ? std::clamp(((px - x1) * dx + (py - y1) * dy) / len2, 0.0, 1.0) : 0.0;
  return std::hypot(px - (x1 + t * dx), py - (y1 + t * dy));
}
}  // namespace

OverlayCheck CompareOverlay(const fs::path& frame, const fs::path& overlay, const Drawn& drawn, double tolerance) {
  const video::Image a = video::ReadImageRgb(frame), b = video::ReadImageRgb(overlay);
  OverlayCheck c;
  c.same_size = a.width == b.width && a.height == b.height;
  if (!c.same_size) return c;
  auto differs = [&](int x, int y) {
    const size_t o = (static_cast<size_t>(y) * a.width + x) * 3;
    return a.pixels[o] != b.pixels[o] || a.pixels[o + 1] != b.pixels[o + 1] || a.pixels[o + 2] != b.pixels[o + 2];
  };
  auto near = [&](double x, double y) {
    for (const auto& q : drawn.boxes) {
      const double x1 = q[0], y1 = q[1], x2 = q[2], y2 = q[3];
      for (const auto& e : {std::array{x1, y1, x2, y1}, {x2, y1, x2, y2}, {x2, y2, x1, y2}, {x1, y2, x1, y1}})
        if (DistanceToSegment(x, y, e[0], e[1], e[2], e[3]) <= tolerance) return true;
    }
    for (const auto& p : drawn.points)
      if (std::hypot(x - p[0], y - p[1]) <= tolerance) return true;
    for (const auto& l : drawn.segments)
      if (DistanceToSegment(x, y, l[0], l[1], l[2], l[3]) <= tolerance) return true;
    return false;
  };
  for (int y = 0; y < a.height; ++y)
    for (int x = 0; x < a.width; ++x)
      if (differs(x, y)) {
        ++c.changed;
        if (!near(x, y)) ++c.far;
      }
  // Drawing truncates coordinates to ints (cv::Point(int(x), int(y))); sample there.
  auto mark = [&](double x, double y) {
    const int ix = static_cast<int>(x), iy = static_cast<int>(y);
    if (ix < 0 || iy < 0 || ix >= a.width || iy >= a.height) return;
    ++c.marks;
    if (differs(ix, iy)) ++c.marks_painted;
  };
  for (const auto& q : drawn.boxes)
    for (int k = 0; k <= 8; ++k) {
      const double t = k / 8.0;
      mark(q[0] + t * (q[2] - q[0]), q[1]);
      mark(q[0] + t * (q[2] - q[0]), q[3]);
      mark(q[0], q[1] + t * (q[3] - q[1]));
      mark(q[2], q[1] + t * (q[3] - q[1]));
    }
  for (const auto& p : drawn.points) mark(p[0], p[1]);
  return c;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream s(text);
  for (std::string l; std::getline(s, l);)
    if (!l.empty()) lines.push_back(l);
  return lines;
}

std::string ReadFile(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read " + p.string());
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

void WriteFile(const fs::path& p, const std::string& data) {
  if (p.has_parent_path()) fs::create_directories(p.parent_path());
  std::ofstream f(p, std::ios::binary);
  f << data;
  if (!f) throw std::runtime_error("cannot write " + p.string());
}

}  // namespace vstar::test
