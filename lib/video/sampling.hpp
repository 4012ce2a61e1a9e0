#pragma once
// Frame sampling and frame sizing rules, as pure functions (no FFmpeg here).
//
// `qwen` reproduces qwen-vl-utils (vision_process.py: smart_nframes, linspace().round(), smart_resize)
// exactly, with two constant sets:
//   - kQwenVideoStar (the default for `--sample qwen`): the copy vendored by Video-STAR, the method this
//     toolkit implements: 4..16 frames at 2 fps, 100352 <= pixels, max_pixels 105369 in practice.
//   - kQwenUpstream (`--sample qwen:upstream`): upstream qwen-vl-utils for Qwen2.5-VL: 4..768 frames,
//     VIDEO_MIN_PIXELS 100352, VIDEO_MAX_PIXELS 602112, VIDEO_TOTAL_PIXELS 90316800.
// Python's round() and torch.round() round half to even; so does everything here.
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace vstar::video {

// Raised for a clip the rule cannot sample (e.g. fewer than 2 frames for qwen). The message is meant
// for the record's error.
struct SamplingError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Round half to even (Python 3 round(), torch.round()), independent of the current FP rounding mode.
double RoundHalfEven(double x);
// qwen-vl-utils helpers: round/ceil/floor of number/factor, times factor.
int64_t RoundByFactor(double number, int64_t factor);
int64_t CeilByFactor(double number, int64_t factor);
int64_t FloorByFactor(double number, int64_t factor);

struct QwenConstants {
  const char* name;       // "videostar" | "upstream"
  double fps;             // FPS
  int64_t frame_factor;   // FRAME_FACTOR
  int64_t min_frames;     // FPS_MIN_FRAMES
  int64_t max_frames;     // FPS_MAX_FRAMES
  int64_t min_pixels;     // VIDEO_MIN_PIXELS
  int64_t max_pixels;     // VIDEO_MAX_PIXELS (per frame, before the total-pixel budget)
  int64_t total_pixels;   // VIDEO_TOTAL_PIXELS
  int64_t image_factor;   // IMAGE_FACTOR (28)
  double max_ratio;       // MAX_RATIO (200)
};
extern const QwenConstants kQwenVideoStar;
extern const QwenConstants kQwenUpstream;

// smart_nframes without `nframes`/`fps` keys: n = total/video_fps*fps clamped to [min, max] and
// total, floored to an even count. Throws SamplingError unless 2 <= n <= total.
int64_t SmartNFrames(const QwenConstants& c, int64_t total_frames, double video_fps);

// torch.linspace(0, total-1, n).round() as frame indices. linspace is evaluated the way torch does
// on CPU (step = (end-start)/(n-1); the first half counts up from start, the second half down from
// end), so a value that lands on .5 rounds exactly as torch rounds it.
std::vector<int64_t> LinspaceRound(int64_t total_frames, int64_t n);

// qwen-vl-utils smart_resize: both sides multiples of `factor`, pixels within [min, max] when
// possible. Sides are clamped to at least `factor` (qwen-vl-utils behaviour; transformers raises
// instead for sides < 28, we follow qwen-vl-utils). Only one of the max/min branches runs, so the
// result may land slightly outside [min, max] (as upstream). Throws SamplingError when
// max(h,w)/min(h,w) > max_ratio or a side is 0.
struct Size {
  int64_t height = 0;
  int64_t width = 0;
  bool operator==(const Size&) const = default;
};
Size SmartResize(int64_t height, int64_t width, int64_t factor, double min_pixels, double max_pixels,
                 double max_ratio = 200.0);
// fetch_video's pixel budget for n frames: max(min(max_pixels, total_pixels/n*2), int(min*1.05)).
// A double, as in Python: the budget can be fractional and smart_resize divides by it.
double VideoMaxPixels(const QwenConstants& c, int64_t nframes);
// The frame size fetch_video resizes to for an h x w video sampled to n frames.
Size QwenVideoSize(const QwenConstants& c, int64_t height, int64_t width, int64_t nframes);

// What --sample asked for.
struct SampleSpec {
  enum class Kind { kQwen, kUniform, kFps, kAll };
  Kind kind = Kind::kQwen;
  const QwenConstants* qwen = &kQwenVideoStar;  // for kQwen
  int64_t count = 0;                            // for kUniform
  double fps = 0;                               // for kFps
  // Canonical text, e.g. "qwen:videostar", "uniform:8", "fps:1.5", "all"; part of the cache key.
  std::string ToString() const;
};
// Parses qwen | qwen:videostar | qwen:upstream | uniform:N | fps:F | all. Throws std::invalid_argument.
SampleSpec ParseSampleSpec(std::string_view text);

// What the decoder knows about a clip when it chooses frames.
struct ClipTiming {
  int64_t total_frames = 0;            // decodable frames, counted
  double fps = 0;                      // average frame rate used by the rule (see decoder.hpp)
  std::vector<double> timestamps;      // seconds from the first frame, one per decodable frame
};

struct SamplePlan {
  std::vector<int64_t> indices;  // decode-order frame indices, non-decreasing
  double sample_fps = 0;         // qwen: n/total*fps; uniform: n/total*fps; fps:F: F; all: fps
};
// Applies a spec to a clip. Throws SamplingError when the clip cannot be sampled that way.
//  - qwen: SmartNFrames + LinspaceRound (exactly qwen-vl-utils).
//  - uniform:N: LinspaceRound(total, N); N > total is an error (no repeated frames).
//  - fps:F: by presentation time, not by index: for t = 0, 1/F, 2/F, ... up to the last frame's
//    timestamp, the last frame whose timestamp <= t (+1 µs), so variable-frame-rate clips are
//    sampled evenly in time.
//  - all: every frame.
SamplePlan PlanSamples(const SampleSpec& spec, const ClipTiming& clip);

// Indices of `count` of a record's `total` frames spread evenly over them: the centre of each of
// `count` equal segments, so the first and last thirds of the clip are both represented (the text
// tools hand a describer this subset). All when count >= total.
std::vector<size_t> EvenFrameIndices(size_t total, size_t count);

}  // namespace vstar::video
