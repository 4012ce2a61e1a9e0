#pragma once
// A scripted HTTP server on 127.0.0.1 for the network tests: each test installs a handler for
// POST /v1/chat/completions and counts what reaches it. It listens on a free port, never on another
// address, and stops by itself (destructor, or after `lifetime` at the latest) so no test can hang.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "net/client.hpp"
#include "support.hpp"

namespace vstar::test {

// A chat request of one user message.
inline nlohmann::json Ask(const std::string& text) {
  return nlohmann::json{
      {"messages", nlohmann::json::array({nlohmann::json{{"role", "user"}, {"content", text}}})},
      {"max_tokens", 16}};
}

// Client settings for loopback servers: short timeouts, quick retries; each call gets its own
// response cache directory.
inline net::ClientOptions FastOptions(const std::string& endpoint, const std::string& tag) {
  net::ClientOptions o;
  o.endpoint = endpoint;
  o.model = "test-model";
  o.timeout_s = 5;
  o.connect_timeout_s = 2;
  o.retries = 2;
  o.backoff_s = 0.01;
  o.backoff_max_s = 0.05;
  setenv("VSTAR_CACHE", TempDir("net-cache-" + tag).c_str(), 1);
  return o;
}

inline double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// Sleeps in small steps so a handler that is slow on purpose stays bounded.
inline void SleepMs(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

class LoopbackServer {
 public:
  using Handler = std::function<void(const httplib::Request&, httplib::Response&, int call)>;

  explicit LoopbackServer(Handler handler, std::chrono::seconds lifetime = std::chrono::seconds(120))
      : handler_(std::move(handler)) {
    server_.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
      int call = calls_.fetch_add(1);
      int now = ++in_flight_;
      int seen = max_in_flight_.load();
      while (now > seen && !max_in_flight_.compare_exchange_weak(seen, now)) {
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        last_body_ = req.body;
        last_auth_ = req.get_header_value("Authorization");
      }
      handler_(req, res, call);
      --in_flight_;
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    if (port_ <= 0) throw std::runtime_error("loopback server: cannot bind 127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    watchdog_ = std::thread([this, lifetime] {
      std::unique_lock<std::mutex> lock(stop_mu_);
      stop_cv_.wait_for(lock, lifetime, [this] { return stopping_; });
      server_.stop();
    });
    // The socket already listens after bind; wait (bounded) for the accept loop too.
    for (int i = 0; i < 200 && !server_.is_running(); ++i) SleepMs(5);
  }
  ~LoopbackServer() {
    {
      std::lock_guard<std::mutex> lock(stop_mu_);
      stopping_ = true;
    }
    stop_cv_.notify_all();
    watchdog_.join();
    server_.stop();
    thread_.join();
  }

  int port() const { return port_; }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }
  int calls() const { return calls_.load(); }
  int max_in_flight() const { return max_in_flight_.load(); }
  std::string last_body() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_body_;
  }
  std::string last_auth() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_auth_;
  }

  // An OpenAI-style success body carrying `content`.
  static std::string Completion(const std::string& content, const std::string& model = "echo-model") {
    nlohmann::json j = {{"id", "cmpl-test"},
                        {"object", "chat.completion"},
                        {"model", model},
                        {"choices", {{{"index", 0},
                                      {"message", {{"role", "assistant"}, {"content", content}}},
                                      {"finish_reason", "stop"}}}}};
    return j.dump();
  }

 private:
  Handler handler_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_, watchdog_;
  std::atomic<int> calls_{0}, in_flight_{0}, max_in_flight_{0};
  std::mutex mu_;
  std::string last_body_, last_auth_;
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
};

}  // namespace vstar::test
