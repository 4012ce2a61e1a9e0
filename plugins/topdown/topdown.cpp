// `topdown`: top-down heatmap pose estimation (SimpleBaseline style, e.g. Ultralight-Nano-SimplePose
// converted to TorchScript by tools/convert_pose.py) with LibTorch. Per person box from a detector:
// the box is widened to the model's aspect (3:4) and scaled by 1.25 around its centre, that region is
// affine-warped to the input size (192x256), RGB /255 with ImageNet mean/std; each of the 17 heatmaps
// (stride 4) gives its arg-max, refined a quarter cell towards the higher neighbour, mapped back as
// x = x0 + (ix + 0.5) * W / heatmap_w (the region's continuous coordinates); confidence = peak value.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <mutex>
#include <string>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <ATen/Parallel.h>
#include <torch/cuda.h>
#include <torch/headeronly/version.h>
#include <torch/script.h>
#include <vstar/plugin.h>

namespace {

namespace vp = vstar::plugin;

struct Region {
  double x0, y0, w, h;  // continuous image coordinates of the crop
};

class TopDown : public vp::PoseEstimator {
 public:
  explicit TopDown(const vp::Config& c) : model_(c.model), device_name_(c.device) {
    scale_ = vp::NumberOption(c, "topdown", "scale", 1.25);
    in_w_ = static_cast<int>(vp::IntegerOption(c, "topdown", "width", 192));
    in_h_ = static_cast<int>(vp::IntegerOption(c, "topdown", "height", 256));
    batch_ = static_cast<int>(vp::IntegerOption(c, "topdown", "batch", 16));
    threads_ = static_cast<int>(vp::IntegerOption(c, "topdown", "threads", 0));
    min_score_ = vp::NumberOption(c, "topdown", "min_box_score", 0);
    refine_ = c.get("refine", "quarter");
    if (refine_ != "quarter" && refine_ != "none") throw vp::Error("topdown: refine must be quarter or none");
    if (scale_ < 1 || scale_ > 3) throw vp::Error("topdown: scale must be in [1, 3]");
    if (in_w_ <= 0 || in_h_ <= 0 || batch_ < 1 || threads_ < 0) throw vp::Error("topdown: width, height, batch must be positive, threads >= 0");
  }

  vp::Info info() const override {
    vp::Info i{"topdown", vp::Kind::kPose, "1.0 (LibTorch " TORCH_VERSION ")",
               "top-down heatmap pose (17 COCO keypoints) on detector boxes, TorchScript model (--model), e.g. "
               "Ultralight-Nano-SimplePose converted by tools/convert_pose.py",
               {{"scale", "box enlargement around its centre", "1.25"},
                {"width", "model input width", "192"},
                {"height", "model input height", "256"},
                {"batch", "person crops per forward pass", "16"},
                {"min_box_score", "ignore detector boxes scoring below this", "0"},
                {"threads", "CPU threads for LibTorch (process-wide; 0 = LibTorch's default)", "0"},
                {"refine", "sub-pixel refinement: quarter (quarter cell towards the higher neighbour) or none",
                 "quarter"}}};
    i.top_down = true;
    return i;
  }

  std::vector<std::vector<vp::Person>> Estimate(const std::vector<vp::Image>& frames,
                                                const std::vector<std::vector<vp::Box>>* boxes) override {
    if (!boxes) throw vp::Error("topdown: needs person boxes from a detector");
    if (boxes->size() != frames.size()) throw vp::Error("topdown: boxes and frames differ in count");
    EnsureLoaded();
    struct Job {
      size_t frame;
      vp::Box box;
      Region region;
    };
    std::vector<Job> jobs;
    std::vector<std::vector<vp::Person>> out(frames.size());
    for (size_t f = 0; f < frames.size(); ++f)
      for (const auto& b : (*boxes)[f])
        if (b.score >= min_score_ && b.x2 > b.x1 && b.y2 > b.y1) jobs.push_back({f, b, RegionOf(b)});
    for (size_t at = 0; at < jobs.size(); at += batch_) {
      size_t n = std::min(jobs.size() - at, static_cast<size_t>(batch_));
      auto input = torch::empty({static_cast<long>(n), 3, in_h_, in_w_}, torch::kFloat);
      for (size_t i = 0; i < n; ++i) Crop(frames[jobs[at + i].frame], jobs[at + i].region, input[i]);
      torch::Tensor heat;
      try {
        torch::NoGradGuard no_grad;
        auto o = module_.forward({input.to(device_)});
        heat = (o.isTuple() ? o.toTuple()->elements()[0].toTensor() : o.toTensor()).to(torch::kCPU).contiguous();
      } catch (const c10::Error& e) {
        throw vp::Error(std::string("topdown: inference failed: ") + e.what_without_backtrace());
      }
      if (heat.dim() != 4 || heat.size(0) != static_cast<long>(n) || heat.size(1) != 17)
        throw vp::Error("topdown: model output is not (N, 17, H, W) heatmaps");
      for (size_t i = 0; i < n; ++i) {
        const auto& job = jobs[at + i];
        vp::Person p{job.box, Decode(heat[i], job.region)};
        out[job.frame].push_back(std::move(p));
      }
    }
    return out;
  }

