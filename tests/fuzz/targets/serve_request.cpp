// vs-serve's request parsing: chat-completions bodies (roles, content parts, image_url/video data
// URLs, fps, the frame limit), data URLs and base64 on their own.
#include <string>

#include "fuzz.hpp"
#include "net/server.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vstar::net;
  std::string text(vstar::fuzz::Text(data, size));
  auto body = nlohmann::json::parse(text, nullptr, false);
  if (!body.is_discarded()) {
    try {
      (void)ParseChatRequest(body, 4);
    } catch (const RequestError& e) {
      vstar::fuzz::Check(e.status >= 400 && e.status < 500);
    }
  }
  try {
    (void)DecodeDataUrl(text);
  } catch (const RequestError& e) {
    vstar::fuzz::Check(e.status == 400 || e.status == 413);  // 413: a frame too large
  }
  try {
    (void)Base64Decode(text);
  } catch (const RequestError& e) {
    vstar::fuzz::Check(e.status == 400);
  }
  return 0;
}
