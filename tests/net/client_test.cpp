// lib/net client against loopback servers: the documented retry/failure behaviour, concurrency,
// the API key header, and the response cache.
#include <chrono>
#include <cstdlib>

#include "loopback.hpp"
#include "net/client.hpp"
#include "support.hpp"

using vstar::net::Client;
using vstar::net::ClientOptions;
using vstar::net::Json;
using vstar::test::Ask;
using vstar::test::LoopbackServer;
using vstar::test::Seconds;
using vstar::test::SleepMs;

namespace {
ClientOptions Fast(const LoopbackServer& s, const std::string& tag) {
  return vstar::test::FastOptions(s.endpoint(), tag);
}
}  // namespace

TEST_CASE("client: success returns the content and sends the model and the request") {
  LoopbackServer s([](const httplib::Request& req, httplib::Response& res, int) {
    auto body = nlohmann::json::parse(req.body);
    res.set_content(LoopbackServer::Completion("echo: " + body["messages"][0]["content"].get<std::string>()),
                    "application/json");
  });
  Client c(Fast(s, "ok"));
  auto out = c.Complete({Ask("hello")});
  REQUIRE(out.size() == 1);
  CHECK(out[0].ok);
  CHECK(out[0].content == "echo: hello");
  CHECK(out[0].attempts == 1);
  auto sent = nlohmann::json::parse(s.last_body());
  CHECK(sent["model"] == "test-model");
  CHECK(sent["max_tokens"] == 16);
  CHECK(s.last_auth().empty());
}

TEST_CASE("client: 429 with Retry-After waits as asked, then succeeds") {
  LoopbackServer s([](const httplib::Request&, httplib::Response& res, int call) {
    if (call == 0) {
      res.status = 429;
      res.set_header("Retry-After", "1");
      res.set_content(R"({"error":{"message":"slow down"}})", "application/json");
      return;
    }
    res.set_content(LoopbackServer::Completion("fine"), "application/json");
  });
  Client c(Fast(s, "429"));
  auto t0 = std::chrono::steady_clock::now();
  auto out = c.Complete({Ask("x")});
  double waited = Seconds(t0);
  CHECK(out[0].ok);
  CHECK(out[0].attempts == 2);
  CHECK(s.calls() == 2);
  CHECK(waited >= 0.95);  // the 1 s from Retry-After, not the 10 ms backoff
  CHECK(waited < 4.0);
}

TEST_CASE("client: Retry-After longer than --retry-after-max fails at once") {
  LoopbackServer s([](const httplib::Request&, httplib::Response& res, int) {
    res.status = 429;
    res.set_header("Retry-After", "3600");
    res.set_content("{}", "application/json");
  });
  auto o = Fast(s, "429long");
  o.retry_after_max_s = 5;
  Client c(o);
  auto out = c.Complete({Ask("x")});
  CHECK_FALSE(out[0].ok);
  CHECK(s.calls() == 1);
  CHECK(out[0].error.find("HTTP 429") != std::string::npos);
  CHECK(out[0].error.find("--retry-after-max") != std::string::npos);
}

TEST_CASE("client: 500 then success is retried") {
  LoopbackServer s([](const httplib::Request&, httplib::Response& res, int call) {
    if (call == 0) {
      res.status = 500;
      res.set_content("boom", "text/plain");
      return;
    }
    res.set_content(LoopbackServer::Completion("recovered"), "application/json");
  });
  Client c(Fast(s, "500"));
  auto out = c.Complete({Ask("x")});
  CHECK(out[0].ok);
  CHECK(out[0].content == "recovered");
  CHECK(out[0].attempts == 2);
  CHECK(c.stats().retries == 1);
}

TEST_CASE("client: persistent 503 gives up after --retries retries") {
  LoopbackServer s([](const httplib::Request&, httplib::Response& res, int) {
    res.status = 503;
    res.set_content("unavailable", "text/plain");
  });
  Client c(Fast(s, "503"));  // retries = 2
  auto out = c.Complete({Ask("x")});
  CHECK_FALSE(out[0].ok);
  CHECK(out[0].attempts == 3);
  CHECK(s.calls() == 3);
  CHECK(out[0].http_status == 503);
  CHECK(out[0].error.find("HTTP 503") != std::string::npos);
  CHECK(out[0].error.find("gave up after 3 attempts") != std::string::npos);
}

