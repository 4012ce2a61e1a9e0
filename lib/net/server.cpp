#include "net/server.hpp"

#include <httplib.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <future>
#include <utility>

#include <CLI/CLI.hpp>
#include <opencv2/imgcodecs.hpp>

#include "io/cache.hpp"
#include "io/log.hpp"
#include "io/text.hpp"

namespace vstar::net {
namespace {

using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

Json ErrorBody(int status, const std::string& message) {
  std::string type = status == 401 || status == 403 ? "authentication_error"
                     : status >= 500                ? "server_error"
                                                    : "invalid_request_error";
  return Json{{"error", {{"message", message}, {"type", type}, {"code", status}}}};
}

using io::Lower;

}  // namespace

void ServeOptions::Register(CLI::App& app) {
  app.add_option("--host", host, "address to listen on")->capture_default_str();
  app.add_option("--port", port, "TCP port (0 = any free port; see --port-file)")
      ->capture_default_str();
  app.add_option("--port-file", port_file, "write the bound port to this file once listening");
  app.add_option("--served-model-name", model_id,
                 "model id clients use (default: the model directory's name)");
  app.add_option("--max-body-bytes", max_body_bytes,
                 "largest request body; larger ones get HTTP 413")
      ->capture_default_str();
  app.add_option("--max-frames", max_frames, "most frames one request may carry")
      ->capture_default_str();
  app.add_option("--read-timeout", read_timeout_s, "seconds to receive a request")
      ->capture_default_str();
  app.add_option("--write-timeout", write_timeout_s, "seconds to send a response")
      ->capture_default_str();
  app.add_option("--request-timeout", request_timeout_s,
                 "seconds a request may wait and generate (then 504)")
      ->capture_default_str();
  app.add_option("--max-batch", max_batch, "requests generated together")->capture_default_str();
  app.add_option("--batch-wait-ms", batch_wait_ms, "how long the first request waits for company")
      ->capture_default_str();
  app.add_option("--max-queue", max_queue, "requests waiting at most; more get HTTP 503")
      ->capture_default_str();
  app.add_option(
      "--api-key-env", api_key_env,
      "name of the environment variable holding the API key that /v1/ requests must send as "
      "'Authorization: Bearer KEY' (others get HTTP 401; the key is never printed)");
}

bool ConstantTimeEqual(std::string_view a, std::string_view b) {
  // Every byte of b is compared whatever a holds, and the difference is accumulated without a
  // branch, so the time tells nothing about how much of a guess was right.
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < b.size(); ++i)
    diff |= static_cast<unsigned char>((i < a.size() ? a[i] : ~b[i]) ^ b[i]);
  return diff == 0;
}

std::string Base64Decode(std::string_view text) {
  static const auto table = [] {
    std::array<int, 256> t{};
    t.fill(-1);
    const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(a[i])] = i;
    return t;
  }();
  std::string out;
  out.reserve(text.size() / 4 * 3);
  unsigned buffer = 0;
  int bits = 0;
  size_t padding = 0;
  for (char c : text) {
    if (c == '=') {
      ++padding;
      continue;
    }
    if (c == '\n' || c == '\r') continue;
    int v = table[static_cast<unsigned char>(c)];
    if (v < 0 || padding > 0) throw RequestError(400, "invalid base64 in a data URL");
    buffer = (buffer << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xFF);
    }
  }
  if (padding > 2) throw RequestError(400, "invalid base64 padding in a data URL");
  return out;
}

