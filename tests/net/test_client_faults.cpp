// lib/net client against network faults a well-behaved HTTP server never shows: a connection reset
// in the middle of the body and a server that trickles bytes past --timeout. A raw TCP server on
// 127.0.0.1 (cpp-httplib cannot misbehave on purpose) plays each connection from a script. The
// client documents both as transfer failures, retried (lib/net/client.hpp, vs-explain(1)).
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>

#include "loopback.hpp"
#include "net/client.hpp"
#include "support.hpp"

using vstar::net::Client;
using vstar::test::LoopbackServer;

namespace {

// Accepts connections on a free loopback port and hands each to `script(fd, n)` (n = 0, 1, ...),
// which writes what it likes; the socket is closed after. Stops within 50 ms of destruction.
class RawServer {
 public:
  using Script = std::function<void(int fd, int n)>;
  explicit RawServer(Script script) : script_(std::move(script)) {
    listen_ = socket(AF_INET, SOCK_STREAM, 0);
    if (listen_ < 0) throw std::runtime_error("socket failed");
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(listen_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(listen_, 16) != 0 ||
        getsockname(listen_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      throw std::runtime_error("cannot listen on 127.0.0.1");
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] {
      for (int n = 0; !stop_;) {
        pollfd p{listen_, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0) continue;
        const int fd = accept(listen_, nullptr, nullptr);
        if (fd < 0) continue;
        ++accepted_;  // before answering: a client that has its answer sees the count
        ReadRequest(fd);
        script_(fd, n++);
        close(fd);
      }
    });
  }
  ~RawServer() {
    stop_ = true;
    thread_.join();
    close(listen_);
  }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }
  int accepted() const { return accepted_; }
  bool stopping() const { return stop_; }

 private:
  // Reads the request head and its Content-Length body (bounded by a 5 s poll).
  static void ReadRequest(int fd) {
    std::string got;
    char buf[4096];
    size_t need = std::string::npos;
    while (got.size() < need) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 5000) <= 0) return;
      const ssize_t n = read(fd, buf, sizeof buf);
      if (n <= 0) return;
      got.append(buf, static_cast<size_t>(n));
      const size_t head = got.find("\r\n\r\n");
      if (head != std::string::npos && need == std::string::npos) {
        size_t body = 0;
        const size_t cl = got.find("Content-Length: ");
        if (cl != std::string::npos && cl < head) body = std::stoul(got.substr(cl + 16));
        need = head + 4 + body;
      }
    }
  }

  Script script_;
  int listen_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
};

void Send(int fd, const std::string& s) {
  for (size_t done = 0; done < s.size();) {
    const ssize_t n = send(fd, s.data() + done, s.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

std::string Head(size_t content_length) {
  return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(content_length) + "\r\nConnection: close\r\n\r\n";
}

// A reset, not a clean close: SO_LINGER with a zero timeout makes close() send RST (socket(7)).
void Reset(int fd) {
  linger l{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
}

}  // namespace

TEST_CASE("client faults: a connection reset mid-body is retried, then reported") {
  const std::string body = LoopbackServer::Completion("never whole");
  RawServer s([&](int fd, int) {
    Send(fd, Head(body.size()) + body.substr(0, body.size() / 2));
    vstar::test::SleepMs(20);  // the client has read the half before the reset
    Reset(fd);
  });
  Client c(vstar::test::FastOptions(s.endpoint(), "reset"));
  auto out = c.Complete({vstar::test::Ask("x")});
  REQUIRE(out.size() == 1);
  CHECK_FALSE(out[0].ok);
  CHECK(out[0].attempts == 3);  // the first attempt and --retries 2
  CHECK(s.accepted() == 3);
  INFO(out[0].error);
  CHECK(out[0].error.find("127.0.0.1") != std::string::npos);
  CHECK(out[0].error.find("never whole") ==
        std::string::npos);  // no half body passed off as content
}

TEST_CASE("client faults: a reset mid-body, then a whole answer, succeeds on the retry") {
  const std::string body = LoopbackServer::Completion("second time");
  RawServer s([&](int fd, int n) {
    if (n == 0) {
      Send(fd, Head(body.size()) + body.substr(0, 10));
      vstar::test::SleepMs(20);
      Reset(fd);
    } else {
      Send(fd, Head(body.size()) + body);
    }
  });
  Client c(vstar::test::FastOptions(s.endpoint(), "reset-ok"));
  auto out = c.Complete({vstar::test::Ask("x")});
  CHECK(out[0].ok);
  CHECK(out[0].content == "second time");
  CHECK(out[0].attempts == 2);
}

TEST_CASE(
    "client faults: a server trickling bytes past --timeout times out, each attempt bounded") {
  // One byte every 100 ms of a body that would take 20 s: every read makes progress, so only a
  // whole-transfer limit stops it (curl's CURLOPT_TIMEOUT, which --timeout sets).
  const std::string body = LoopbackServer::Completion(std::string(200, 'z'));
  RawServer s([&](int fd, int) {
    Send(fd, Head(body.size()));
    for (size_t i = 0; i < body.size(); ++i) {
      if (s.stopping()) return;
      if (send(fd, body.data() + i, 1, MSG_NOSIGNAL) != 1) return;  // the client hung up
      vstar::test::SleepMs(100);
    }
  });
  auto o = vstar::test::FastOptions(s.endpoint(), "trickle");
  o.timeout_s = 0.5;
  o.retries = 1;
  Client c(o);
  const auto t0 = std::chrono::steady_clock::now();
  auto out = c.Complete({vstar::test::Ask("x")});
  const double took = vstar::test::Seconds(t0);
  CHECK_FALSE(out[0].ok);
  CHECK(out[0].attempts == 2);
  INFO(out[0].error);
  CHECK(out[0].error.find("timed out") != std::string::npos);
  CHECK(took < 3.0);  // two 0.5 s attempts, nowhere near the 20 s the trickle would last
}
