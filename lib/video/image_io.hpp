#pragma once
// Frame files: PNG (lossless, the default; libavcodec's encoder) or JPEG at a given quality (OpenCV
// imgcodecs). Reading uses OpenCV.
#include <filesystem>
#include <string>
#include <string_view>

#include "video/resize.hpp"

namespace vstar::video {

struct ImageFormat {
  enum class Kind { kPng, kJpeg };
  Kind kind = Kind::kPng;
  int quality = 95;  // JPEG only, 1..100
  std::string ToString() const;         // "png" | "jpg:Q"
  std::string Extension() const;        // ".png" | ".jpg"
};
// Parses png | jpg | jpg:Q (Q in 1..100). Throws std::invalid_argument.
ImageFormat ParseImageFormat(std::string_view text);

// Encodes an RGB image. PNG uses zlib level 1 and the "up" filter: lossless, and fast to write.
std::string EncodeImage(const Image& rgb, const ImageFormat& format);
// Reads an image file as 8-bit RGB; throws std::runtime_error when it cannot be read.
Image ReadImageRgb(const std::filesystem::path& file);

}  // namespace vstar::video