namespace {

// Frames larger than this are refused from their header, before OpenCV allocates them: a data URL
// of a few megabytes holds a PNG that inflates to gigabytes (30000x30000 is 2.7 GB as BGR).
// 8192x8192 is above 8K UHD (7680x4320), as vs-decode's limit.
constexpr int64_t kMaxFramePixels = int64_t{8192} * 8192;

// Width and height a PNG (IHDR) or JPEG (first SOFn segment) header declares; {0, 0} when neither
// is found, and imdecode decides.
std::pair<int64_t, int64_t> DeclaredSize(const std::string& b) {
  auto u8 = [&](size_t i) -> int64_t { return static_cast<unsigned char>(b[i]); };
  auto be32 = [&](size_t i) { return u8(i) << 24 | u8(i + 1) << 16 | u8(i + 2) << 8 | u8(i + 3); };
  if (b.size() >= 24 && b.compare(0, 8, "\x89PNG\r\n\x1a\n", 8) == 0 &&
      b.compare(12, 4, "IHDR") == 0)
    return {be32(16), be32(20)};
  if (b.size() < 4 || u8(0) != 0xFF || u8(1) != 0xD8) return {0, 0};
  // JPEG (ITU T.81 B.1.1): segments FF m len(2) ...; SOF0-SOF15 except DHT C4, JPG C8, DAC CC.
  for (size_t i = 2; i + 4 <= b.size() && u8(i) == 0xFF;) {
    const int64_t m = u8(i + 1);
    if (m == 0xFF) {  // fill byte
      ++i;
      continue;
    }
    if (m == 0x01 || (m >= 0xD0 && m <= 0xD8)) {  // markers without a length
      i += 2;
      continue;
    }
    if (m == 0xD9 || m == 0xDA) break;  // end of image, start of scan: no frame header before
    const bool sof = m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
    if (sof && i + 9 <= b.size()) return {u8(i + 7) << 8 | u8(i + 8), u8(i + 5) << 8 | u8(i + 6)};
    i += 2 + static_cast<size_t>(u8(i + 2) << 8 | u8(i + 3));
  }
  return {0, 0};
}

}  // namespace

Frame DecodeDataUrl(const std::string& url) {
  if (url.rfind("data:", 0) != 0)
    throw RequestError(400, "only data: URLs are accepted (this server fetches nothing); got '" +
                                url.substr(0, 40) + "'");
  auto comma = url.find(',');
  if (comma == std::string::npos) throw RequestError(400, "malformed data URL (no comma)");
  std::string header = Lower(url.substr(5, comma - 5));
  if (header.find(";base64") == std::string::npos)
    throw RequestError(400, "data URLs must be base64-encoded");
  Frame f;
  if (header.rfind("image/jpeg", 0) == 0 || header.rfind("image/jpg", 0) == 0)
    f.extension = ".jpg";
  else if (header.rfind("image/png", 0) == 0)
    f.extension = ".png";
  else
    throw RequestError(400, "unsupported image type '" + header + "' (JPEG or PNG)");
  f.bytes = Base64Decode(std::string_view(url).substr(comma + 1));
  if (auto [w, h] = DeclaredSize(f.bytes); w * h > kMaxFramePixels)
    throw RequestError(413, "a data URL holds a " + std::to_string(w) + "x" + std::to_string(h) +
                                " image, more than the " + std::to_string(kMaxFramePixels) +
                                " pixels a frame may have");
  std::vector<uchar> data(f.bytes.begin(), f.bytes.end());
  cv::Mat m;
  if (!data.empty()) m = cv::imdecode(data, cv::IMREAD_COLOR);  // imdecode asserts on no bytes
  if (m.empty())
    throw RequestError(400,
                       "a data URL does not hold a decodable " + f.extension.substr(1) + " image");
  f.width = m.cols;
  f.height = m.rows;
  return f;
}

