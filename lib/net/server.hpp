#pragma once
// An OpenAI-compatible HTTP server (cpp-httplib) in front of a chat backend: /v1/chat/completions,
// /v1/models and /health, with request size limits, socket timeouts, a bounded queue, batching of
// concurrent requests, and a clean stop on SIGTERM/SIGINT (vs-serve(1)). The backend is an
// interface so this file needs no model code; vs-serve implements it over the policy engine.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace CLI {
class App;
}

namespace vstar::net {

struct ServeOptions {
  std::string host = "127.0.0.1";     // --host
  int port = 8000;                    // --port (0 = any free port)
  std::string port_file;              // --port-file: written with the bound port once listening
  std::string model_id;               // --served-model-name (default: the model directory's name)
  size_t max_body_bytes = 64u << 20;  // --max-body-bytes
  size_t max_frames = 64;             // --max-frames: frames per request, all videos together
  double read_timeout_s = 30;         // --read-timeout
  double write_timeout_s = 30;        // --write-timeout
  double request_timeout_s = 600;     // --request-timeout: queueing + generation
  size_t max_batch = 4;               // --max-batch
  double batch_wait_ms = 10;          // --batch-wait-ms
  size_t max_queue = 64;              // --max-queue
  // --api-key-env NAME: /v1/ requests must carry "Authorization: Bearer <the variable's value>".
  // The key is taken from the environment, not the command line, so that ps and shell histories do
  // not show it (as the client's --api-key-env).
  std::string api_key_env;

  void Register(CLI::App& app);
};

// A frame as sent: the encoded image bytes of a data URL (JPEG or PNG), checked to decode.
struct Frame {
  std::string bytes;
  std::string extension;  // ".jpg" or ".png"
  int width = 0, height = 0;
};

struct ChatPart {
  bool is_video = false;
  std::string text;           // text parts
  std::vector<Frame> frames;  // video parts: frames in time order
  double fps = 2.0;           // video parts: frames per second of the frames as sampled
};

struct ChatTurn {
  std::string role;
  bool is_list = false;  // content was a list (else `parts` holds one text part)
  std::vector<ChatPart> parts;
};

struct ChatRequest {
  std::string model;
  std::vector<ChatTurn> messages;
  nlohmann::json params;  // the remaining request members (temperature, max_tokens, ...) as sent
};

struct ChatReply {
  std::string text;
  std::string finish_reason = "stop";
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
};

// A client error: answered with HTTP `status` and an OpenAI-style error body.
struct RequestError : std::runtime_error {
  RequestError(int status, const std::string& message)
      : std::runtime_error(message), status(status) {}
  int status;
};

class ChatBackend {
 public:
  virtual ~ChatBackend() = default;
  virtual std::string ModelId() const = 0;
  // Answers the requests together, one reply each, in order. Throw RequestError to reject them as
  // the client's fault; any other exception answers HTTP 500.
  virtual std::vector<ChatReply> Complete(const std::vector<ChatRequest>& requests) = 0;
  // Generation settings reported by /v1/models and in each response ("vstar" member).
  virtual nlohmann::json Settings() const { return nlohmann::json::object(); }
};

// Parses an OpenAI chat-completions body. Text content is a string or a list of parts:
// {"type":"text"},
// {"type":"image_url","image_url":{"url":...}} (consecutive images form one video, in order) and
// {"type":"video","video":[url,...],"fps":F} (one video). URLs must be data: URLs of JPEG or PNG
// images; the server fetches nothing. Throws RequestError(400) naming the offending member.
ChatRequest ParseChatRequest(const nlohmann::json& body, size_t max_frames);
// Decodes a data: URL ("data:image/jpeg;base64,...") into a checked Frame.
Frame DecodeDataUrl(const std::string& url);
std::string Base64Decode(std::string_view text);  // throws RequestError(400) on bad input
// a == b in a time that depends on b's length only, not on where they differ (API key checks).
bool ConstantTimeEqual(std::string_view a, std::string_view b);

class ChatServer {
 public:
  ChatServer(ServeOptions options, ChatBackend& backend);
  ~ChatServer();
  // Binds (port 0 = any free port) and returns the port.
  int Bind();
  // Serves until Stop(); then finishes the requests already being generated, answers the queued
  // ones 503, and returns.
  void Serve();
  void Stop();  // safe from any thread

  struct Stats {
    std::atomic<size_t> requests{0}, batches{0}, rejected{0};
  };
  const Stats& stats() const { return stats_; }

 private:
  struct Pending;
  void Worker();
  nlohmann::json Answer(ChatRequest request);

  ServeOptions options_;
  std::string api_key_;  // from options_.api_key_env; empty: no authentication
  ChatBackend& backend_;
  struct Http;
  std::unique_ptr<Http> http_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Pending>> queue_;
  bool stopping_ = false;
  std::thread worker_;
  Stats stats_;
  std::atomic<uint64_t> next_id_{1};
  int64_t started_ = 0;
};

// vs-serve's main loop: binds, writes --port-file, logs the address, serves until SIGTERM or
// SIGINT, and returns the exit code (0 after a clean stop, 1 when it cannot bind).
int RunServer(const ServeOptions& options, ChatBackend& backend);

}  // namespace vstar::net
