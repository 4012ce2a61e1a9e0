// How the OpenAI-compatible client reads a reply: the first input byte picks an HTTP status and a
// content type, the rest is the body. Every outcome is ok with content, a retry or a failure with a
// message; nothing else may escape.
#include <string>

#include "fuzz.hpp"
#include "net/client.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using vstar::net::Reply;
  if (size == 0) return 0;
  static const long kStatus[] = {200, 201, 204, 301, 400, 401, 404, 408, 422, 429, 500, 503};
  static const char* kType[] = {"application/json", "application/json; charset=utf-8",
                                "text/html", "", "APPLICATION/JSON"};
  long status = kStatus[data[0] % (sizeof kStatus / sizeof kStatus[0])];
  std::string type = kType[(data[0] >> 4) % (sizeof kType / sizeof kType[0])];
  std::string body(vstar::fuzz::Text(data + 1, size - 1));
  Reply r = vstar::net::ReadReply("http://127.0.0.1:1/v1/chat/completions", status, type, body);
  vstar::fuzz::Check(r.kind == Reply::Kind::kOk ? r.error.empty() : r.error.rfind("POST ", 0) == 0);
  vstar::fuzz::Check(r.kind != Reply::Kind::kOk || (status >= 200 && status < 300));
  (void)vstar::net::ParseRetryAfter(body);
  return 0;
}
