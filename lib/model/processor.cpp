#include "model/processor.hpp"

#include <algorithm>
#include <cfenv>
#include <cmath>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace vstar::model {
namespace {

// Python's round(): half to even.
double RoundHalfEven(double x) {
  const int saved = std::fegetround();
  std::fesetround(FE_TONEAREST);
  const double r = std::nearbyint(x);
  std::fesetround(saved);
  return r;
}

// ---- Pillow resample (libImaging/Resample.c), bicubic, 8 bits per channel ----------------------
constexpr int kPrecisionBits = 32 - 8 - 2;

double BicubicFilter(double x) {
  constexpr double a = -0.5;
  x = std::fabs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

struct Coeffs {
  int ksize = 0;
  std::vector<int> bounds;  // per output: xmin, xcount
  std::vector<int> k;       // per output: ksize fixed-point weights
};

Coeffs PrecomputeCoeffs(int in_size, int out_size) {
  constexpr double kSupport = 2.0;
  const double scale = static_cast<double>(in_size) / out_size;
  const double filterscale = std::max(scale, 1.0);
  const double support = kSupport * filterscale;
  Coeffs c;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.bounds.resize(2 * out_size);
  c.k.assign(static_cast<size_t>(out_size) * c.ksize, 0);
  std::vector<double> pre(c.ksize);
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      const double w = BicubicFilter((x + xmin - center + 0.5) * ss);
      pre[x] = w;
      ww += w;
    }
    for (int x = 0; x < xmax; ++x) {
      if (ww != 0.0) pre[x] /= ww;
    }
    for (int x = 0; x < c.ksize; ++x) {
      const double v = x < xmax ? pre[x] : 0.0;
      c.k[static_cast<size_t>(xx) * c.ksize + x] =
          static_cast<int>(v < 0 ? -0.5 + v * (1 << kPrecisionBits) : 0.5 + v * (1 << kPrecisionBits));
    }
    c.bounds[2 * xx] = xmin;
    c.bounds[2 * xx + 1] = xmax;
  }
  return c;
}

uint8_t Clip8(int64_t v) {
  v >>= kPrecisionBits;
  return static_cast<uint8_t>(std::clamp<int64_t>(v, 0, 255));
}

// src [h, w, 3] -> [h, out_w, 3]
std::vector<uint8_t> ResampleHorizontal(const std::vector<uint8_t>& src, int h, int w, int out_w) {
  const Coeffs c = PrecomputeCoeffs(w, out_w);
  std::vector<uint8_t> out(static_cast<size_t>(h) * out_w * 3);
  for (int y = 0; y < h; ++y) {
    const uint8_t* row = src.data() + static_cast<size_t>(y) * w * 3;
    for (int xx = 0; xx < out_w; ++xx) {
      const int xmin = c.bounds[2 * xx], xcount = c.bounds[2 * xx + 1];
      const int* k = c.k.data() + static_cast<size_t>(xx) * c.ksize;
      for (int ch = 0; ch < 3; ++ch) {
        int64_t ss = 1 << (kPrecisionBits - 1);
        for (int x = 0; x < xcount; ++x) ss += static_cast<int64_t>(row[(x + xmin) * 3 + ch]) * k[x];
        out[(static_cast<size_t>(y) * out_w + xx) * 3 + ch] = Clip8(ss);
      }
    }
  }
  return out;
}

// src [h, w, 3] -> [out_h, w, 3]
std::vector<uint8_t> ResampleVertical(const std::vector<uint8_t>& src, int h, int w, int out_h) {
  const Coeffs c = PrecomputeCoeffs(h, out_h);
  std::vector<uint8_t> out(static_cast<size_t>(out_h) * w * 3);
  for (int yy = 0; yy < out_h; ++yy) {
    const int ymin = c.bounds[2 * yy], ycount = c.bounds[2 * yy + 1];
    const int* k = c.k.data() + static_cast<size_t>(yy) * c.ksize;
    for (int x = 0; x < w * 3; ++x) {
      int64_t ss = 1 << (kPrecisionBits - 1);
      for (int y = 0; y < ycount; ++y) ss += static_cast<int64_t>(src[static_cast<size_t>(y + ymin) * w * 3 + x]) * k[y];
      out[static_cast<size_t>(yy) * w * 3 + x] = Clip8(ss);
    }
  }
  return out;
}

void CheckRgb(const torch::Tensor& t, const char* what) {
  if (!t.defined() || t.dim() != 3 || t.size(2) != 3 || t.scalar_type() != torch::kUInt8)
    throw ProcessorError(std::string(what) + ": expected a uint8 RGB tensor [H, W, 3]");
}

}  // namespace

