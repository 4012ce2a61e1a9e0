#pragma once
// An OpenAI-compatible chat-completions client over libcurl's multi interface (POST /v1/chat/completions).
//
// Behaviour, as documented in vs-explain(1):
// - POST <endpoint>/chat/completions with a JSON body; up to `jobs` transfers in flight at once.
// - The API key is read from the environment variable named by --api-key-env and sent only as an
//   `Authorization: Bearer` header; it is never logged, cached, hashed or written to a record.
// - Retried (exponential backoff with jitter, honouring Retry-After): HTTP 408, 429 and 5xx, transfer
//   timeouts and connection failures. Each request retries at most `retries` times and the whole client
//   at most `retry_budget` times; when either runs out the request fails with the last error.
// - Not retried, failing that request with a clear message: other 4xx (the server's error.message is
//   quoted), a 2xx body that is not JSON, is truncated, has a non-JSON content type, or has no
//   choices[0].message.content.
// - Successful responses are cached on disk ($VSTAR_CACHE/net/..), keyed by the SHA-256 of the
//   canonical JSON of the endpoint URL and the full request body; `no_cache` bypasses reading and
//   writing the cache.
#include <atomic>
#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace CLI {
class App;
}

namespace vstar::net {

using Json = nlohmann::json;

struct ClientOptions {
  std::string endpoint = "http://127.0.0.1:8000/v1";  // --endpoint: base URL ending before /chat/...
  std::string model;                                  // --api-model: model name sent in each request
  std::string api_key_env;     // --api-key-env: NAME of the environment variable holding the key
  double timeout_s = 120;      // --timeout: whole transfer, per attempt
  double connect_timeout_s = 10;  // --connect-timeout
  int jobs = 4;                // --jobs: transfers in flight
  int retries = 4;             // --retries: per request
  int retry_budget = 64;       // --retry-budget: retries across the whole run
  double backoff_s = 1.0;      // --backoff: first retry delay; doubles per attempt
  double backoff_max_s = 30;   // --backoff-max: cap of the computed delay
  double retry_after_max_s = 120;  // --retry-after-max: longest Retry-After honoured
  bool no_cache = false;       // --no-cache

  void Register(CLI::App& app);
  // The same settings as string pairs (for plugin::Config::values) and back; `model` given to
  // FromValues (plugin::Config::model) wins over values["model"]. The key itself is never part of
  // these; only the variable name travels.
  std::map<std::string, std::string> ToValues() const;
  static ClientOptions FromValues(const std::map<std::string, std::string>& values,
                                  const std::string& model);
  // Throws std::invalid_argument on impossible values (jobs < 1, negative timeouts, bad URL scheme).
  void Validate() const;
};

// The outcome of one request.
struct Outcome {
  bool ok = false;
  std::string content;  // choices[0].message.content when ok
  Json response;        // the parsed response body when ok
  std::string error;    // why it failed (never contains the API key)
  long http_status = 0; // last HTTP status seen (0 = none, e.g. timeout)
  int attempts = 0;     // transfers made (0 when served from the cache)
  bool cached = false;
};

// Counters for tests and logs (totals over the client's lifetime).
struct ClientStats {
  std::atomic<size_t> requests{0};   // transfers started
  std::atomic<size_t> retries{0};    // transfers that were retries
  std::atomic<size_t> cache_hits{0};
};

class Client {
 public:
  // Reads the API key now (fails if --api-key-env names an unset variable) and validates options.
  explicit Client(ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends every body (a complete chat-completions request object; "model" is filled in when absent)
  // and returns one outcome per body, in order. Safe to call from several threads at once.
  std::vector<Outcome> Complete(const std::vector<Json>& bodies);

  // The cache key of a body (exposed for tests): sha256 of canonical {"url", "body"}.
  std::string CacheKey(const Json& body) const;
  const ClientOptions& options() const { return options_; }
  const ClientStats& stats() const { return stats_; }

 private:
  struct Transfer;
  Json Prepare(const Json& body) const;
  void RunTransfers(std::vector<Transfer>& transfers);

  ClientOptions options_;
  std::string url_;
  std::string api_key_;  // never logged
  ClientStats stats_;
  std::atomic<int> budget_left_;
};

// How one finished transfer's HTTP reply is read (the rules at the top of this file): retry (408, 429,
// 5xx), fail with a message that quotes the server's error.message, or the content of
// choices[0].message.content. Messages start with "POST <url>: ".
struct Reply {
  enum class Kind { kOk, kRetry, kFail };
  Kind kind = Kind::kFail;
  std::string content;  // kOk
  Json response;        // kOk: the parsed body
  std::string error;    // kRetry, kFail
};
Reply ReadReply(const std::string& url, long status, const std::string& content_type,
                const std::string& body);

// Parses a Retry-After header value (delta-seconds or an HTTP date) into seconds from now; negative when
// absent or unparseable.
double ParseRetryAfter(const std::string& value);

}  // namespace vstar::net
