// `hog`: OpenCV's built-in HOG + linear SVM people detector (Dalal & Triggs), no weights to download.
// The default detector of vs-detect. Boxes are OpenCV's grouped detections; the score is the SVM margin
// squashed to 0..1 with a logistic, so thresholds read like the other detectors'.
#include <algorithm>
#include <cmath>
#include <mutex>
#include <string>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>
#include <vstar/plugin.h>

namespace {

namespace vp = vstar::plugin;

class Hog : public vp::Detector {
 public:
  explicit Hog(const vp::Config& c)
      : conf_(vp::NumberOption(c, "hog", "conf", 0.5)),
        scale_(vp::NumberOption(c, "hog", "scale", 1.05)),
        upscale_(vp::NumberOption(c, "hog", "upscale", 1)),
        stride_(static_cast<int>(vp::IntegerOption(c, "hog", "stride", 8, 8, 512))),
        group_(static_cast<int>(vp::IntegerOption(c, "hog", "group", 2, 0))) {
    if (scale_ <= 1.0) throw vp::Error("hog: scale must be > 1");
    if (upscale_ <= 0 || upscale_ > 8) throw vp::Error("hog: upscale must be in (0, 8]");
    if (stride_ % 8 != 0) throw vp::Error("hog: stride must be a multiple of 8 (the block stride)");
    std::string classes = c.get("classes", "person");
    if (classes != "person" && classes != "0" && classes != "all")
      throw vp::Error("hog: detects people only (classes=person)");
    hog_.setSVMDetector(cv::HOGDescriptor::getDefaultPeopleDetector());
  }

  vp::Info info() const override {
    return {"hog",
            vp::Kind::kDetect,
            "1.0 (OpenCV " CV_VERSION ")",
            "OpenCV HOG + linear SVM people detector (64x128 window, no weights needed)",
            {{"conf", "minimum score, logistic(SVM margin)", "0.5"},
             {"scale", "image pyramid step", "1.05"},
             {"upscale", "resize frames by this factor first (people under ~128 px tall need > 1)", "1"},
             {"stride", "window stride in pixels", "8"},
             {"group", "groupRectangles threshold (min. overlapping windows per detection)", "2"},
             {"classes", "only 'person' (accepted for symmetry with other detectors)", "person"}}};
  }

  std::vector<std::vector<vp::Box>> Detect(const std::vector<vp::Image>& frames) override {
    std::vector<std::vector<vp::Box>> out;
    for (const auto& f : frames) {
      cv::Mat view(f.height, f.width, CV_8UC3, const_cast<std::uint8_t*>(f.data), f.stride);
      cv::Mat im = view;
      if (upscale_ != 1.0) cv::resize(view, im, cv::Size(), upscale_, upscale_, cv::INTER_LINEAR);
      std::vector<cv::Rect> rects;
      std::vector<double> weights;
      hog_.detectMultiScale(im, rects, weights, 0.0, cv::Size(stride_, stride_), cv::Size(0, 0), scale_, group_);
      std::vector<vp::Box> boxes;
      for (size_t i = 0; i < rects.size(); ++i) {
        float score = static_cast<float>(1.0 / (1.0 + std::exp(-(i < weights.size() ? weights[i] : 0.0))));
        if (score < conf_) continue;
        cv::Rect r = rects[i] & cv::Rect(0, 0, im.cols, im.rows);
        boxes.push_back({float(r.x / upscale_), float(r.y / upscale_), float((r.x + r.width) / upscale_),
                         float((r.y + r.height) / upscale_), score, 0, "person"});
      }
      std::sort(boxes.begin(), boxes.end(), [](const vp::Box& a, const vp::Box& b) { return a.score > b.score; });
      out.push_back(std::move(boxes));
    }
    return out;
  }

 private:
  double conf_, scale_, upscale_;
  int stride_, group_;
  cv::HOGDescriptor hog_;
};

}  // namespace

VSTAR_PLUGIN(Hog)