std::pair<int64_t, int64_t> SmartResize(int64_t height, int64_t width, int64_t factor,
                                        int64_t min_pixels, int64_t max_pixels) {
  if (height < factor || width < factor)
    throw ProcessorError("image of " + std::to_string(height) + "x" + std::to_string(width) +
                         " is smaller than " + std::to_string(factor) + " pixels on a side");
  if (static_cast<double>(std::max(height, width)) / std::min(height, width) > 200)
    throw ProcessorError("aspect ratio of " + std::to_string(height) + "x" + std::to_string(width) +
                         " exceeds 200");
  const double h = static_cast<double>(height), w = static_cast<double>(width), f = static_cast<double>(factor);
  double hb = RoundHalfEven(h / f) * f, wb = RoundHalfEven(w / f) * f;
  if (hb * wb > static_cast<double>(max_pixels)) {
    const double beta = std::sqrt(h * w / static_cast<double>(max_pixels));
    hb = std::max(f, std::floor(h / beta / f) * f);
    wb = std::max(f, std::floor(w / beta / f) * f);
  } else if (hb * wb < static_cast<double>(min_pixels)) {
    const double beta = std::sqrt(static_cast<double>(min_pixels) / (h * w));
    hb = std::ceil(h * beta / f) * f;
    wb = std::ceil(w * beta / f) * f;
  }
  return {static_cast<int64_t>(hb), static_cast<int64_t>(wb)};
}

torch::Tensor ResizeBicubicPil(const torch::Tensor& rgb, int64_t height, int64_t width) {
  CheckRgb(rgb, "resize");
  if (height <= 0 || width <= 0) throw ProcessorError("resize: target size must be positive");
  const auto src = rgb.contiguous();
  int h = static_cast<int>(src.size(0)), w = static_cast<int>(src.size(1));
  if (h == height && w == width) return src.clone();
  std::vector<uint8_t> buf(src.data_ptr<uint8_t>(), src.data_ptr<uint8_t>() + src.numel());
  if (w != width) {
    buf = ResampleHorizontal(buf, h, w, static_cast<int>(width));
    w = static_cast<int>(width);
  }
  if (h != height) {
    buf = ResampleVertical(buf, h, w, static_cast<int>(height));
    h = static_cast<int>(height);
  }
  return torch::from_blob(buf.data(), {h, w, 3}, torch::kUInt8).clone();
}

torch::Tensor LoadImageRgb(const std::filesystem::path& file) {
  cv::Mat m = cv::imread(file.string(), cv::IMREAD_UNCHANGED);
  if (m.empty()) throw ProcessorError("cannot decode image " + file.string());
  if (m.depth() != CV_8U) {
    cv::Mat tmp;
    const double scale = m.depth() == CV_16U ? 1.0 / 257.0 : 1.0;
    m.convertTo(tmp, CV_8U, scale);
    m = tmp;
  }
  cv::Mat rgb;
  if (m.channels() == 1) {
    cv::cvtColor(m, rgb, cv::COLOR_GRAY2RGB);
  } else if (m.channels() == 3) {
    cv::cvtColor(m, rgb, cv::COLOR_BGR2RGB);
  } else if (m.channels() == 4) {
    // Composite onto white with Pillow's paste(mask=alpha) arithmetic.
    rgb.create(m.rows, m.cols, CV_8UC3);
    for (int y = 0; y < m.rows; ++y) {
      const auto* s = m.ptr<cv::Vec4b>(y);
      auto* d = rgb.ptr<cv::Vec3b>(y);
      for (int x = 0; x < m.cols; ++x) {
        const int a = s[x][3];
        for (int c = 0; c < 3; ++c) {
          const int src = s[x][2 - c];  // BGRA -> RGB
          const int tmp = src * a + 255 * (255 - a) + 128;
          d[x][c] = static_cast<uint8_t>((tmp + (tmp >> 8)) >> 8);
        }
      }
    }
  } else {
    throw ProcessorError("unsupported channel count in " + file.string());
  }
  if (!rgb.isContinuous()) rgb = rgb.clone();
  return torch::from_blob(rgb.data, {rgb.rows, rgb.cols, 3}, torch::kUInt8).clone();
}

void VisionInput::Append(const VisionInput& other) {
  if (!other.pixel_values.defined()) return;
  if (!pixel_values.defined()) {
    *this = other;
    return;
  }
  pixel_values = torch::cat({pixel_values, other.pixel_values}, 0);
  grid_thw = torch::cat({grid_thw, other.grid_thw}, 0);
  second_per_grid_ts.insert(second_per_grid_ts.end(), other.second_per_grid_ts.begin(),
                            other.second_per_grid_ts.end());
}

