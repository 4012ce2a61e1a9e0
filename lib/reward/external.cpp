#include "reward/external.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

extern char** environ;

namespace vstar::reward {

using io::Json;

void ExternalRewardOptions::Register(CLI::App& app) {
  app.add_option("--reward-cmd", command,
                 "Reward program (run with /bin/sh -c): reads vs-reward's input records on stdin, writes each back "
                 "with vs-reward's \"reward\" key, one line per record");
  app.add_option("--reward-timeout", timeout_s, "Seconds the reward program may take per group (60)")
      ->check(CLI::PositiveNumber);
}

ExternalReward::ExternalReward(std::string command, double timeout_s)
    : command_(std::move(command)), timeout_s_(timeout_s) {
  if (command_.empty()) throw std::invalid_argument("--reward-cmd: empty command");
  if (!(timeout_s_ > 0)) throw std::invalid_argument("--reward-timeout must be positive");
}

namespace {

using Clock = std::chrono::steady_clock;

// The id vs-reward's records carry (io::Record::id's rule: a string or a number, else "").
std::string IdOf(const Json& rec) {
  if (!rec.is_object() || !rec.contains("id")) return "";
  const Json& id = rec["id"];
  if (id.is_string()) return id.get<std::string>();
  if (id.is_number()) return id.dump();
  return "";
}

std::string Snippet(const std::string& s) {
  return s.size() <= 120 ? s : s.substr(0, 120) + "...";
}

// Writes to a pipe whose reader may be gone must fail with EPIPE, not kill us with SIGPIPE: block it in
// this thread for the call, and swallow what our own writes raised before unblocking.
class SigpipeBlock {
 public:
  SigpipeBlock() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set_, &old_);
  }
  ~SigpipeBlock() {
    timespec zero{0, 0};
    while (sigtimedwait(&set_, nullptr, &zero) > 0) {
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }

 private:
  sigset_t set_, old_;
};

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

// The spawned shell and whatever it started (one process group): killed and reaped unless waited for.
class Child {
 public:
  explicit Child(pid_t pid) : pid_(pid) {}
  ~Child() {
    if (pid_ > 0) {
      kill(-pid_, SIGKILL);
      int st = 0;
      waitpid(pid_, &st, 0);
    }
  }
  pid_t pid() const { return pid_; }
  // Waits for exit until `deadline`; false on timeout (the child is then still running).
  bool Wait(Clock::time_point deadline, int* status) {
    for (;;) {
      pid_t r = waitpid(pid_, status, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        return true;
      }
      if (r < 0 && errno != EINTR) throw ExternalRewardError(std::string("waitpid: ") + std::strerror(errno));
      if (Clock::now() >= deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

 private:
  pid_t pid_;
};

std::string Describe(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("was killed by signal ") + strsignal(WTERMSIG(status));
  return "ended abnormally";
}

void CheckReward(const Json& input, const Json& reward, const std::string& where) {
  if (!reward.is_object() || !reward.contains("completions") || !reward["completions"].is_array())
    throw std::runtime_error(where + ": \"reward\" has no \"completions\" array");
  size_t expected = input.contains("completions") && input["completions"].is_array() ? input["completions"].size() : 1;
  const Json& c = reward["completions"];
  if (c.size() != expected)
    throw std::runtime_error(where + ": \"reward\" scores " + std::to_string(c.size()) + " completions, the record has " +
                             std::to_string(expected));
  for (size_t i = 0; i < c.size(); ++i)
    if (!c[i].is_object() || !c[i].contains("total") || !c[i]["total"].is_number())
      throw std::runtime_error(where + ": \"reward\".completions[" + std::to_string(i) + "] has no numeric \"total\"");
}

}  // namespace

std::vector<Json> ExternalReward::Score(const std::vector<Json>& records) const {
  const std::string who = "reward command '" + command_ + "'";
  std::string input;
  for (const auto& r : records) {
    if (!r.is_object()) throw std::invalid_argument("reward input records must be JSON objects");
    input += io::Dump(r);
    input += '\n';
  }

  SigpipeBlock sigpipe;
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0) throw ExternalRewardError(who + ": pipe: " + std::strerror(errno));
  Fd in_r(in[0]), in_w(in[1]);
  if (pipe2(out, O_CLOEXEC) != 0) throw ExternalRewardError(who + ": pipe: " + std::strerror(errno));
  Fd out_r(out[0]), out_w(out[1]);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in_r.get(), 0);
  posix_spawn_file_actions_adddup2(&fa, out_w.get(), 1);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, dflt;
  sigemptyset(&none);
  sigemptyset(&dflt);
  sigaddset(&dflt, SIGPIPE);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &dflt);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::string sh = "sh", dash_c = "-c", cmd = command_;
  char* argv[] = {sh.data(), dash_c.data(), cmd.data(), nullptr};
  pid_t pid = -1;
  int rc = posix_spawn(&pid, "/bin/sh", &fa, &attr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) throw ExternalRewardError(who + ": cannot start /bin/sh: " + std::strerror(rc));
  Child child(pid);
  in_r.reset();
  out_w.reset();
  fcntl(in_w.get(), F_SETFL, O_NONBLOCK);
  fcntl(out_r.get(), F_SETFL, O_NONBLOCK);

  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(timeout_s_));
  const std::string timeout_text = std::to_string(timeout_s_);
  auto count_lines = [](const std::string& s) { return static_cast<size_t>(std::count(s.begin(), s.end(), '\n')); };
  std::string output;
  size_t written = 0;
  if (input.empty()) in_w.reset();
  char buf[65536];
  while (out_r.get() >= 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0)
      throw ExternalRewardError(who + " did not finish within --reward-timeout " + timeout_text + " s (answered " +
                                std::to_string(count_lines(output)) + " of " + std::to_string(records.size()) +
                                " records); killed");
    pollfd fds[2];
    nfds_t n = 0;
    fds[n++] = {out_r.get(), POLLIN, 0};
    if (in_w.get() >= 0) fds[n++] = {in_w.get(), POLLOUT, 0};
    int pr = poll(fds, n, static_cast<int>(std::min<long long>(left, 1000)));
    if (pr < 0) {
      if (errno == EINTR) continue;
      throw ExternalRewardError(who + ": poll: " + std::strerror(errno));
    }
    if (n == 2 && fds[1].revents) {
      ssize_t w = write(in_w.get(), input.data() + written, input.size() - written);
      if (w > 0) written += static_cast<size_t>(w);
      // EPIPE: it stopped reading its input; what it answers (or not) decides below.
      if ((w < 0 && errno != EAGAIN && errno != EINTR) || written == input.size()) in_w.reset();
    }
    if (fds[0].revents) {
      ssize_t r = read(out_r.get(), buf, sizeof buf);
      if (r > 0) {
        output.append(buf, static_cast<size_t>(r));
        if (count_lines(output) > records.size())
          throw ExternalRewardError(who + " printed more lines than the " + std::to_string(records.size()) +
                                    " records it was given");
      } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
        out_r.reset();
      }
    }
  }
  in_w.reset();
  int status = 0;
  if (!child.Wait(deadline, &status))
    throw ExternalRewardError(who + " closed its output but did not exit within --reward-timeout " + timeout_text +
                              " s; killed");

  std::vector<std::string> lines;
  for (size_t pos = 0; pos < output.size();) {
    size_t nl = output.find('\n', pos);
    if (nl == std::string::npos) nl = output.size();
    lines.push_back(output.substr(pos, nl - pos));
    pos = nl + 1;
  }
  if (lines.size() > records.size())
    throw ExternalRewardError(who + " printed more lines than the " + std::to_string(records.size()) +
                              " records it was given");
  std::vector<Json> rewards;
  for (size_t i = 0; i < lines.size() && i < records.size(); ++i) {
    const std::string expected_id = IdOf(records[i]);
    const std::string where = who + ", output line " + std::to_string(i + 1) + " (record '" + expected_id + "')";
    Json o;
    try {
      o = Json::parse(lines[i]);
    } catch (const Json::exception&) {
      throw ExternalRewardError(where + " is not JSON: " + Snippet(lines[i]));
    }
    if (!o.is_object()) throw ExternalRewardError(where + " is not a JSON object: " + Snippet(lines[i]));
    if (IdOf(o) != expected_id)
      throw ExternalRewardError(where + " answers for id '" + IdOf(o) + "': the output must keep the input's order");
    if (o.contains("error")) throw ExternalRewardError(where + " is an error record: " + Snippet(o["error"].dump()));
    if (!o.contains("reward")) throw ExternalRewardError(where + " has no \"reward\" key");
    try {
      CheckReward(records[i], o["reward"], where);
    } catch (const std::runtime_error& e) {
      throw ExternalRewardError(e.what());
    }
    rewards.push_back(std::move(o["reward"]));
  }
  if (rewards.size() < records.size())
    throw ExternalRewardError(who + " " + Describe(status) + " after answering " + std::to_string(rewards.size()) +
                              " of " + std::to_string(records.size()) + " records");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw ExternalRewardError(who + " answered every record but " + Describe(status));
  return rewards;
}

}  // namespace vstar::reward