ChatRequest ParseChatRequest(const Json& body, size_t max_frames) {
  if (!body.is_object()) throw RequestError(400, "the request body must be a JSON object");
  ChatRequest r;
  if (body.contains("model")) {
    if (!body["model"].is_string()) throw RequestError(400, "\"model\" must be a string");
    r.model = body["model"].get<std::string>();
  }
  if (!body.contains("messages") || !body["messages"].is_array() || body["messages"].empty())
    throw RequestError(400, "\"messages\" must be a non-empty array");
  size_t frames = 0;
  for (size_t m = 0; m < body["messages"].size(); ++m) {
    const Json& msg = body["messages"][m];
    std::string where = "messages[" + std::to_string(m) + "]";
    if (!msg.is_object() || !msg.contains("role") || !msg["role"].is_string())
      throw RequestError(400, where + " needs a \"role\" string");
    ChatTurn turn;
    turn.role = msg["role"].get<std::string>();
    const Json content = msg.contains("content") ? msg["content"] : Json(nullptr);
    if (content.is_null() || content.is_string()) {
      turn.parts.push_back({false, content.is_string() ? content.get<std::string>() : "", {}, 2.0});
    } else if (content.is_array()) {
      turn.is_list = true;
      bool last_was_image = false;
      for (size_t i = 0; i < content.size(); ++i) {
        const Json& item = content[i];
        std::string iw = where + ".content[" + std::to_string(i) + "]";
        if (!item.is_object() || !item.contains("type") || !item["type"].is_string())
          throw RequestError(400, iw + " needs a \"type\" string");
        std::string type = item["type"].get<std::string>();
        if (type == "text") {
          if (!item.contains("text") || !item["text"].is_string())
            throw RequestError(400, iw + " needs a \"text\" string");
          turn.parts.push_back({false, item["text"].get<std::string>(), {}, 2.0});
          last_was_image = false;
        } else if (type == "image_url") {
          const Json& iu = item.contains("image_url") ? item["image_url"] : Json(nullptr);
          std::string url = iu.is_string() ? iu.get<std::string>()
                            : (iu.is_object() && iu.contains("url") && iu["url"].is_string())
                                ? iu["url"].get<std::string>()
                                : "";
          if (url.empty()) throw RequestError(400, iw + " needs image_url.url");
          if (!last_was_image) turn.parts.push_back({true, "", {}, 2.0});
          turn.parts.back().frames.push_back(DecodeDataUrl(url));
          ++frames;
          last_was_image = true;
        } else if (type == "video") {
          if (!item.contains("video") || !item["video"].is_array() || item["video"].empty())
            throw RequestError(400, iw + " needs \"video\": a non-empty list of frame data URLs");
          ChatPart part{true, "", {}, 2.0};
          if (item.contains("fps")) {
            if (!item["fps"].is_number() || item["fps"].get<double>() <= 0)
              throw RequestError(400, iw + ".fps must be a positive number");
            part.fps = item["fps"].get<double>();
          }
          for (const auto& u : item["video"]) {
            if (!u.is_string()) throw RequestError(400, iw + ".video must hold URL strings");
            part.frames.push_back(DecodeDataUrl(u.get<std::string>()));
            ++frames;
          }
          turn.parts.push_back(std::move(part));
          last_was_image = false;
        } else {
          throw RequestError(
              400, iw + ": unsupported content type '" + type + "' (text, image_url, video)");
        }
        if (frames > max_frames)
          throw RequestError(413, "more than " + std::to_string(max_frames) +
                                      " frames in one request (--max-frames)");
      }
    } else {
      throw RequestError(400, where + ".content must be a string, a list or null");
    }
    r.messages.push_back(std::move(turn));
  }
  r.params = Json::object();
  for (const auto& [k, v] : body.items())
    if (k != "messages" && k != "model") r.params[k] = v;
  return r;
}

struct ChatServer::Pending {
  ChatRequest request;
  std::promise<ChatReply> promise;
};

struct ChatServer::Http {
  httplib::Server server;
};

