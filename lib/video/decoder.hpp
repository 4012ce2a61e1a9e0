#pragma once
// Video decoding with FFmpeg (libavformat/libavcodec/libswscale) that returns exactly the frames a
// sequential decode returns:
//  - the container is probed by content, never by extension; the video stream is selected
//    explicitly (audio, data and cover-art streams are ignored);
//  - frame index = position in the sequential decode output; the decodable frame count is counted
//    or verified, never taken from nb_frames or the header (DivX packed bitstream, webm without a
//    count, truncated files);
//  - sparse sampling seeks to the keyframe before each wanted frame and counts forward by
//    presentation timestamps taken from a demux-only packet scan. This "seek" mode is used only for
//    codecs where one packet is one frame (H.264, HEVC, AV1, MJPEG, MPEG-4 outside AVI) and every
//    packet has a timestamp; every frame decoded after a seek must carry exactly the timestamp the
//    packet scan predicts for the next index, otherwise the clip falls back to a sequential decode
//    (no guessing). Decoder errors after a seek also trigger the fallback.
//  - the sequential mode decodes the whole clip once, keeping the frames that the rule picks for
//    the estimated count (and the two counts below it, which covers packed-bitstream AVIs); a second
//    pass runs only when the real count picks other frames;
//  - timestamps come from pts (variable frame rate safe): seconds since the stream start;
//  - the display matrix is applied (rotation 90/180/270 clockwise, like ffmpeg's autorotate);
//  - pixels are converted to RGB24 with swscale (bicubic flag, the frame's colour matrix and range:
//    what the ffmpeg CLI's auto-inserted scaler does for a same-size conversion);
//  - any demuxer or decoder error reported at error level, or a corrupt packet, fails the clip
//    (DecodeError) in sequential mode: a truncated or damaged file is an error record, not a
//    silently shorter clip;
//  - a per-clip timeout interrupts blocking I/O and the decode loop (TimeoutError).
#include <cstdint>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "video/resize.hpp"
#include "video/sampling.hpp"

namespace vstar::video {

struct DecodeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct TimeoutError : DecodeError {
  using DecodeError::DecodeError;
};

struct ReaderOptions {
  double timeout_s = 0;     // 0 = no limit
  int codec_threads = 1;    // libavcodec threads for this clip (0 = FFmpeg's automatic choice)
  bool allow_seek = true;   // false forces the sequential path (reference decodes, tests)
};

struct DecodedFrame {
  int64_t index = 0;
  double timestamp = 0;
  Image image;  // RGB24, display orientation
};

struct ClipInfo {
  std::string container;  // demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
  std::string codec;      // decoder name, e.g. "h264"
  int source_width = 0;   // coded size
  int source_height = 0;
  int rotation = 0;       // clockwise degrees applied to reach the display orientation
  int width = 0;          // display size (after rotation)
  int height = 0;
  double fps = 0;         // average frame rate: avg_frame_rate, else r_frame_rate, else measured
  int64_t total_frames = 0;        // decodable frames
  std::vector<double> timestamps;  // one per decodable frame
  std::string mode;                // "seek" or "sequential": how the frames were obtained
};

// Picks frame indices once the clip's timing is known; may throw SamplingError.
using FrameSelector = std::function<std::vector<int64_t>(const ClipTiming&)>;

struct ClipFrames {
  ClipInfo info;
  std::vector<int64_t> indices;       // what the selector returned, in its order
  std::vector<DecodedFrame> frames;   // one per distinct index, ascending
  double convert_seconds = 0;         // of the read, the time spent converting frames to RGB24
};

// The timing the sampling rules see for a clip.
ClipTiming TimingOf(const ClipInfo& info);

// Decodes the frames `select` picks. Throws DecodeError (unreadable, not a video, corrupt,
// truncated), TimeoutError, or SamplingError from the selector.
ClipFrames ReadClip(const std::filesystem::path& file, const FrameSelector& select,
                    const ReaderOptions& opt = {});

// Version string of the libraries, for cache keys and --version.
std::string FfmpegVersion();

}  // namespace vstar::video
