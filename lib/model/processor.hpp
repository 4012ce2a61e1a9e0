#pragma once
// Qwen2.5-VL image/video preprocessing (qwen-vl-utils vision_process.py; transformers
// image_processing_qwen2_vl.py): smart_resize, a Pillow-faithful bicubic
// resize for sizes that are not multiples of 28, the slow-path rescale/normalise, temporal padding and
// the patch row order the vision tower expects. Frames are uint8 RGB tensors [H, W, 3] on the CPU.
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

namespace vstar::model {

struct ProcessorError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// smart_resize(h, w) in double precision with Python's round-half-to-even. Follows transformers
// (4.5x): raises for a side < factor and for an aspect ratio > 200 (qwen-vl-utils clamps instead).
std::pair<int64_t, int64_t> SmartResize(int64_t height, int64_t width, int64_t factor = 28,
                                        int64_t min_pixels = 56 * 56,
                                        int64_t max_pixels = 16384 * 28 * 28);

// Pillow's Image.resize(BICUBIC) on uint8 RGB (separable, a = -0.5, support widened when
// downscaling, 22-bit fixed-point weights, horizontal then vertical pass, uint8 in between).
torch::Tensor ResizeBicubicPil(const torch::Tensor& rgb, int64_t height, int64_t width);

// Decodes an image file to uint8 RGB [H, W, 3] (alpha composited onto white, as qwen-vl-utils does).
torch::Tensor LoadImageRgb(const std::filesystem::path& file);

struct ProcessorOptions {
  int64_t patch_size = 14;
  int64_t merge_size = 2;
  int64_t temporal_patch_size = 2;
  // Images (preprocessor_config.json).
  int64_t min_pixels = 3136;
  int64_t max_pixels = 12845056;
  // Videos (qwen-vl-utils): per-frame limits and a total pixel budget over all frames.
  int64_t video_min_pixels = 128 * 28 * 28;
  int64_t video_max_pixels = 768 * 28 * 28;
  int64_t video_total_pixels = 90316800;
  std::vector<double> image_mean = {0.48145466, 0.4578275, 0.40821073};
  std::vector<double> image_std = {0.26862954, 0.26130258, 0.27577711};

  int64_t factor() const { return patch_size * merge_size; }
};

// Rows for the vision tower, items concatenated in prompt order.
struct VisionInput {
  torch::Tensor pixel_values;  // [sum t*h*w, 3*T*P*P] float32
  torch::Tensor grid_thw;      // [n, 3] int64, (t, h, w) in patches
  std::vector<double> second_per_grid_ts;  // videos only: temporal_patch_size / fps
  int64_t rows() const { return pixel_values.defined() ? pixel_values.size(0) : 0; }
  // Appends another item's rows and grid.
  void Append(const VisionInput& other);
};

// Rescale + normalise + patchify frames that already have the target size (a multiple of 28):
// frames [N, H, W, 3] uint8 (N = 1 for an image; an odd N repeats the last frame).
VisionInput Patchify(const torch::Tensor& frames, const ProcessorOptions& opt);

// One image: smart_resize (image limits), bicubic resize when needed, patchify.
VisionInput ProcessImage(const torch::Tensor& rgb, const ProcessorOptions& opt = {});

// Frame size a video of `nframes` frames of h x w is resized to (qwen-vl-utils fetch_video limits).
std::pair<int64_t, int64_t> VideoFrameSize(int64_t height, int64_t width, int64_t nframes,
                                           const ProcessorOptions& opt = {});

// One video from already sampled frames (all the same size) played at `fps` frames per second:
// frames resized to VideoFrameSize, odd count padded, patchified; second_per_grid_ts = T / fps.
VisionInput ProcessVideo(const std::vector<torch::Tensor>& frames, double fps,
                         const ProcessorOptions& opt = {});

// Loads frame files (e.g. vs-decode's frames.paths) and calls ProcessVideo.
VisionInput ProcessVideoFiles(const std::vector<std::filesystem::path>& files, double fps,
                              const ProcessorOptions& opt = {});

}  // namespace vstar::model
