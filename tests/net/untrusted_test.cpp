// vs-serve's data URLs come from any client: an image whose header claims a huge frame (a few
// megabytes of PNG can inflate to gigabytes) is refused from its header with 413, before OpenCV
// allocates it; an empty one is a 400.
#include <string>

#include <catch2/catch.hpp>

#include "net/image.hpp"
#include "net/server.hpp"

using namespace vstar;

namespace {

std::string Be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

// Signature and an IHDR chunk declaring width x height: the size check reads no further (the CRC
// and image data are never looked at).
std::string PngHeader(uint32_t width, uint32_t height) {
  return std::string("\x89PNG\r\n\x1a\n", 8) + Be32(13) + "IHDR" + Be32(width) + Be32(height) +
         std::string("\x08\x02\x00\x00\x00", 5) + Be32(0) + std::string(64, '\0');
}

// SOI, an APP0 segment, then a baseline SOF0 declaring width x height.
std::string JpegHeader(uint16_t width, uint16_t height) {
  auto be16 = [](uint16_t v) { return std::string{static_cast<char>(v >> 8), static_cast<char>(v)}; };
  return std::string("\xFF\xD8\xFF\xE0", 4) + be16(16) + std::string("JFIF\0\x01\x01\0\0\x01\0\x01\0\0", 14) +
         std::string("\xFF\xC0", 2) + be16(17) + std::string(1, '\x08') + be16(height) + be16(width) +
         std::string(12, '\x01');
}

int StatusOf(const std::string& url, std::string* message) {
  try {
    net::DecodeDataUrl(url);
  } catch (const net::RequestError& e) {
    *message = e.what();
    return e.status;
  }
  return 200;
}

}  // namespace

TEST_CASE("serve: data URLs declaring frames past 8192x8192 are refused from the header") {
  std::string why;
  CHECK(StatusOf("data:image/png;base64," + net::Base64(PngHeader(30000, 30000)), &why) == 413);
  CHECK(why.find("30000x30000") != std::string::npos);
  CHECK(StatusOf("data:image/jpeg;base64," + net::Base64(JpegHeader(40000, 20000)), &why) == 413);
  CHECK(why.find("40000x20000") != std::string::npos);
  // At the limit the header passes and the (bogus) image is then refused as undecodable (400).
  CHECK(StatusOf("data:image/png;base64," + net::Base64(PngHeader(8192, 8192)), &why) == 400);
  CHECK(why.find("decodable") != std::string::npos);
  // No bytes at all (OpenCV's imdecode asserted: a 500 instead of a 400; found by tests/fuzz).
  CHECK(StatusOf("data:image/png;base64,", &why) == 400);
  CHECK(why.find("decodable") != std::string::npos);
  // A real image decodes.
  std::vector<std::uint8_t> px(4 * 2 * 3, 90);
  net::Frame f = net::DecodeDataUrl(net::JpegDataUrl({4, 2, 12, px.data(), "t"}, 0, 90));
  CHECK(f.width == 4);
  CHECK(f.height == 2);
}