TEST_CASE("client: the retry budget bounds retries across requests") {
  LoopbackServer s([](const httplib::Request&, httplib::Response& res, int) {
    res.status = 500;
    res.set_content("no", "text/plain");
  });
  auto o = Fast(s, "budget");
  o.retries = 5;
  o.retry_budget = 2;
  o.jobs = 1;
  Client c(o);
  auto out = c.Complete({Ask("a"), Ask("b"), Ask("c")});
  for (const auto& r : out) CHECK_FALSE(r.ok);
  CHECK(s.calls() == 3 + 2);  // one attempt each plus the two budgeted retries
  CHECK(c.stats().retries == 2);
  int spent = 0;
  for (const auto& r : out) spent += r.error.find("retry budget of 2") != std::string::npos;
  CHECK(spent >= 1);
}

TEST_CASE("client: a response slower than --timeout is retried, then reported as a timeout") {
  LoopbackServer s([](const httplib::Request&, httplib::Response& res, int) {
    SleepMs(1500);
    res.set_content(LoopbackServer::Completion("too late"), "application/json");
  });
  auto o = Fast(s, "slow");
  o.timeout_s = 0.3;
  o.retries = 1;
  Client c(o);
  auto t0 = std::chrono::steady_clock::now();
  auto out = c.Complete({Ask("x")});
  CHECK(Seconds(t0) < 1.4);  // two 0.3 s attempts, not the server's 1.5 s
  CHECK_FALSE(out[0].ok);
  CHECK(out[0].attempts == 2);
  CHECK(out[0].error.find("timed out") != std::string::npos);
}

TEST_CASE("client: a slow first answer is retried and the second succeeds") {
  LoopbackServer s([](const httplib::Request&, httplib::Response& res, int call) {
    if (call == 0) SleepMs(1000);
    res.set_content(LoopbackServer::Completion("quick"), "application/json");
  });
  auto o = Fast(s, "slowthenok");
  o.timeout_s = 0.3;
  Client c(o);
  auto out = c.Complete({Ask("x")});
  CHECK(out[0].ok);
  CHECK(out[0].content == "quick");
  CHECK(out[0].attempts == 2);
}

TEST_CASE("client: truncated JSON fails without retrying") {
  LoopbackServer s([](const httplib::Request&, httplib::Response& res, int) {
    std::string full = LoopbackServer::Completion("cut");
    res.set_content(full.substr(0, full.size() / 2), "application/json");
  });
  Client c(Fast(s, "trunc"));
  auto out = c.Complete({Ask("x")});
  CHECK_FALSE(out[0].ok);
  CHECK(s.calls() == 1);
  CHECK(out[0].error.find("malformed JSON") != std::string::npos);
}

TEST_CASE("client: a non-JSON content type fails without retrying") {
  LoopbackServer s([](const httplib::Request&, httplib::Response& res, int) {
    res.set_content("<html>login page</html>", "text/html");
  });
  Client c(Fast(s, "ctype"));
  auto out = c.Complete({Ask("x")});
  CHECK_FALSE(out[0].ok);
  CHECK(s.calls() == 1);
  CHECK(out[0].error.find("content type 'text/html'") != std::string::npos);
}

TEST_CASE("client: JSON without choices[0].message.content fails clearly") {
  LoopbackServer s([](const httplib::Request&, httplib::Response& res, int) {
    res.set_content(R"({"object":"chat.completion","choices":[]})", "application/json");
  });
  Client c(Fast(s, "nochoice"));
  auto out = c.Complete({Ask("x")});
  CHECK_FALSE(out[0].ok);
  CHECK(out[0].error.find("choices[0].message.content") != std::string::npos);
}

TEST_CASE("client: 401 fails at once, quotes the server and never shows the key") {
  setenv("VSTAR_TEST_NET_KEY", "sk-secret-123", 1);
  LoopbackServer s([](const httplib::Request& req, httplib::Response& res, int) {
    res.status = 401;
    res.set_content(R"({"error":{"message":"Incorrect API key provided"}})", "application/json");
  });
  auto o = Fast(s, "401");
  o.api_key_env = "VSTAR_TEST_NET_KEY";
  Client c(o);
  auto out = c.Complete({Ask("x")});
  CHECK_FALSE(out[0].ok);
  CHECK(s.calls() == 1);
  CHECK(s.last_auth() == "Bearer sk-secret-123");
  CHECK(out[0].error.find("HTTP 401") != std::string::npos);
  CHECK(out[0].error.find("Incorrect API key provided") != std::string::npos);
  CHECK(out[0].error.find("--api-key-env") != std::string::npos);
  CHECK(out[0].error.find("sk-secret") == std::string::npos);
  auto values = o.ToValues();
  for (const auto& [k, v] : values) CHECK(v.find("sk-secret") == std::string::npos);
}

TEST_CASE("client: an unset --api-key-env variable is an error up front") {
  unsetenv("VSTAR_TEST_NET_UNSET");
  ClientOptions o;
  o.api_key_env = "VSTAR_TEST_NET_UNSET";
  CHECK_THROWS_WITH(Client(o), Catch::Contains("VSTAR_TEST_NET_UNSET"));
}

