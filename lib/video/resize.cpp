#include "video/resize.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace vstar::video {
namespace {

// Keys cubic convolution with a = -0.5, evaluated in float as ATen's aa_filter<float>. PyTorch's
// CPU kernels are built with FMA enabled and the compiler contracts a*b+c, so the polynomial is
// evaluated with fused multiply-adds; without them about 9 in 10 weights differ in the last bit.
float AaCubic(float x) {
  constexpr float a = -0.5f;
  x = std::fabs(x);
  if (x < 1.0f) {
    const float t = std::fma(a + 2.0f, x, -(a + 3.0f)) * x;
    return std::fma(t, x, 1.0f);
  }
  if (x < 2.0f) {
    float t = std::fma(a, x, -(5.0f * a));
    t = std::fma(t, x, 8.0f * a);
    return std::fma(t, x, -(4.0f * a));
  }
  return 0.0f;
}

// Per output sample: first input index, tap count and normalised weights (ATen's
// _compute_indices_min_size_weights_aa for scalar_t = float, keeping its float/double promotions).
struct Axis {
  std::vector<int> first, count;
  std::vector<float> weights;  // [out][taps]
  int taps = 0;
};

Axis ComputeAxis(int in, int out) {
  Axis ax;
  const float scale = static_cast<float>(in) / static_cast<float>(out);
  const float support = scale >= 1.0f ? static_cast<float>(2.0 * static_cast<double>(scale)) : 2.0f;
  const float invscale = scale >= 1.0f ? static_cast<float>(1.0 / static_cast<double>(scale)) : 1.0f;
  ax.taps = static_cast<int>(std::ceil(support)) * 2 + 1;
  ax.first.resize(static_cast<size_t>(out));
  ax.count.resize(static_cast<size_t>(out));
  ax.weights.assign(static_cast<size_t>(out) * static_cast<size_t>(ax.taps), 0.0f);
  for (int i = 0; i < out; ++i) {
    const float center = static_cast<float>(static_cast<double>(scale) * (static_cast<double>(i) + 0.5));
    const int64_t xmin = std::max<int64_t>(
        static_cast<int64_t>(static_cast<double>(center - support) + 0.5), 0);
    int64_t xsize =
        std::min<int64_t>(static_cast<int64_t>(static_cast<double>(center + support) + 0.5), in) - xmin;
    xsize = std::clamp<int64_t>(xsize, 0, ax.taps);
    float* w = &ax.weights[static_cast<size_t>(i) * static_cast<size_t>(ax.taps)];
    float total = 0.0f;
    for (int64_t j = 0; j < xsize; ++j) {
      const float d = static_cast<float>(j + xmin) - center;
      w[j] = AaCubic(static_cast<float>((static_cast<double>(d) + 0.5) * static_cast<double>(invscale)));
      total += w[j];
    }
    if (total != 0.0f)
      for (int64_t j = 0; j < xsize; ++j) w[j] /= total;
    ax.first[static_cast<size_t>(i)] = static_cast<int>(xmin);
    ax.count[static_cast<size_t>(i)] = static_cast<int>(xsize);
  }
  return ax;
}

uint8_t ToByte(float v) {
  v = std::min(255.0f, std::max(0.0f, v));
  return static_cast<uint8_t>(std::nearbyint(v));  // half to even under the default rounding mode
}

}  // namespace

Image ResizeBicubicAntialias(const Image& in, int out_height, int out_width) {
  if (out_height <= 0 || out_width <= 0 || in.width <= 0 || in.height <= 0)
    throw std::invalid_argument("ResizeBicubicAntialias: empty image or output size");
  const int c = in.channels;
  if (static_cast<size_t>(in.width) * static_cast<size_t>(in.height) * static_cast<size_t>(c) != in.pixels.size())
    throw std::invalid_argument("ResizeBicubicAntialias: pixel buffer does not match the size");
  Image out;
  out.width = out_width;
  out.height = out_height;
  out.channels = c;
  if (out_width == in.width && out_height == in.height) {
    out.pixels = in.pixels;
    return out;
  }
  // Work in float, interleaved: cur is [h][w][c].
  int cw = in.width;
  std::vector<float> cur(in.pixels.begin(), in.pixels.end());
  if (out_width != in.width) {
    const Axis ax = ComputeAxis(in.width, out_width);
    std::vector<float> tmp(static_cast<size_t>(in.height) * static_cast<size_t>(out_width) * static_cast<size_t>(c));
    for (int y = 0; y < in.height; ++y) {
      const float* row = &cur[static_cast<size_t>(y) * static_cast<size_t>(cw) * static_cast<size_t>(c)];
      float* dst = &tmp[static_cast<size_t>(y) * static_cast<size_t>(out_width) * static_cast<size_t>(c)];
      for (int x = 0; x < out_width; ++x) {
        const int x0 = ax.first[static_cast<size_t>(x)], n = ax.count[static_cast<size_t>(x)];
        const float* w = &ax.weights[static_cast<size_t>(x) * static_cast<size_t>(ax.taps)];
        for (int ch = 0; ch < c; ++ch) {
          // The horizontal pass accumulates with separate multiply and add (measured: fusing
          // them here disagrees with torch, while the vertical pass below is fused).
          float acc = row[static_cast<size_t>(x0) * c + ch] * w[0];
          for (int j = 1; j < n; ++j) {
            const float prod = row[static_cast<size_t>(x0 + j) * c + ch] * w[j];
            acc += prod;
          }
          dst[static_cast<size_t>(x) * c + ch] = acc;
        }
      }
    }
    cur.swap(tmp);
    cw = out_width;
  }
  if (out_height != in.height) {
    const Axis ax = ComputeAxis(in.height, out_height);
    const size_t stride = static_cast<size_t>(cw) * static_cast<size_t>(c);
    std::vector<float> tmp(static_cast<size_t>(out_height) * stride);
    for (int y = 0; y < out_height; ++y) {
      const int y0 = ax.first[static_cast<size_t>(y)], n = ax.count[static_cast<size_t>(y)];
      const float* w = &ax.weights[static_cast<size_t>(y) * static_cast<size_t>(ax.taps)];
      float* dst = &tmp[static_cast<size_t>(y) * stride];
      const float* src0 = &cur[static_cast<size_t>(y0) * stride];
      for (size_t i = 0; i < stride; ++i) dst[i] = src0[i] * w[0];
      for (int j = 1; j < n; ++j) {
        const float* src = &cur[static_cast<size_t>(y0 + j) * stride];
        const float wj = w[j];
        for (size_t i = 0; i < stride; ++i) dst[i] = std::fma(src[i], wj, dst[i]);
      }
    }
    cur.swap(tmp);
  }
  out.pixels.resize(cur.size());
  for (size_t i = 0; i < cur.size(); ++i) out.pixels[i] = ToByte(cur[i]);
  return out;
}

}  // namespace vstar::video
