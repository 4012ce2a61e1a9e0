// A stage whose reader goes away (`vs-x ... | head -1`) ends at its next write, killed by SIGPIPE as
// cat(1) is: no message, no core, status 128+13 in the shell (vstar(7)), also when it inherited
// SIGPIPE ignored or blocked (then the write fails with EPIPE and the stream raises the signal).
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "io/stream.hpp"
#include "support.hpp"

using namespace vstar;

namespace {

enum class Inherited { kDefault, kIgnored, kBlocked };

struct Ended {
  int status = 0;
  std::string first_line;
  std::string err;
  double seconds = 0;
};

// Forks a record stream over many records into a pipe, reads its first line, closes the pipe.
Ended StreamIntoClosedPipe(Inherited how, size_t threads) {
  const auto err_file = test::TempDir("sigpipe") / "stderr.txt";
  int out[2];
  REQUIRE(pipe(out) == 0);
  std::fflush(nullptr);  // the child must not write what this process still buffers
  auto start = std::chrono::steady_clock::now();
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    dup2(out[1], STDOUT_FILENO);
    close(out[0]);
    close(out[1]);
    int fd = open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, STDERR_FILENO);
    close(fd);
    if (how == Inherited::kIgnored) signal(SIGPIPE, SIG_IGN);
    if (how == Inherited::kBlocked) {
      sigset_t set;
      sigemptyset(&set);
      sigaddset(&set, SIGPIPE);
      sigprocmask(SIG_BLOCK, &set, nullptr);
    }
    std::vector<std::string> records;
    for (int i = 0; i < 200000; ++i) records.push_back("{\"id\":" + std::to_string(i) + "}");
    io::StreamOptions opt;
    opt.progress = io::Progress::kNever;
    opt.threads = static_cast<int>(threads);
    int rc = io::RunStreamOver(std::move(records), opt, "vs-test", 4, [](std::span<io::Record*>) {});
    _exit(100 + rc);  // the stream outlived its reader
  }
  close(out[1]);
  Ended e;
  char c;
  while (read(out[0], &c, 1) == 1 && c != '\n') e.first_line += c;
  close(out[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  e.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  e.status = status;
  e.err = test::ReadFile(err_file);
  return e;
}

}  // namespace

TEST_CASE("stream: a closed stdout ends the stage by SIGPIPE, silently", "[stream][sigpipe]") {
  for (auto how : {Inherited::kDefault, Inherited::kIgnored, Inherited::kBlocked}) {
    for (size_t threads : {1, 3}) {
      INFO("inherited " << static_cast<int>(how) << ", threads " << threads);
      Ended e = StreamIntoClosedPipe(how, threads);
      CHECK(e.first_line == "{\"id\":0}");
      REQUIRE(WIFSIGNALED(e.status));
      CHECK(WTERMSIG(e.status) == SIGPIPE);
      CHECK_FALSE(WCOREDUMP(e.status));
      CHECK(e.err.empty());  // no "Broken pipe", no closing line
      CHECK(e.seconds < 30);
    }
  }
}
