#include "video/image_io.hpp"

#include <charconv>
#include <stdexcept>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace vstar::video {

std::string ImageFormat::ToString() const {
  return kind == Kind::kPng ? std::string("png") : "jpg:" + std::to_string(quality);
}
std::string ImageFormat::Extension() const { return kind == Kind::kPng ? ".png" : ".jpg"; }

ImageFormat ParseImageFormat(std::string_view text) {
  ImageFormat f;
  if (text == "png") return f;
  if (text == "jpg" || text == "jpeg") {
    f.kind = ImageFormat::Kind::kJpeg;
    return f;
  }
  for (std::string_view prefix : {"jpg:", "jpeg:"}) {
    if (text.substr(0, prefix.size()) == prefix) {
      std::string_view q = text.substr(prefix.size());
      int v = 0;
      auto [p, ec] = std::from_chars(q.data(), q.data() + q.size(), v);
      if (ec != std::errc() || p != q.data() + q.size() || v < 1 || v > 100)
        throw std::invalid_argument("--format " + std::string(text) + ": JPEG quality must be 1..100");
      f.kind = ImageFormat::Kind::kJpeg;
      f.quality = v;
      return f;
    }
  }
  throw std::invalid_argument("--format " + std::string(text) + ": expected png, jpg or jpg:Q");
}

std::string EncodeImage(const Image& rgb, const ImageFormat& format) {
  if (rgb.channels != 3) throw std::invalid_argument("EncodeImage: expected an RGB image");
  cv::Mat view(rgb.height, rgb.width, CV_8UC3, const_cast<uint8_t*>(rgb.pixels.data()));
  cv::Mat bgr;
  cv::cvtColor(view, bgr, cv::COLOR_RGB2BGR);
  std::vector<uchar> buf;
  bool ok = format.kind == ImageFormat::Kind::kPng
                ? cv::imencode(".png", bgr, buf, {cv::IMWRITE_PNG_COMPRESSION, 1})
                : cv::imencode(".jpg", bgr, buf, {cv::IMWRITE_JPEG_QUALITY, format.quality});
  if (!ok) throw std::runtime_error("cannot encode " + format.ToString());
  return std::string(buf.begin(), buf.end());
}

Image ReadImageRgb(const std::filesystem::path& file) {
  cv::Mat bgr = cv::imread(file.string(), cv::IMREAD_COLOR);
  if (bgr.empty()) throw std::runtime_error("cannot read image " + file.string());
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  Image out;
  out.width = rgb.cols;
  out.height = rgb.rows;
  out.channels = 3;
  out.pixels.resize(static_cast<size_t>(rgb.cols) * static_cast<size_t>(rgb.rows) * 3);
  for (int y = 0; y < rgb.rows; ++y)
    std::copy(rgb.ptr<uint8_t>(y), rgb.ptr<uint8_t>(y) + rgb.cols * 3, out.pixels.begin() + static_cast<ptrdiff_t>(y) * rgb.cols * 3);
  return out;
}

}  // namespace vstar::video
