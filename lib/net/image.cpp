#include "net/image.hpp"

#include <algorithm>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace vstar::net {

std::string Base64(std::string_view in) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                 static_cast<unsigned char>(in[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (size_t rest = in.size() - i; rest > 0) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    if (rest == 2) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string JpegDataUrl(const plugin::Image& image, int max_side, int quality) {
  if (image.data == nullptr || image.width <= 0 || image.height <= 0 || image.stride < image.width * 3)
    throw plugin::Error("frame " + image.path + ": empty or malformed image");
  cv::Mat bgr(image.height, image.width, CV_8UC3, const_cast<std::uint8_t*>(image.data),
              static_cast<size_t>(image.stride));
  cv::Mat scaled = bgr;
  int longer = std::max(image.width, image.height);
  if (max_side > 0 && longer > max_side) {
    double f = static_cast<double>(max_side) / longer;
    cv::Size size(std::max(1, static_cast<int>(image.width * f + 0.5)),
                  std::max(1, static_cast<int>(image.height * f + 0.5)));
    cv::resize(bgr, scaled, size, 0, 0, cv::INTER_AREA);
  }
  std::vector<uchar> jpeg;
  if (!cv::imencode(".jpg", scaled, jpeg, {cv::IMWRITE_JPEG_QUALITY, std::clamp(quality, 1, 100)}))
    throw plugin::Error("frame " + image.path + ": JPEG encoding failed");
  return "data:image/jpeg;base64," +
         Base64(std::string_view(reinterpret_cast<const char*>(jpeg.data()), jpeg.size()));
}

}  // namespace vstar::net
