// lib/net's chat server with a scripted backend (the server is what is tested here; vs-serve's
// real backend is the policy engine): routes, parsing, limits, batching, errors, stopping.
#include <future>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "net/client.hpp"
#include "net/image.hpp"
#include "net/server.hpp"
#include "support.hpp"

using namespace vstar;
using Json = nlohmann::json;

namespace {

// Answers with what it understood: roles, text parts, and frame counts per video.
class ScriptedBackend : public net::ChatBackend {
 public:
  int delay_ms = 0;
  std::atomic<int> calls{0};
  std::atomic<size_t> largest_batch{0};
  std::string ModelId() const override { return "scripted"; }
  std::vector<net::ChatReply> Complete(const std::vector<net::ChatRequest>& requests) override {
    ++calls;
    if (requests.size() > largest_batch) largest_batch = requests.size();
    if (delay_ms) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    std::vector<net::ChatReply> out;
    for (const auto& r : requests) {
      std::string s;
      for (const auto& m : r.messages) {
        s += m.role + ":";
        for (const auto& p : m.parts)
          s += p.is_video ? "[video " + std::to_string(p.frames.size()) + "@" + std::to_string(static_cast<int>(p.fps)) + " " +
                                std::to_string(p.frames.empty() ? 0 : p.frames[0].width) + "]"
                          : p.text;
        s += ";";
      }
      if (r.params.contains("fail")) throw net::RequestError(422, "scripted refusal");
      out.push_back({s, "stop", 7, 3});
    }
    return out;
  }
};

struct Running {
  net::ServeOptions opt;
  ScriptedBackend backend;
  std::unique_ptr<net::ChatServer> server;
  std::thread thread;
  int port = 0;
  explicit Running(net::ServeOptions o = {}) : opt(std::move(o)) {
    opt.host = "127.0.0.1";
    opt.port = 0;
    server = std::make_unique<net::ChatServer>(opt, backend);
    port = server->Bind();
    thread = std::thread([this] { server->Serve(); });
  }
  ~Running() {
    server->Stop();
    thread.join();
  }
  httplib::Client Http() {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(10, 0);
    return c;
  }
  std::string Endpoint() const { return "http://127.0.0.1:" + std::to_string(port) + "/v1"; }
};

std::string JpegUrl(int w, int h) {
  std::vector<std::uint8_t> px(static_cast<size_t>(w * h * 3), 90);
  return net::JpegDataUrl({w, h, w * 3, px.data(), "t"}, 0, 90);
}

Json Chat(const Json& content) {
  return Json{{"model", "scripted"}, {"messages", Json::array({Json{{"role", "user"}, {"content", content}}})}};
}

}  // namespace

TEST_CASE("server: health and models") {
  Running r;
  auto c = r.Http();
  auto h = c.Get("/health");
  REQUIRE(h);
  CHECK(h->status == 200);
  CHECK(Json::parse(h->body)["status"] == "ok");
  auto m = c.Get("/v1/models");
  REQUIRE(m);
  CHECK(Json::parse(m->body)["data"][0]["id"] == "scripted");
  auto missing = c.Get("/v1/nothing");
  REQUIRE(missing);
  CHECK(missing->status == 404);
}

TEST_CASE("server: our client gets text and frames through, images grouped into one video") {
  Running r;
  setenv("VSTAR_CACHE", test::TempDir("server-cache").c_str(), 1);
  net::ClientOptions o;
  o.endpoint = r.Endpoint();
  o.model = "scripted";
  o.no_cache = true;
  net::Client client(o);
  Json content = Json::array({Json{{"type", "image_url"}, {"image_url", {{"url", JpegUrl(32, 16)}}}},
                              Json{{"type", "image_url"}, {"image_url", {{"url", JpegUrl(32, 16)}}}},
                              Json{{"type", "text"}, {"text", "what happens?"}},
                              Json{{"type", "video"}, {"video", {JpegUrl(8, 8)}}, {"fps", 4}}});
  Json body = Chat(content);
  body.erase("model");
  body["messages"].insert(body["messages"].begin(), Json{{"role", "system"}, {"content", "be brief"}});
  auto out = client.Complete({body, Chat("plain")});
  REQUIRE(out[0].ok);
  CHECK(out[0].content == "system:be brief;user:[video 2@2 32]what happens?[video 1@4 8];");
  CHECK(out[0].response["usage"]["total_tokens"] == 10);
  CHECK(out[0].response["model"] == "scripted");
  CHECK(out[1].content == "user:plain;");
}