VisionInput Patchify(const torch::Tensor& frames_in, const ProcessorOptions& opt) {
  if (frames_in.dim() != 4 || frames_in.size(3) != 3 || frames_in.scalar_type() != torch::kUInt8)
    throw ProcessorError("patchify: expected uint8 frames [N, H, W, 3]");
  const int64_t P = opt.patch_size, M = opt.merge_size, T = opt.temporal_patch_size;
  const int64_t n = frames_in.size(0), h = frames_in.size(1), w = frames_in.size(2);
  if (n == 0) throw ProcessorError("patchify: no frames");
  if (h % (P * M) || w % (P * M))
    throw ProcessorError("patchify: frame size " + std::to_string(h) + "x" + std::to_string(w) +
                         " is not a multiple of " + std::to_string(P * M));
  torch::Tensor frames = frames_in;
  if (n % T) {  // repeat the last frame up to a multiple of temporal_patch_size
    auto last = frames.slice(0, n - 1, n).expand({T - n % T, h, w, 3});
    frames = torch::cat({frames, last}, 0);
  }
  const int64_t nf = frames.size(0);
  // Slow-path op order: float32(float64(u8) / 255), then (x - mean) / std in float32.
  auto x = (frames.to(torch::kFloat64) * (1.0 / 255.0)).to(torch::kFloat32);
  std::vector<float> mean(3), std(3);
  for (int c = 0; c < 3; ++c) {
    mean[c] = static_cast<float>(opt.image_mean.at(c));
    std[c] = static_cast<float>(opt.image_std.at(c));
  }
  auto mt = torch::tensor(mean, torch::kFloat32), st = torch::tensor(std, torch::kFloat32);
  x = (x - mt) / st;                        // [N, H, W, 3]
  x = x.permute({0, 3, 1, 2}).contiguous();  // [N, C, H, W]
  const int64_t gt = nf / T, gh = h / P, gw = w / P;
  x = x.view({gt, T, 3, gh / M, M, P, gw / M, M, P}).permute({0, 3, 6, 4, 7, 2, 1, 5, 8});
  VisionInput out;
  out.pixel_values = x.reshape({gt * gh * gw, 3 * T * P * P}).contiguous();
  out.grid_thw = torch::tensor({gt, gh, gw}, torch::kInt64).view({1, 3});
  return out;
}

VisionInput ProcessImage(const torch::Tensor& rgb, const ProcessorOptions& opt) {
  CheckRgb(rgb, "image");
  const auto [h, w] = SmartResize(rgb.size(0), rgb.size(1), opt.factor(), opt.min_pixels, opt.max_pixels);
  return Patchify(ResizeBicubicPil(rgb, h, w).unsqueeze(0), opt);
}

std::pair<int64_t, int64_t> VideoFrameSize(int64_t height, int64_t width, int64_t nframes,
                                           const ProcessorOptions& opt) {
  const double frame_factor = static_cast<double>(opt.temporal_patch_size);
  const double budget = static_cast<double>(opt.video_total_pixels) / std::max<int64_t>(nframes, 1) * frame_factor;
  const int64_t max_pixels = std::max(static_cast<int64_t>(std::min<double>(opt.video_max_pixels, budget)),
                                      static_cast<int64_t>(opt.video_min_pixels * 1.05));
  return SmartResize(height, width, opt.factor(), opt.video_min_pixels, max_pixels);
}

VisionInput ProcessVideo(const std::vector<torch::Tensor>& frames, double fps, const ProcessorOptions& opt) {
  if (frames.empty()) throw ProcessorError("video without frames");
  if (!(fps > 0)) throw ProcessorError("video fps must be positive");
  for (const auto& f : frames) CheckRgb(f, "video frame");
  const int64_t h0 = frames[0].size(0), w0 = frames[0].size(1);
  for (const auto& f : frames) {
    if (f.size(0) != h0 || f.size(1) != w0) throw ProcessorError("video frames differ in size");
  }
  const auto [h, w] = VideoFrameSize(h0, w0, static_cast<int64_t>(frames.size()), opt);
  std::vector<torch::Tensor> resized;
  resized.reserve(frames.size());
  for (const auto& f : frames) resized.push_back(ResizeBicubicPil(f, h, w));
  VisionInput out = Patchify(torch::stack(resized, 0), opt);
  out.second_per_grid_ts = {static_cast<double>(opt.temporal_patch_size) / fps};
  return out;
}

VisionInput ProcessVideoFiles(const std::vector<std::filesystem::path>& files, double fps,
                              const ProcessorOptions& opt) {
  std::vector<torch::Tensor> frames;
  frames.reserve(files.size());
  for (const auto& f : files) frames.push_back(LoadImageRgb(f));
  return ProcessVideo(frames, fps, opt);
}

}  // namespace vstar::model
