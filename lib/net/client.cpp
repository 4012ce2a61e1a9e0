#include "net/client.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <CLI/CLI.hpp>

#include "io/cache.hpp"
#include "io/log.hpp"
#include "io/text.hpp"

namespace vstar::net {
namespace {

using Clock = std::chrono::steady_clock;

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
      throw std::runtime_error("libcurl: global initialisation failed");
  });
}

using io::Lower;
using io::Trim;

// A short, printable excerpt of a server body for error messages.
std::string Excerpt(const std::string& body, size_t n = 200) {
  std::string out;
  for (char c : body.substr(0, n)) out += (static_cast<unsigned char>(c) < 0x20) ? ' ' : c;
  if (body.size() > n) out += "...";
  return out;
}

std::string FormatSeconds(double s) {
  std::ostringstream o;
  o.precision(3);
  o << s << " s";
  return o.str();
}

bool IsRetryableCurl(CURLcode code) {
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_COULDNT_CONNECT:
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_PARTIAL_FILE:
      return true;
    default:
      return false;
  }
}

// `text` with every occurrence of `secret` replaced by "<api key>".
std::string Redact(std::string text, const std::string& secret) {
  if (secret.empty()) return text;
  for (size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at))
    text.replace(at, secret.size(), "<api key>");
  return text;
}

std::filesystem::path CacheFile(const std::string& key) { return io::CacheDir("net", key) / "response.json"; }

}  // namespace

void ClientOptions::Register(CLI::App& app) {
  app.add_option("--endpoint", endpoint,
                 "OpenAI-compatible base URL; requests go to <endpoint>/chat/completions")
      ->capture_default_str();
  app.add_option("--api-model", model, "model name sent to the endpoint");
  app.add_option("--api-key-env", api_key_env,
                 "name of the environment variable holding the API key (the key is never printed)");
  app.add_option("--timeout", timeout_s, "seconds allowed for one HTTP transfer")->capture_default_str();
  app.add_option("--connect-timeout", connect_timeout_s, "seconds allowed to connect")
      ->capture_default_str();
  app.add_option("--jobs", jobs, "HTTP requests in flight at once")->capture_default_str();
  app.add_option("--retries", retries, "retries per request (429, 408, 5xx, timeouts, connection errors)")
      ->capture_default_str();
  app.add_option("--retry-budget", retry_budget, "retries allowed across the whole run")
      ->capture_default_str();
  app.add_option("--backoff", backoff_s, "first retry delay in seconds (doubles per retry, jittered)")
      ->capture_default_str();
  app.add_option("--backoff-max", backoff_max_s, "longest computed retry delay in seconds")
      ->capture_default_str();
  app.add_option("--retry-after-max", retry_after_max_s,
                 "longest Retry-After (seconds) honoured; a longer one fails the request")
      ->capture_default_str();
  app.add_flag("--no-cache", no_cache, "neither read nor write the response cache");
}

std::map<std::string, std::string> ClientOptions::ToValues() const {
  auto num = [](double v) {
    std::ostringstream o;
    o << v;
    return o.str();
  };
  return {{"endpoint", endpoint},
          {"model", model},
          {"api_key_env", api_key_env},
          {"timeout", num(timeout_s)},
          {"connect_timeout", num(connect_timeout_s)},
          {"jobs", std::to_string(jobs)},
          {"retries", std::to_string(retries)},
          {"retry_budget", std::to_string(retry_budget)},
          {"backoff", num(backoff_s)},
          {"backoff_max", num(backoff_max_s)},
          {"retry_after_max", num(retry_after_max_s)},
          {"no_cache", no_cache ? "1" : "0"}};
}

