#pragma once
// Frame files: binary PPM (lossless and uncompressed, the default: writing is one copy of the
// pixels, and every image reader opens it), PNG (lossless, zlib level 1; libavcodec's encoder) or
// JPEG at a given quality (OpenCV imgcodecs). Reading uses OpenCV.
#include <filesystem>
#include <string>
#include <string_view>

#include "video/resize.hpp"

namespace vstar::video {

struct ImageFormat {
  enum class Kind { kPpm, kPng, kJpeg };
  Kind kind = Kind::kPpm;
  int quality = 95;  // JPEG only, 1..100
  std::string ToString() const;   // "ppm" | "png" | "jpg:Q"
  std::string Extension() const;  // ".ppm" | ".png" | ".jpg"
  bool lossless() const { return kind != Kind::kJpeg; }
};
// Parses ppm | png | jpg | jpg:Q (Q in 1..100). Throws std::invalid_argument.
ImageFormat ParseImageFormat(std::string_view text);

// Encodes an RGB image. PPM (P6, maxval 255) is the header and the rows as they are; PNG uses zlib
// level 1 and the "up" filter.
std::string EncodeImage(const Image& rgb, const ImageFormat& format);
// Reads an image file as 8-bit RGB; throws std::runtime_error when it cannot be read.
Image ReadImageRgb(const std::filesystem::path& file);

}  // namespace vstar::video