 private:
  void EnsureLoaded() {
    std::call_once(once_, [&] {
      try {
        if (model_.empty()) throw vp::Error("topdown: no model given (--model FILE.pt, see tools/convert_pose.py)");
        if (!std::filesystem::exists(model_)) throw vp::Error("topdown: model file not found: " + model_);
        std::string dev = device_name_.empty() || device_name_ == "auto"
                              ? (torch::cuda::is_available() ? "cuda" : "cpu")
                              : device_name_;
        device_ = torch::Device(dev);
        if (threads_ > 0) torch::set_num_threads(threads_);
        module_ = torch::jit::load(model_, device_);
        module_.eval();
      } catch (const c10::Error& e) {
        error_ = "topdown: cannot load TorchScript " + model_ + ": " + e.what_without_backtrace();
      } catch (const vp::Error& e) {
        error_ = e.what();
      }
    });
    if (!error_.empty()) throw vp::Error(error_);
  }

  Region RegionOf(const vp::Box& b) const {
    double w = b.x2 - b.x1, h = b.y2 - b.y1, aspect = static_cast<double>(in_w_) / in_h_;
    if (w > aspect * h) h = w / aspect;
    else w = h * aspect;
    w *= scale_, h *= scale_;
    double cx = (b.x1 + b.x2) / 2, cy = (b.y1 + b.y2) / 2;
    return {cx - w / 2, cy - h / 2, w, h};
  }

  // Samples the region into `dst` (3, H, W): output pixel (u, v) centre is the region point
  // (x0 + (u + 0.5) * w / W, ...), i.e. image pixel-index coordinates minus 0.5.
  void Crop(const vp::Image& f, const Region& r, torch::Tensor dst) const {
    cv::Mat src(f.height, f.width, CV_8UC3, const_cast<std::uint8_t*>(f.data), f.stride);
    const double ax = r.w / in_w_, ay = r.h / in_h_;
    cv::Mat m = (cv::Mat_<double>(2, 3) << ax, 0, r.x0 + 0.5 * ax - 0.5, 0, ay, r.y0 + 0.5 * ay - 0.5);
    cv::Mat crop;
    cv::warpAffine(src, crop, m, cv::Size(in_w_, in_h_), cv::INTER_LINEAR | cv::WARP_INVERSE_MAP,
                   cv::BORDER_CONSTANT, cv::Scalar(0, 0, 0));
    static const float mean[3] = {0.485f, 0.456f, 0.406f}, stdv[3] = {0.229f, 0.224f, 0.225f};
    auto a = dst.accessor<float, 3>();
    for (int y = 0; y < in_h_; ++y) {
      const std::uint8_t* row = crop.ptr<std::uint8_t>(y);
      for (int x = 0; x < in_w_; ++x)
        for (int c = 0; c < 3; ++c)  // BGR -> RGB
          a[c][y][x] = (row[3 * x + (2 - c)] / 255.f - mean[c]) / stdv[c];
    }
  }

  std::vector<vp::Keypoint> Decode(const torch::Tensor& heat, const Region& r) const {
    const long K = heat.size(0), H = heat.size(1), W = heat.size(2);
    auto h = heat.accessor<float, 3>();
    std::vector<vp::Keypoint> kps;
    for (long k = 0; k < K; ++k) {
      long bx = 0, by = 0;
      float best = h[k][0][0];
      for (long y = 0; y < H; ++y)
        for (long x = 0; x < W; ++x)
          if (h[k][y][x] > best) best = h[k][y][x], bx = x, by = y;
      double px = bx, py = by;
      if (refine_ == "quarter") {
        if (bx > 0 && bx < W - 1) px += 0.25 * ((h[k][by][bx + 1] > h[k][by][bx - 1]) - (h[k][by][bx + 1] < h[k][by][bx - 1]));
        if (by > 0 && by < H - 1) py += 0.25 * ((h[k][by + 1][bx] > h[k][by - 1][bx]) - (h[k][by + 1][bx] < h[k][by - 1][bx]));
      }
      kps.push_back({static_cast<float>(r.x0 + (px + 0.5) * r.w / W), static_cast<float>(r.y0 + (py + 0.5) * r.h / H),
                     best});
    }
    return kps;
  }

  std::string model_, device_name_, refine_;
  double scale_, min_score_;
  int in_w_, in_h_, batch_, threads_;
  std::once_flag once_;
  std::string error_;
  torch::jit::Module module_;
  torch::Device device_{torch::kCPU};
};

}  // namespace

VSTAR_PLUGIN(TopDown)
