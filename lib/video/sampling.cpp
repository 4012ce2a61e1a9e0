#include "video/sampling.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <sstream>

namespace vstar::video {

// The Video-STAR copy of qwen-vl-utils (src/qwen-vl-utils/src/qwen_vl_utils/vision_process.py in
// Raymond-Qiancx/Video-STAR): VIDEO_MIN_PIXELS =
// VIDEO_MAX_PIXELS = 128*28*28, FPS_MAX_FRAMES = 16.
const QwenConstants kQwenVideoStar{"videostar", 2.0, 2, 4, 16, 100352, 100352, 90316800, 28, 200.0};
// Upstream qwen-vl-utils for Qwen2.5-VL (QwenLM/Qwen2.5-VL, qwen-vl-utils vision_process.py).
const QwenConstants kQwenUpstream{"upstream", 2.0, 2, 4, 768, 100352, 602112, 90316800, 28, 200.0};

double RoundHalfEven(double x) {
  if (!std::isfinite(x)) return x;
  double f = std::floor(x);
  double diff = x - f;
  if (diff > 0.5) return f + 1.0;
  if (diff < 0.5) return f;
  return std::fmod(f, 2.0) == 0.0 ? f : f + 1.0;
}

int64_t RoundByFactor(double number, int64_t factor) {
  return static_cast<int64_t>(RoundHalfEven(number / static_cast<double>(factor))) * factor;
}
int64_t CeilByFactor(double number, int64_t factor) {
  return static_cast<int64_t>(std::ceil(number / static_cast<double>(factor))) * factor;
}
int64_t FloorByFactor(double number, int64_t factor) {
  return static_cast<int64_t>(std::floor(number / static_cast<double>(factor))) * factor;
}

int64_t SmartNFrames(const QwenConstants& c, int64_t total_frames, double video_fps) {
  if (total_frames <= 0) throw SamplingError("the clip has no decodable frames");
  if (!(video_fps > 0) || !std::isfinite(video_fps))
    throw SamplingError("the clip has no usable frame rate");
  const double min_frames = static_cast<double>(CeilByFactor(static_cast<double>(c.min_frames), c.frame_factor));
  const double max_frames = static_cast<double>(
      FloorByFactor(static_cast<double>(std::min(c.max_frames, total_frames)), c.frame_factor));
  double n = static_cast<double>(total_frames) / video_fps * c.fps;
  n = std::min(std::min(std::max(n, min_frames), max_frames), static_cast<double>(total_frames));
  const int64_t nframes = FloorByFactor(n, c.frame_factor);
  if (!(c.frame_factor <= nframes && nframes <= total_frames)) {
    std::ostringstream msg;
    msg << "qwen sampling needs at least " << c.frame_factor << " frames: nframes should be in ["
        << c.frame_factor << ", " << total_frames << "], got " << nframes << " (clip has "
        << total_frames << " decodable frame" << (total_frames == 1 ? "" : "s") << ")";
    throw SamplingError(msg.str());
  }
  return nframes;
}

std::vector<int64_t> LinspaceRound(int64_t total_frames, int64_t n) {
  std::vector<int64_t> out;
  if (n <= 0) return out;
  // torch.linspace defaults to float32; emulate its CPU kernel in float.
  const float start = 0.0f;
  const float end = static_cast<float>(total_frames - 1);
  if (n == 1) {
    out.push_back(0);
    return out;
  }
  const float step = (end - start) / static_cast<float>(n - 1);
  const int64_t halfway = n / 2;
  out.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    float v = i < halfway ? start + step * static_cast<float>(i)
                          : end - step * static_cast<float>(n - i - 1);
    out.push_back(static_cast<int64_t>(RoundHalfEven(static_cast<double>(v))));
  }
  return out;
}

Size SmartResize(int64_t height, int64_t width, int64_t factor, double min_pixels, double max_pixels,
                 double max_ratio) {
  if (height <= 0 || width <= 0) throw SamplingError("frame has an empty side");
  const double h = static_cast<double>(height), w = static_cast<double>(width);
  if (std::max(h, w) / std::min(h, w) > max_ratio) {
    std::ostringstream msg;
    msg << "absolute aspect ratio must be smaller than " << max_ratio << ", got "
        << std::max(h, w) / std::min(h, w);
    throw SamplingError(msg.str());
  }
  int64_t h_bar = std::max(factor, RoundByFactor(h, factor));
  int64_t w_bar = std::max(factor, RoundByFactor(w, factor));
  if (static_cast<double>(h_bar * w_bar) > max_pixels) {
    const double beta = std::sqrt((h * w) / max_pixels);
    h_bar = FloorByFactor(h / beta, factor);
    w_bar = FloorByFactor(w / beta, factor);
  } else if (static_cast<double>(h_bar * w_bar) < min_pixels) {
    const double beta = std::sqrt(min_pixels / (h * w));
    h_bar = CeilByFactor(h * beta, factor);
    w_bar = CeilByFactor(w * beta, factor);
  }
  return {h_bar, w_bar};
}