TEST_CASE("server: bad requests get 4xx with an OpenAI error body") {
  net::ServeOptions o;
  o.max_body_bytes = 4096;
  o.max_frames = 2;
  Running r(o);
  auto c = r.Http();
  auto post = [&](const std::string& body, const std::string& type = "application/json") {
    auto res = c.Post("/v1/chat/completions", body, type.c_str());
    REQUIRE(res);
    return std::make_pair(res->status, Json::parse(res->body)["error"]["message"].get<std::string>());
  };
  CHECK(post("{", "application/json").first == 400);
  CHECK(post(Chat("x").dump(), "text/plain").first == 415);
  CHECK(post(Json{{"messages", Json::array()}}.dump()).second.find("non-empty array") != std::string::npos);
  auto wrong_model = Chat("x");
  wrong_model["model"] = "gpt-9";
  auto wm = post(wrong_model.dump());
  CHECK(wm.first == 404);
  CHECK(wm.second.find("'gpt-9' is not served here") != std::string::npos);
  auto stream = Chat("x");
  stream["stream"] = true;
  CHECK(post(stream.dump()).first == 400);
  auto remote = post(Chat(Json::array({Json{{"type", "image_url"}, {"image_url", {{"url", "http://example.com/a.jpg"}}}}})).dump());
  CHECK(remote.first == 400);
  CHECK(remote.second.find("only data: URLs") != std::string::npos);
  auto garbage = post(Chat(Json::array({Json{{"type", "image_url"}, {"image_url", {{"url", "data:image/png;base64,AAAA"}}}}})).dump());
  CHECK(garbage.first == 400);
  CHECK(garbage.second.find("decodable") != std::string::npos);
  auto many = Chat(Json::array({Json{{"type", "video"}, {"video", {JpegUrl(4, 4), JpegUrl(4, 4), JpegUrl(4, 4)}}}}));
  CHECK(post(many.dump()).first == 413);
  auto big = c.Post("/v1/chat/completions", Chat(std::string(8000, 'a')).dump(), "application/json");
  REQUIRE(big);
  CHECK(big->status == 413);
  auto refused = Chat("x");
  refused["fail"] = true;
  CHECK(post(refused.dump()).first == 422);
  CHECK(r.backend.calls == 1);  // only the last one reached the backend
}

