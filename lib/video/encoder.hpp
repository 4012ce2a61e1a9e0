#pragma once
// Writing clips with FFmpeg (libavformat/libavcodec/libswscale): RGB24 frames in, a real compressed
// video file out, so anything that reads it goes through the same codec round trip as a dataset clip.
// Output is bit-exact reproducible: one encoder thread, AV_CODEC_FLAG_BITEXACT and AVFMT_FLAG_BITEXACT
// (no library version strings or creation times in the file), constant quantiser, fixed GOP.
#include <filesystem>
#include <memory>
#include <string>

#include "video/resize.hpp"

namespace vstar::video {

struct EncoderOptions {
  std::string codec = "mpeg4";  // an FFmpeg encoder name (mpeg4 is built into every libavcodec)
  int fps = 10;
  int qscale = 4;   // constant quantiser, 1 (best) .. 31
  int gop = 10;     // frames between keyframes
};

// Writes one file; the container follows the file extension (.mp4, .avi, .mkv). Throws
// std::runtime_error when the encoder or file cannot be opened or a frame cannot be encoded.
class VideoEncoder {
 public:
  VideoEncoder(const std::filesystem::path& file, int width, int height, const EncoderOptions& opt = {});
  ~VideoEncoder();
  VideoEncoder(const VideoEncoder&) = delete;
  VideoEncoder& operator=(const VideoEncoder&) = delete;
  // `rgb` must be width x height with 3 channels.
  void Write(const Image& rgb);
  // Flushes the encoder and writes the trailer; called by the destructor when not called (errors are
  // then only logged).
  void Close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vstar::video
