#include "support.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
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