ChatServer::ChatServer(ServeOptions options, ChatBackend& backend)
    : options_(std::move(options)), backend_(backend), http_(std::make_unique<Http>()) {
  if (options_.max_batch < 1) throw std::invalid_argument("--max-batch must be at least 1");
  if (!options_.api_key_env.empty()) {
    const char* key = std::getenv(options_.api_key_env.c_str());
    if (!key || !*key)
      throw std::invalid_argument("--api-key-env " + options_.api_key_env +
                                  ": the variable is not set or empty");
    api_key_ = key;
  }
  started_ = static_cast<int64_t>(std::time(nullptr));
  auto& s = http_->server;
  s.set_payload_max_length(options_.max_body_bytes);
  auto secs = [](double v) { return std::chrono::microseconds(static_cast<int64_t>(v * 1e6)); };
  s.set_read_timeout(secs(options_.read_timeout_s));
  s.set_write_timeout(secs(options_.write_timeout_s));
  auto send = [](httplib::Response& res, int status, const Json& body) {
    res.status = status;
    // Error messages may quote the request (nlohmann's parse errors quote the bytes last read),
    // which need not be UTF-8; a strict dump would throw here and httplib would answer an empty
    // 500.
    res.set_content(body.dump(-1, ' ', false, Json::error_handler_t::replace), "application/json");
  };
  // With a key, everything under /v1/ needs it; /health stays open for probes (it names the model
  // and the queue length only), as in vLLM's server.
  s.set_pre_routing_handler([this, send](const httplib::Request& req, httplib::Response& res) {
    if (api_key_.empty() || req.path.rfind("/v1/", 0) != 0)
      return httplib::Server::HandlerResponse::Unhandled;
    const std::string auth = req.get_header_value("Authorization");
    const std::string_view scheme = "Bearer ";
    const bool bearer =
        auth.size() >= scheme.size() && Lower(auth.substr(0, scheme.size())) == "bearer ";
    if (bearer && ConstantTimeEqual(std::string_view(auth).substr(scheme.size()), api_key_))
      return httplib::Server::HandlerResponse::Unhandled;
    ++stats_.requests;
    ++stats_.rejected;
    res.set_header("WWW-Authenticate", "Bearer");
    send(res, 401,
         ErrorBody(401, bearer ? "wrong API key"
                               : "this server needs an API key: send 'Authorization: Bearer KEY'"));
    return httplib::Server::HandlerResponse::Handled;
  });
  s.Get("/health", [this, send](const httplib::Request&, httplib::Response& res) {
    size_t queued;
    {
      std::lock_guard<std::mutex> lock(mu_);
      queued = queue_.size();
    }
    send(res, 200, {{"status", "ok"}, {"model", backend_.ModelId()}, {"queued", queued}});
  });
  s.Get("/v1/models", [this, send](const httplib::Request&, httplib::Response& res) {
    send(res, 200,
         {{"object", "list"},
          {"data", Json::array({Json{{"id", backend_.ModelId()},
                                     {"object", "model"},
                                     {"created", started_},
                                     {"owned_by", "vstar"},
                                     {"vstar", backend_.Settings()}}})}});
  });
  s.Post("/v1/chat/completions", [this, send](const httplib::Request& req, httplib::Response& res) {
    ++stats_.requests;
    try {
      if (Lower(req.get_header_value("Content-Type")).find("application/json") == std::string::npos)
        throw RequestError(415, "Content-Type must be application/json");
      Json body;
      try {
        body = Json::parse(req.body);
      } catch (const Json::exception& e) {
        throw RequestError(400, std::string("invalid JSON: ") + e.what());
      }
      if (body.is_object() && body.value("stream", false))
        throw RequestError(400, "\"stream\": true is not supported; ask without streaming");
      if (body.is_object() && body.contains("n") && body["n"] != 1)
        throw RequestError(400, "only \"n\": 1 is supported");
      ChatRequest parsed = ParseChatRequest(body, options_.max_frames);
      if (!parsed.model.empty() && parsed.model != backend_.ModelId())
        throw RequestError(404, "model '" + parsed.model +
                                    "' is not served here; /v1/models lists '" +
                                    backend_.ModelId() + "'");
      send(res, 200, Answer(std::move(parsed)));
    } catch (const RequestError& e) {
      ++stats_.rejected;
      if (e.status == 503) res.set_header("Retry-After", "1");
      send(res, e.status, ErrorBody(e.status, e.what()));
    } catch (const std::exception& e) {
      log::Error("chat completion failed: ", e.what());
      send(res, 500, ErrorBody(500, e.what()));
    }
  });
}

ChatServer::~ChatServer() {
  Stop();
  if (worker_.joinable()) worker_.join();
}

int ChatServer::Bind() {
  auto& s = http_->server;
  int port = options_.port == 0
                 ? s.bind_to_any_port(options_.host)
                 : (s.bind_to_port(options_.host, options_.port) ? options_.port : -1);
  if (port <= 0)
    throw std::runtime_error("cannot listen on " + options_.host + ":" +
                             std::to_string(options_.port) +
                             " (in use, or not an address of this machine)");
  return port;
}

Json ChatServer::Answer(ChatRequest request) {
  auto pending = std::make_shared<Pending>();
  pending->request = std::move(request);
  auto future = pending->promise.get_future();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) throw RequestError(503, "the server is shutting down");
    if (queue_.size() >= options_.max_queue)
      throw RequestError(
          503, "too many requests waiting (" + std::to_string(queue_.size()) + ", --max-queue)");
    queue_.push_back(pending);
  }
  cv_.notify_all();
  auto limit = std::chrono::duration<double>(options_.request_timeout_s);
  if (future.wait_for(limit) != std::future_status::ready)
    throw RequestError(504, "no answer within --request-timeout " +
                                std::to_string(options_.request_timeout_s) + " s");
  ChatReply reply = future.get();  // rethrows the backend's error
  uint64_t id = next_id_++;
  return Json{
      {"id", "chatcmpl-vstar-" + std::to_string(id)},
      {"object", "chat.completion"},
      {"created", static_cast<int64_t>(std::time(nullptr))},
      {"model", backend_.ModelId()},
      {"choices", Json::array({Json{{"index", 0},
                                    {"message", {{"role", "assistant"}, {"content", reply.text}}},
                                    {"finish_reason", reply.finish_reason}}})},
      {"usage",
       {{"prompt_tokens", reply.prompt_tokens},
        {"completion_tokens", reply.completion_tokens},
        {"total_tokens", reply.prompt_tokens + reply.completion_tokens}}}};
}