ClientOptions ClientOptions::FromValues(const std::map<std::string, std::string>& values,
                                        const std::string& model) {
  ClientOptions o;
  o.model = model;
  auto get = [&](const char* key) -> const std::string* {
    auto it = values.find(key);
    return it == values.end() ? nullptr : &it->second;
  };
  auto as_double = [&](const char* key, double& out) {
    if (auto* v = get(key)) {
      try {
        size_t used = 0;
        out = std::stod(*v, &used);
        if (used != v->size()) throw std::invalid_argument("");
      } catch (const std::exception&) {
        throw std::invalid_argument(std::string("option ") + key + ": not a number: '" + *v + "'");
      }
    }
  };
  auto as_int = [&](const char* key, int& out) {
    double d = out;
    as_double(key, d);
    if (d != std::floor(d)) throw std::invalid_argument(std::string("option ") + key + ": not an integer");
    out = static_cast<int>(d);
  };
  if (auto* v = get("endpoint")) o.endpoint = *v;
  if (auto* v = get("api_key_env")) o.api_key_env = *v;
  if (auto* v = get("model"); v && o.model.empty()) o.model = *v;
  as_double("timeout", o.timeout_s);
  as_double("connect_timeout", o.connect_timeout_s);
  as_int("jobs", o.jobs);
  as_int("retries", o.retries);
  as_int("retry_budget", o.retry_budget);
  as_double("backoff", o.backoff_s);
  as_double("backoff_max", o.backoff_max_s);
  as_double("retry_after_max", o.retry_after_max_s);
  if (auto* v = get("no_cache")) o.no_cache = (*v == "1" || *v == "true" || *v == "yes");
  return o;
}

void ClientOptions::Validate() const {
  if (endpoint.rfind("http://", 0) != 0 && endpoint.rfind("https://", 0) != 0)
    throw std::invalid_argument("--endpoint must start with http:// or https://, got '" + endpoint + "'");
  if (jobs < 1) throw std::invalid_argument("--jobs must be at least 1");
  if (retries < 0 || retry_budget < 0) throw std::invalid_argument("--retries/--retry-budget must be >= 0");
  if (!(timeout_s > 0) || !(connect_timeout_s > 0))
    throw std::invalid_argument("--timeout and --connect-timeout must be positive");
  if (backoff_s < 0 || backoff_max_s < 0 || retry_after_max_s < 0)
    throw std::invalid_argument("--backoff, --backoff-max and --retry-after-max must be >= 0");
}

double ParseRetryAfter(const std::string& raw) {
  std::string v = Trim(raw);
  if (v.empty()) return -1;
  if (std::all_of(v.begin(), v.end(), [](unsigned char c) { return std::isdigit(c); })) {
    try {
      return std::stod(v);
    } catch (const std::exception&) {
      return -1;
    }
  }
  // HTTP-date, e.g. "Wed, 21 Oct 2015 07:28:00 GMT" (curl_getdate understands the RFC forms).
  time_t when = curl_getdate(v.c_str(), nullptr);
  if (when < 0) return -1;
  return std::max(0.0, std::difftime(when, std::time(nullptr)));
}

Reply ReadReply(const std::string& url, long status, const std::string& content_type,
                const std::string& body) {
  auto fail = [&](Reply::Kind kind, const std::string& why) {
    Reply r;
    r.kind = kind;
    r.error = "POST " + url + ": " + why;
    return r;
  };
  const std::string http = "HTTP " + std::to_string(status);
  if (status == 408 || status == 429 || status >= 500)
    return fail(Reply::Kind::kRetry, http + (body.empty() ? "" : ": " + Excerpt(body)));
  if (status < 200 || status >= 300) {
    std::string detail = Excerpt(body);
    try {
      Json err = Json::parse(body);
      if (err.contains("error") && err["error"].is_object() && err["error"].contains("message"))
        detail = err["error"]["message"].get<std::string>();
      else if (err.contains("error") && err["error"].is_string())
        detail = err["error"].get<std::string>();
    } catch (const std::exception&) {
    }
    std::string hint = (status == 401 || status == 403) ? " (check --api-key-env)" : "";
    return fail(Reply::Kind::kFail, http + hint + (detail.empty() ? "" : ": " + detail));
  }
  if (Lower(content_type).find("application/json") == std::string::npos)
    return fail(Reply::Kind::kFail, http + " with content type '" + content_type +
                                        "', expected application/json: " + Excerpt(body, 80));
  Json parsed;
  try {
    parsed = Json::parse(body);
  } catch (const std::exception& e) {
    return fail(Reply::Kind::kFail, "malformed JSON in the response (" +
                                        std::to_string(body.size()) + " bytes): " + e.what());
  }
  const Json* content = nullptr;
  if (parsed.is_object() && parsed.contains("choices") && parsed["choices"].is_array() &&
      !parsed["choices"].empty()) {
    const Json& c0 = parsed["choices"][0];
    if (c0.is_object() && c0.contains("message") && c0["message"].is_object() &&
        c0["message"].contains("content") && c0["message"]["content"].is_string())
      content = &c0["message"]["content"];
  }
  if (content == nullptr)
    return fail(Reply::Kind::kFail, "the response has no choices[0].message.content string: " +
                                        Excerpt(body, 120));
  Reply r;
  r.kind = Reply::Kind::kOk;
  r.content = content->get<std::string>();
  r.response = std::move(parsed);
  return r;
}