TEST_CASE("client: connection refused is retried and then reported") {
  int port;
  {
    LoopbackServer probe([](const httplib::Request&, httplib::Response&, int) {});
    port = probe.port();
  }  // closed: nothing listens there now
  ClientOptions o;
  o.endpoint = "http://127.0.0.1:" + std::to_string(port) + "/v1";
  o.model = "m";
  o.retries = 1;
  o.backoff_s = 0.01;
  o.no_cache = true;
  Client c(o);
  auto out = c.Complete({Ask("x")});
  CHECK_FALSE(out[0].ok);
  CHECK(out[0].attempts == 2);
  CHECK(out[0].error.find("127.0.0.1:" + std::to_string(port)) != std::string::npos);
}

TEST_CASE("client: --jobs bounds the requests in flight and they do overlap") {
  LoopbackServer s([](const httplib::Request& req, httplib::Response& res, int) {
    SleepMs(300);
    auto body = nlohmann::json::parse(req.body);
    res.set_content(LoopbackServer::Completion(body["messages"][0]["content"].get<std::string>()), "application/json");
  });
  auto o = Fast(s, "jobs");
  o.jobs = 3;
  o.no_cache = true;
  Client c(o);
  std::vector<Json> bodies;
  for (int i = 0; i < 6; ++i) bodies.push_back(Ask("q" + std::to_string(i)));
  auto t0 = std::chrono::steady_clock::now();
  auto out = c.Complete(bodies);
  double took = Seconds(t0);
  for (int i = 0; i < 6; ++i) CHECK(out[i].content == "q" + std::to_string(i));  // input order kept
  CHECK(s.max_in_flight() <= 3);
  CHECK(s.max_in_flight() >= 2);
  CHECK(took < 6 * 0.3);
}

TEST_CASE("client: responses are cached by the full request, --no-cache bypasses") {
  LoopbackServer s([](const httplib::Request& req, httplib::Response& res, int call) {
    res.set_content(LoopbackServer::Completion("answer " + std::to_string(call)), "application/json");
  });
  auto o = Fast(s, "cache");
  {
    Client c(o);
    auto out = c.Complete({Ask("a"), Ask("b")});
    CHECK(out[0].ok);
    CHECK_FALSE(out[0].cached);
  }
  CHECK(s.calls() == 2);
  {
    Client c(o);
    auto out = c.Complete({Ask("a"), Ask("b")});
    CHECK(s.calls() == 2);  // nothing reached the server
    CHECK(out[0].cached);
    CHECK(out[0].attempts == 0);
    CHECK(out[0].content != out[1].content);
    CHECK(c.stats().cache_hits == 2);
    // A different parameter is a different request.
    Json other = Ask("a");
    other["temperature"] = 0.5;
    CHECK(c.CacheKey(other) != c.CacheKey(Ask("a")));
    c.Complete({other});
    CHECK(s.calls() == 3);
  }
  {
    auto nc = o;
    nc.no_cache = true;
    Client c(nc);
    auto out = c.Complete({Ask("a")});
    CHECK_FALSE(out[0].cached);
    CHECK(s.calls() == 4);
  }
}

TEST_CASE("client: Retry-After parsing") {
  CHECK(vstar::net::ParseRetryAfter("7") == 7);
  CHECK(vstar::net::ParseRetryAfter(" 0 ") == 0);
  CHECK(vstar::net::ParseRetryAfter("") < 0);
  CHECK(vstar::net::ParseRetryAfter("soon") < 0);
  CHECK(vstar::net::ParseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT") == 0);  // in the past
  CHECK(vstar::net::ParseRetryAfter("Fri, 01 Jan 2100 00:00:00 GMT") > 1e9);
}

TEST_CASE("client: options round-trip through plugin values and are validated") {
  ClientOptions o;
  o.endpoint = "http://127.0.0.1:1/v1";
  o.jobs = 7;
  o.timeout_s = 2.5;
  o.no_cache = true;
  auto back = ClientOptions::FromValues(o.ToValues(), "m");
  CHECK(back.jobs == 7);
  CHECK(back.timeout_s == 2.5);
  CHECK(back.no_cache);
  CHECK(back.model == "m");
  CHECK_THROWS_AS(ClientOptions::FromValues({{"jobs", "many"}}, "m"), std::invalid_argument);
  ClientOptions bad;
  bad.endpoint = "ftp://x";
  CHECK_THROWS_AS(bad.Validate(), std::invalid_argument);
  bad.endpoint = "http://x";
  bad.jobs = 0;
  CHECK_THROWS_AS(bad.Validate(), std::invalid_argument);
}