void ChatServer::Worker() {
  for (;;) {
    std::vector<std::shared_ptr<Pending>> batch;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) {
        for (auto& p : queue_)
          p->promise.set_exception(
              std::make_exception_ptr(RequestError(503, "the server is shutting down")));
        queue_.clear();
        return;
      }
      // Let concurrent requests join the first one for a moment, up to --max-batch.
      auto deadline = Clock::now() + std::chrono::microseconds(
                                         static_cast<int64_t>(options_.batch_wait_ms * 1000));
      cv_.wait_until(lock, deadline,
                     [&] { return stopping_ || queue_.size() >= options_.max_batch; });
      while (!queue_.empty() && batch.size() < options_.max_batch) {
        batch.push_back(queue_.front());
        queue_.pop_front();
      }
    }
    std::vector<ChatRequest> requests;
    for (auto& p : batch) requests.push_back(std::move(p->request));
    try {
      auto replies = backend_.Complete(requests);
      if (replies.size() != batch.size())
        throw std::runtime_error("backend returned " + std::to_string(replies.size()) +
                                 " replies for " + std::to_string(batch.size()) + " requests");
      for (size_t i = 0; i < batch.size(); ++i) batch[i]->promise.set_value(std::move(replies[i]));
      ++stats_.batches;
    } catch (...) {
      for (auto& p : batch) p->promise.set_exception(std::current_exception());
    }
  }
}

void ChatServer::Serve() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = false;
  }
  worker_ = std::thread([this] { Worker(); });
  http_->server.listen_after_bind();
  Stop();
  worker_.join();
}

void ChatServer::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  http_->server.stop();
}

namespace {

// SIGTERM/SIGINT reach a process-wide handler (whichever thread the kernel picks, including threads
// a model library started before the server) that writes the signal number into a pipe; one thread
// reads it and stops the server. Only async-signal-safe calls happen in the handler.
int g_signal_pipe[2] = {-1, -1};

extern "C" void OnStopSignal(int sig) {
  unsigned char b = static_cast<unsigned char>(sig);
  [[maybe_unused]] ssize_t n = write(g_signal_pipe[1], &b, 1);
}

}  // namespace

int RunServer(const ServeOptions& options, ChatBackend& backend) {
  ChatServer server(options, backend);
  int port;
  try {
    port = server.Bind();
  } catch (const std::exception& e) {
    log::Error(e.what());
    return 1;
  }
  if (pipe(g_signal_pipe) != 0) throw std::runtime_error("cannot create the signal pipe");
  struct sigaction action {
  }, old_term{}, old_int{};
  action.sa_handler = OnStopSignal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, &old_term);
  sigaction(SIGINT, &action, &old_int);
  std::thread waiter([&] {
    unsigned char sig = 0;
    while (read(g_signal_pipe[0], &sig, 1) < 0 && errno == EINTR) {
    }
    if (sig == SIGTERM || sig == SIGINT)
      log::Info("signal ", sig == SIGTERM ? "SIGTERM" : "SIGINT",
                ": finishing requests in flight and stopping");
    server.Stop();
  });
  if (!options.port_file.empty())
    io::WriteFileAtomic(options.port_file, std::to_string(port) + "\n");
  log::Info("serving ", backend.ModelId(), " on http://", options.host, ":", port, "/v1");
  server.Serve();
  unsigned char wake = 0;  // not a signal number: the waiter just stops
  [[maybe_unused]] ssize_t n = write(g_signal_pipe[1], &wake, 1);
  waiter.join();
  sigaction(SIGTERM, &old_term, nullptr);
  sigaction(SIGINT, &old_int, nullptr);
  close(g_signal_pipe[0]);
  close(g_signal_pipe[1]);
  log::Info("stopped after ", server.stats().requests.load(), " requests in ",
            server.stats().batches.load(), " batches");
  return 0;
}

}  // namespace vstar::net