struct Client::Transfer {
  size_t index = 0;
  std::string body;
  std::string key;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  std::string response;
  std::string content_type;
  std::string retry_after;
  Clock::time_point not_before{};
  Outcome outcome;
  bool done = false;
};

namespace {

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

// Captures the headers the client decides on. Header lines of every response in a redirect chain
// arrive here; a new status line resets them.
struct HeaderSink {
  std::string* content_type;
  std::string* retry_after;
};

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* sink = static_cast<HeaderSink*>(user);
  std::string line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) {
    sink->content_type->clear();
    sink->retry_after->clear();
  }
  auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = Lower(Trim(line.substr(0, colon)));
    std::string value = Trim(line.substr(colon + 1));
    if (name == "content-type") *sink->content_type = value;
    if (name == "retry-after") *sink->retry_after = value;
  }
  return size * n;
}

}  // namespace

Client::Client(ClientOptions options) : options_(std::move(options)), budget_left_(0) {
  options_.Validate();
  GlobalInit();
  url_ = options_.endpoint;
  while (!url_.empty() && url_.back() == '/') url_.pop_back();
  url_ += "/chat/completions";
  if (!options_.api_key_env.empty()) {
    const char* key = std::getenv(options_.api_key_env.c_str());
    if (key == nullptr || *key == '\0')
      throw std::invalid_argument("--api-key-env names " + options_.api_key_env +
                                  ", but that environment variable is unset or empty");
    api_key_ = key;
  }
  budget_left_ = options_.retry_budget;
}

Client::~Client() = default;

Json Client::Prepare(const Json& body) const {
  if (!body.is_object()) throw std::invalid_argument("chat request body must be a JSON object");
  Json b = body;
  if (!b.contains("model")) {
    if (options_.model.empty())
      throw std::invalid_argument("no model name: pass --api-model (or put \"model\" in the request)");
    b["model"] = options_.model;
  }
  if (!b.contains("messages") || !b["messages"].is_array())
    throw std::invalid_argument("chat request body has no \"messages\" array");
  return b;
}

std::string Client::CacheKey(const Json& body) const {
  // nlohmann::json keeps object keys sorted, so dump() is canonical for equal requests.
  Json keyed = {{"url", url_}, {"body", Prepare(body)}};
  return io::Sha256Hex(keyed.dump());
}

std::vector<Outcome> Client::Complete(const std::vector<Json>& bodies) {
  std::vector<Outcome> outcomes(bodies.size());
  std::vector<Transfer> transfers;
  transfers.reserve(bodies.size());
  for (size_t i = 0; i < bodies.size(); ++i) {
    Json prepared;
    try {
      prepared = Prepare(bodies[i]);
    } catch (const std::exception& e) {
      outcomes[i].error = e.what();
      continue;
    }
    std::string key = io::Sha256Hex(Json({{"url", url_}, {"body", prepared}}).dump());
    if (!options_.no_cache) {
      auto file = CacheFile(key);
      std::ifstream in(file, std::ios::binary);
      if (in) {
        std::stringstream s;
        s << in.rdbuf();
        try {
          Json cached = Json::parse(s.str());
          outcomes[i].ok = true;
          outcomes[i].response = cached;
          outcomes[i].content = cached.at("choices").at(0).at("message").at("content").get<std::string>();
          outcomes[i].cached = true;
          outcomes[i].http_status = 200;
          ++stats_.cache_hits;
          continue;
        } catch (const std::exception&) {
          log::Warn("response cache entry ", file.string(), " is unreadable; asking the server again");
          outcomes[i] = Outcome{};
        }
      }
    }
    Transfer t;
    t.index = i;
    t.body = prepared.dump();
    t.key = std::move(key);
    transfers.push_back(std::move(t));
  }
  if (!transfers.empty()) RunTransfers(transfers);
  for (auto& t : transfers) outcomes[t.index] = std::move(t.outcome);
  return outcomes;
}

