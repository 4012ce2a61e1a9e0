#pragma once
// Antialiased bicubic resampling equal to torchvision's
// `transforms.functional.resize(uint8 tensor, size, BICUBIC, antialias=True)`, which qwen-vl-utils
// applies to video frames. torchvision casts the uint8 image to float32, runs ATen's separable
// antialiased bicubic (Keys cubic with a = -0.5 as PIL uses, support widened by the scale when
// downscaling, weights normalised per output sample; the width pass first, then the height pass,
// an axis of unchanged size skipped), clamps to [0, 255] and rounds half to even.
//
// ATen's CPU kernels are compiled with FMA contraction: the filter polynomial and the vertical
// pass's accumulation are fused multiply-adds (the horizontal pass's is not; found by matching
// torch's impulse responses and outputs), reproduced with std::fma; with that the output is bit-exact
// against torchvision 0.29.2 / torch 2.14.1 on the golden cases (tools/golden/video_resize.py,
// tests/video/test_resize.cpp).
#include <cstdint>
#include <vector>

namespace vstar::video {

// Interleaved RGB (or any `channels`-channel) 8-bit image.
struct Image {
  int width = 0;
  int height = 0;
  int channels = 3;
  std::vector<uint8_t> pixels;  // height * width * channels, row-major, interleaved
};

// Resizes to out_height x out_width. Throws std::invalid_argument for empty sizes.
Image ResizeBicubicAntialias(const Image& in, int out_height, int out_width);

}  // namespace vstar::video