TEST_CASE("server: concurrent requests are batched, a full queue answers 503 with Retry-After") {
  net::ServeOptions o;
  o.max_batch = 4;
  o.batch_wait_ms = 200;
  Running r(o);
  r.backend.delay_ms = 100;
  std::vector<std::future<int>> results;
  for (int i = 0; i < 4; ++i)
    results.push_back(std::async(std::launch::async, [&] {
      auto c = r.Http();
      auto res = c.Post("/v1/chat/completions", Chat("hi").dump(), "application/json");
      return res ? res->status : -1;
    }));
  for (auto& f : results) CHECK(f.get() == 200);
  CHECK(r.backend.largest_batch >= 2);
  CHECK(r.backend.calls < 4);

  net::ServeOptions q;
  q.max_batch = 1;
  q.max_queue = 1;
  q.batch_wait_ms = 0;
  Running busy(q);
  busy.backend.delay_ms = 600;
  std::vector<std::future<std::pair<int, std::string>>> calls;
  for (int i = 0; i < 4; ++i) {
    calls.push_back(std::async(std::launch::async, [&] {
      auto c = busy.Http();
      auto res = c.Post("/v1/chat/completions", Chat("hi").dump(), "application/json");
      return res ? std::make_pair(res->status, res->get_header_value("Retry-After")) : std::make_pair(-1, std::string());
    }));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  int ok = 0, rejected = 0;
  for (auto& f : calls) {
    auto [status, retry] = f.get();
    if (status == 200) ++ok;
    if (status == 503) {
      ++rejected;
      CHECK(retry == "1");
    }
  }
  CHECK(ok >= 2);  // one generating, one queued
  CHECK(rejected >= 1);
  CHECK(ok + rejected == 4);
}

TEST_CASE("server: a request still generating when Stop() comes is answered") {
  auto r = std::make_unique<Running>();
  r->backend.delay_ms = 500;
  auto reply = std::async(std::launch::async, [&] {
    auto c = r->Http();
    auto res = c.Post("/v1/chat/completions", Chat("late").dump(), "application/json");
    return res ? res->status : -1;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  r->server->Stop();
  CHECK(reply.get() == 200);
  r.reset();  // joins
}

TEST_CASE("server: base64 decoding") {
  CHECK(net::Base64Decode("Zm9vYmFy") == "foobar");
  CHECK(net::Base64Decode("Zm8=") == "fo");
  CHECK(net::Base64Decode(net::Base64("\x01\x02\xff")) == "\x01\x02\xff");
  CHECK_THROWS_AS(net::Base64Decode("Zm9v!"), net::RequestError);
}

TEST_CASE("server: ConstantTimeEqual is equality") {
  CHECK(net::ConstantTimeEqual("sk-123", "sk-123"));
  CHECK(net::ConstantTimeEqual("", ""));
  CHECK_FALSE(net::ConstantTimeEqual("sk-124", "sk-123"));
  CHECK_FALSE(net::ConstantTimeEqual("sk-12", "sk-123"));    // a prefix
  CHECK_FALSE(net::ConstantTimeEqual("sk-1234", "sk-123"));  // longer
  CHECK_FALSE(net::ConstantTimeEqual("", "sk-123"));
  CHECK_FALSE(net::ConstantTimeEqual("sk-123", ""));
  CHECK_FALSE(net::ConstantTimeEqual(std::string("sk-12\0", 6), "sk-123"));
}

TEST_CASE(
    "server: --api-key-env makes /v1/ answer 401 without the Bearer key, and /health stays open") {
  ::setenv("VSTAR_TEST_SERVE_KEY", "sk-serve-0123456789", 1);
  net::ServeOptions o;
  o.api_key_env = "VSTAR_TEST_SERVE_KEY";
  Running r(o);
  auto c = r.Http();
  auto post = [&](const httplib::Headers& h) {
    auto res = c.Post("/v1/chat/completions", h, Chat("x").dump(), "application/json");
    REQUIRE(res);
    return std::make_pair(res->status, res->body);
  };
  for (const httplib::Headers& h :
       {httplib::Headers{}, httplib::Headers{{"Authorization", "Bearer sk-serve-012345678"}},
        httplib::Headers{{"Authorization", "Bearer sk-serve-01234567890"}},
        httplib::Headers{{"Authorization", "Bearer sk-serve-0123456788"}},
        httplib::Headers{{"Authorization", "Basic sk-serve-0123456789"}},
        httplib::Headers{{"Authorization", "sk-serve-0123456789"}}}) {
    auto [status, body] = post(h);
    INFO(body);
    CHECK(status == 401);
    CHECK(Json::parse(body)["error"]["type"] == "authentication_error");
    CHECK(body.find("sk-serve") == std::string::npos);  // neither the key nor the guess is echoed
  }
  auto models = c.Get("/v1/models");
  REQUIRE(models);
  CHECK(models->status == 401);
  CHECK(models->get_header_value("WWW-Authenticate") == "Bearer");
  CHECK(r.backend.calls == 0);
  auto ok = post({{"Authorization", "Bearer sk-serve-0123456789"}});
  CHECK(ok.first == 200);
  CHECK(post({{"Authorization", "bearer sk-serve-0123456789"}}).first ==
        200);  // the scheme is case-insensitive
  CHECK(r.backend.calls == 2);
  auto health = c.Get("/health");
  REQUIRE(health);
  CHECK(health->status == 200);
  // Our own client sends the key from its --api-key-env; without it the reply is an HTTP 401
  // outcome.
  setenv("VSTAR_CACHE", test::TempDir("server-key-cache").c_str(), 1);
  net::ClientOptions co;
  co.endpoint = r.Endpoint();
  co.model = "scripted";
  co.no_cache = true;
  co.retries = 0;
  auto anonymous = net::Client(co).Complete({Chat("hi")});
  CHECK_FALSE(anonymous[0].ok);
  co.api_key_env = "VSTAR_TEST_SERVE_KEY";
  auto keyed = net::Client(co).Complete({Chat("hi")});
  REQUIRE(keyed[0].ok);
  CHECK(keyed[0].content == "user:hi;");

  ::unsetenv("VSTAR_TEST_SERVE_UNSET");
  net::ServeOptions missing;
  missing.api_key_env = "VSTAR_TEST_SERVE_UNSET";
  ScriptedBackend b;
  CHECK_THROWS_WITH(net::ChatServer(missing, b), Catch::Contains("VSTAR_TEST_SERVE_UNSET") &&
                                                     Catch::Contains("not set or empty"));
}