void Client::RunTransfers(std::vector<Transfer>& transfers) {
  CURLM* multi = curl_multi_init();
  if (multi == nullptr) throw std::runtime_error("libcurl: cannot create a multi handle");
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_real_distribution<double> jitter(0.5, 1.0);

  std::deque<size_t> waiting;  // transfers not in flight and not done, in order
  for (size_t i = 0; i < transfers.size(); ++i) waiting.push_back(i);
  std::vector<HeaderSink> sinks(transfers.size());
  int in_flight = 0;

  auto start = [&](size_t i) {
    Transfer& t = transfers[i];
    t.response.clear();
    t.content_type.clear();
    t.retry_after.clear();
    if (t.easy == nullptr) {
      t.easy = curl_easy_init();
      if (t.easy == nullptr) throw std::runtime_error("libcurl: cannot create an easy handle");
      t.headers = curl_slist_append(t.headers, "Content-Type: application/json");
      t.headers = curl_slist_append(t.headers, "Accept: application/json");
      if (!api_key_.empty())
        t.headers = curl_slist_append(t.headers, ("Authorization: Bearer " + api_key_).c_str());
    }
    sinks[i] = HeaderSink{&t.content_type, &t.retry_after};
    CURL* e = t.easy;
    curl_easy_setopt(e, CURLOPT_URL, url_.c_str());
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t.headers);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, t.body.c_str());
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(t.body.size()));
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &OnBody);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &t.response);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &OnHeader);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, &sinks[i]);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout_s * 1000));
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout_s * 1000));
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "vstar-net/1");
    curl_easy_setopt(e, CURLOPT_PRIVATE, reinterpret_cast<void*>(i));
    curl_multi_add_handle(multi, e);
    ++t.outcome.attempts;
    ++stats_.requests;
    if (t.outcome.attempts > 1) ++stats_.retries;
    ++in_flight;
    log::Debug("request ", t.index + 1, ": attempt ", t.outcome.attempts, " sent");
  };

  auto finish_fail = [&](Transfer& t, std::string why) {
    t.outcome.ok = false;
    t.outcome.error = std::move(why);
    t.done = true;
  };

  // Decides what to do after a failed attempt that may be retried.
  auto retry_or_fail = [&](size_t i, const std::string& why) {
    Transfer& t = transfers[i];
    int retries_done = t.outcome.attempts - 1;
    if (retries_done >= options_.retries) {
      finish_fail(t, why + " (gave up after " + std::to_string(t.outcome.attempts) + " attempts)");
      return;
    }
    double delay = ParseRetryAfter(t.retry_after);
    if (delay > options_.retry_after_max_s) {
      finish_fail(t, why + " (server asked to retry after " + FormatSeconds(delay) +
                         ", more than --retry-after-max " + FormatSeconds(options_.retry_after_max_s) + ")");
      return;
    }
    if (budget_left_.fetch_sub(1) <= 0) {
      ++budget_left_;
      finish_fail(t, why + " (retry budget of " + std::to_string(options_.retry_budget) +
                         " retries for this run is spent)");
      return;
    }
    if (delay < 0) {
      double base = std::min(options_.backoff_max_s, options_.backoff_s * std::pow(2.0, retries_done));
      delay = base * jitter(rng);
    }
    log::Warn("request ", t.index + 1, ": ", why, "; retry ", retries_done + 1, "/", options_.retries,
              " in ", FormatSeconds(delay));
    t.not_before = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(delay));
    waiting.push_back(i);
  };

  auto complete = [&](size_t i, CURLcode code) {
    Transfer& t = transfers[i];
    --in_flight;
    curl_multi_remove_handle(multi, t.easy);
    long status = 0;
    curl_easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &status);
    t.outcome.http_status = status;
    double took = 0;
    curl_easy_getinfo(t.easy, CURLINFO_TOTAL_TIME, &took);
    log::Debug("request ", t.index + 1, ": attempt ", t.outcome.attempts, " ended after ", FormatSeconds(took),
               " (HTTP ", status, ", ", curl_easy_strerror(code), ")");
    if (code != CURLE_OK) {
      std::string why = std::string("POST ") + url_ + ": " + curl_easy_strerror(code);
      if (code == CURLE_OPERATION_TIMEDOUT) why = "POST " + url_ + ": timed out after " +
                                                  FormatSeconds(options_.timeout_s) + " (--timeout)";
      if (IsRetryableCurl(code)) retry_or_fail(i, why);
      else finish_fail(t, why);
      return;
    }
    // A server may quote the Authorization header back (in an error, or even in a reply); the key
    // must not reach records, logs or the cache through it.
    Reply reply = ReadReply(url_, status, t.content_type, Redact(std::move(t.response), api_key_));
    if (reply.kind == Reply::Kind::kRetry) {
      retry_or_fail(i, reply.error);
      return;
    }
    if (reply.kind == Reply::Kind::kFail) {
      finish_fail(t, reply.error);
      return;
    }
    t.outcome.ok = true;
    t.outcome.content = std::move(reply.content);
    t.outcome.response = std::move(reply.response);
    t.done = true;
    if (!options_.no_cache) {
      try {
        auto file = CacheFile(t.key);
        std::filesystem::create_directories(file.parent_path());
        io::WriteFileAtomic(file, t.outcome.response.dump());
      } catch (const std::exception& e) {
        log::Warn("cannot write the response cache: ", e.what());
      }
    }
  };

  size_t remaining = transfers.size();
  try {
    while (remaining > 0) {
      // Start what may start now, up to --jobs in flight, keeping the rest in order.
      auto now = Clock::now();
      for (size_t n = waiting.size(); n > 0 && in_flight < options_.jobs; --n) {
        size_t i = waiting.front();
        waiting.pop_front();
        if (transfers[i].not_before <= now) {
          start(i);
        } else {
          waiting.push_back(i);
        }
      }

      int running = 0;
      CURLMcode mc = curl_multi_perform(multi, &running);
      if (mc != CURLM_OK) throw std::runtime_error(std::string("libcurl: ") + curl_multi_strerror(mc));
      int queued = 0;
      while (CURLMsg* msg = curl_multi_info_read(multi, &queued)) {
        if (msg->msg != CURLMSG_DONE) continue;
        void* priv = nullptr;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
        size_t i = reinterpret_cast<size_t>(priv);
        complete(i, msg->data.result);
        if (transfers[i].done) --remaining;
      }
      if (remaining == 0) break;
      // Computed after completions, which may just have scheduled retries.
      Clock::time_point next_due = Clock::time_point::max();
      // With every slot busy only a transfer's end matters (poll wakes for it); never spin.
      if (in_flight < options_.jobs)
        for (size_t i : waiting) next_due = std::min(next_due, transfers[i].not_before);
      int wait_ms = 1000;
      if (next_due != Clock::time_point::max()) {
        auto until = std::chrono::duration_cast<std::chrono::milliseconds>(next_due - Clock::now()).count();
        wait_ms = static_cast<int>(std::clamp<long long>(until, 0, 1000));
      }
      if (in_flight > 0) {
        curl_multi_poll(multi, nullptr, 0, wait_ms, nullptr);
      } else if (wait_ms > 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms));
      }
    }
  } catch (...) {
    for (auto& t : transfers) {
      if (t.easy) {
        curl_multi_remove_handle(multi, t.easy);
        curl_easy_cleanup(t.easy);
        curl_slist_free_all(t.headers);
        t.easy = nullptr;
      }
    }
    curl_multi_cleanup(multi);
    throw;
  }
  for (auto& t : transfers) {
    if (t.easy) {
      curl_easy_cleanup(t.easy);
      curl_slist_free_all(t.headers);
      t.easy = nullptr;
      t.headers = nullptr;
    }
  }
  curl_multi_cleanup(multi);
}

}  // namespace vstar::net