double VideoMaxPixels(const QwenConstants& c, int64_t nframes) {
  const double budget = static_cast<double>(c.total_pixels) / static_cast<double>(nframes) *
                        static_cast<double>(c.frame_factor);
  const double capped = std::min(static_cast<double>(c.max_pixels), budget);
  const double floor_px = static_cast<double>(static_cast<int64_t>(static_cast<double>(c.min_pixels) * 1.05));
  return std::max(capped, floor_px);
}

Size QwenVideoSize(const QwenConstants& c, int64_t height, int64_t width, int64_t nframes) {
  return SmartResize(height, width, c.image_factor, static_cast<double>(c.min_pixels),
                     VideoMaxPixels(c, nframes), c.max_ratio);
}

std::string SampleSpec::ToString() const {
  std::ostringstream s;
  switch (kind) {
    case Kind::kQwen: s << "qwen:" << qwen->name; break;
    case Kind::kUniform: s << "uniform:" << count; break;
    case Kind::kFps: s.precision(17); s << "fps:" << fps; break;
    case Kind::kAll: s << "all"; break;
  }
  return s.str();
}

SampleSpec ParseSampleSpec(std::string_view text) {
  SampleSpec spec;
  const auto colon = text.find(':');
  const std::string_view head = text.substr(0, colon);
  const std::string_view arg = colon == std::string_view::npos ? std::string_view{} : text.substr(colon + 1);
  const bool has_arg = colon != std::string_view::npos;
  auto bad = [&](const std::string& why) {
    return std::invalid_argument("--sample " + std::string(text) + ": " + why +
                                 " (expected qwen, qwen:videostar, qwen:upstream, uniform:N, fps:F or all)");
  };
  if (head == "qwen") {
    spec.kind = SampleSpec::Kind::kQwen;
    if (!has_arg || arg == "videostar") spec.qwen = &kQwenVideoStar;
    else if (arg == "upstream") spec.qwen = &kQwenUpstream;
    else throw bad("unknown constant set '" + std::string(arg) + "'");
  } else if (head == "uniform") {
    spec.kind = SampleSpec::Kind::kUniform;
    int64_t n = 0;
    auto [p, ec] = std::from_chars(arg.data(), arg.data() + arg.size(), n);
    if (!has_arg || ec != std::errc() || p != arg.data() + arg.size() || n < 1)
      throw bad("N must be a positive integer");
    spec.count = n;
  } else if (head == "fps") {
    spec.kind = SampleSpec::Kind::kFps;
    double f = 0;
    auto [p, ec] = std::from_chars(arg.data(), arg.data() + arg.size(), f);
    if (!has_arg || ec != std::errc() || p != arg.data() + arg.size() || !(f > 0) || !std::isfinite(f))
      throw bad("F must be a positive number");
    spec.fps = f;
  } else if (head == "all" && !has_arg) {
    spec.kind = SampleSpec::Kind::kAll;
  } else {
    throw bad("unknown rule");
  }
  return spec;
}

SamplePlan PlanSamples(const SampleSpec& spec, const ClipTiming& clip) {
  SamplePlan plan;
  const int64_t total = clip.total_frames;
  if (total <= 0) throw SamplingError("the clip has no decodable frames");
  switch (spec.kind) {
    case SampleSpec::Kind::kQwen: {
      const int64_t n = SmartNFrames(*spec.qwen, total, clip.fps);
      plan.indices = LinspaceRound(total, n);
      plan.sample_fps = static_cast<double>(n) / static_cast<double>(total) * clip.fps;
      break;
    }
    case SampleSpec::Kind::kUniform: {
      if (spec.count > total) {
        std::ostringstream msg;
        msg << "uniform:" << spec.count << " asks for more frames than the clip's " << total
            << " decodable frames";
        throw SamplingError(msg.str());
      }
      plan.indices = LinspaceRound(total, spec.count);
      plan.sample_fps = static_cast<double>(spec.count) / static_cast<double>(total) * clip.fps;
      break;
    }
    case SampleSpec::Kind::kFps: {
      if (static_cast<int64_t>(clip.timestamps.size()) != total)
        throw SamplingError("fps sampling needs a timestamp per frame");
      const double last = clip.timestamps.back();
      size_t j = 0;
      for (int64_t k = 0;; ++k) {
        const double t = static_cast<double>(k) / spec.fps;
        if (t > last + 1e-6) break;
        while (j + 1 < clip.timestamps.size() && clip.timestamps[j + 1] <= t + 1e-6) ++j;
        plan.indices.push_back(static_cast<int64_t>(j));
      }
      plan.sample_fps = spec.fps;
      break;
    }
    case SampleSpec::Kind::kAll: {
      plan.indices.resize(static_cast<size_t>(total));
      for (int64_t i = 0; i < total; ++i) plan.indices[static_cast<size_t>(i)] = i;
      plan.sample_fps = clip.fps;
      break;
    }
  }
  return plan;
}

std::vector<size_t> EvenFrameIndices(size_t total, size_t count) {
  std::vector<size_t> out;
  if (count == 0 || total == 0) return out;
  if (count >= total) {
    for (size_t i = 0; i < total; ++i) out.push_back(i);
    return out;
  }
  for (size_t i = 0; i < count; ++i) out.push_back((2 * i + 1) * total / (2 * count));
  return out;
}

}  // namespace vstar::video
