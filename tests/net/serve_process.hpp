#pragma once
// vs-serve as a child process for the tests that talk to it over loopback: started with
// --port-file, its stderr in a file, SIGTERM to stop, SIGKILL if it is still alive when the test
// ends.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace vstar::test {

// vs-serve in the background; its stderr goes to a file. Killed (SIGKILL) if still alive at the
// end.
struct ServeProcess {
  pid_t pid = -1;
  std::filesystem::path log;
  int port = 0;
  ServeProcess(const std::vector<std::string>& argv, const std::filesystem::path& dir,
               const std::string& cache) {
    log = dir / "serve.log";
    std::filesystem::path port_file = dir / "port";
    pid = fork();
    if (pid == 0) {
      FILE* err = freopen(log.c_str(), "w", stderr);
      (void)err;
      setenv("VSTAR_CACHE", cache.c_str(), 1);
      std::vector<std::string> full = argv;
      full.push_back("--port-file");
      full.push_back(port_file.string());
      std::vector<char*> args;
      for (auto& a : full) args.push_back(a.data());
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
    // Loading the tiny model takes seconds; give up after two minutes.
    for (int i = 0; i < 1200 && port == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      std::ifstream in(port_file);
      if (in >> port) break;
      int status;
      if (waitpid(pid, &status, WNOHANG) == pid) {
        pid = -1;
        break;
      }
    }
  }
  int Stop() {  // SIGTERM, then the exit status
    if (pid <= 0) return -1;
    kill(pid, SIGTERM);
    int status = 0;
    for (int i = 0; i < 600; ++i) {
      if (waitpid(pid, &status, WNOHANG) == pid) {
        pid = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return -2;
  }
  ~ServeProcess() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
};

}  // namespace vstar::test
