// `suit`: pose estimation (17 COCO keypoints) and person detection for vs-synth's suited figure by
// colour segmentation (suit.hpp). No model, no weights; one person per frame.
#include <memory>
#include <mutex>

#include <opencv2/core.hpp>
#include <vstar/plugin.h>

#include "suit.hpp"

namespace {

namespace vp = vstar::plugin;

std::string SuitFile(const vp::Config& c) {
  if (!c.get("suit").empty()) return c.get("suit");
  if (c.share_dir.empty()) throw vp::Error("suit: no share directory and no suit= option; cannot find suit.tsv");
  return c.share_dir + "/synth/suit.tsv";
}

vstar::suit::Estimator MakeEstimator(const vp::Config& c) {
  try {
    return vstar::suit::Estimator(vstar::suit::Palette::Load(SuitFile(c)),
                                  static_cast<int>(vp::IntegerOption(c, "suit", "hue_tolerance", 12, 1, 89)),
                                  static_cast<int>(vp::IntegerOption(c, "suit", "min_saturation", 100, 0, 255)),
                                  static_cast<int>(vp::IntegerOption(c, "suit", "min_area", 4, 1)));
  } catch (const std::runtime_error& e) {
    throw vp::Error(std::string("suit: ") + e.what());
  }
}

std::vector<vp::OptionSpec> Options() {
  return {{"suit", "suit colours TSV (segment, hue, saturation, value)", "<share>/synth/suit.tsv"},
          {"hue_tolerance", "largest hue difference (OpenCV units, 0-179) still read as a suit colour", "12"},
          {"min_saturation", "pixels less saturated than this are background", "100"},
          {"min_area", "smallest region (pixels) kept as a body segment", "4"},
          {"conf", "detect: lowest score (share of segments seen) reported", "0.25"}};
}

cv::Mat View(const vp::Image& f) {
  return cv::Mat(f.height, f.width, CV_8UC3, const_cast<std::uint8_t*>(f.data), f.stride);
}

vp::Box BoxOf(const vstar::suit::Figure& fig) {
  return {fig.box.x, fig.box.y, fig.box.x + fig.box.width, fig.box.y + fig.box.height, fig.score, 0, "person"};
}

class SuitPose : public vp::PoseEstimator {
 public:
  explicit SuitPose(const vp::Config& c) : estimator_(MakeEstimator(c)), conf_(vp::NumberOption(c, "suit", "conf", 0.25, 0, 1)) {}
  vp::Info info() const override {
    return {"suit", vp::Kind::kPose, "1.0",
            "17 COCO keypoints of vs-synth's suited figure from its segment colours (no model)", Options()};
  }
  std::vector<std::vector<vp::Person>> Estimate(const std::vector<vp::Image>& frames,
                                                const std::vector<std::vector<vp::Box>>*) override {
    std::vector<std::vector<vp::Person>> out;
    for (const auto& f : frames) {
      auto fig = estimator_.Estimate(View(f));
      std::vector<vp::Person> people;
      if (fig.found && fig.score >= conf_) {
        vp::Person p;
        p.box = BoxOf(fig);
        for (int k = 0; k < 17; ++k) p.keypoints.push_back({fig.keypoints[k].x, fig.keypoints[k].y, fig.conf[k]});
        people.push_back(std::move(p));
      }
      out.push_back(std::move(people));
    }
    return out;
  }

 private:
  vstar::suit::Estimator estimator_;
  double conf_;
};

class SuitDetect : public vp::Detector {
 public:
  explicit SuitDetect(const vp::Config& c) : estimator_(MakeEstimator(c)), conf_(vp::NumberOption(c, "suit", "conf", 0.25, 0, 1)) {}
  vp::Info info() const override {
    return {"suit", vp::Kind::kDetect, "1.0",
            "person box of vs-synth's suited figure from its segment colours (no model)", Options()};
  }
  std::vector<std::vector<vp::Box>> Detect(const std::vector<vp::Image>& frames) override {
    std::vector<std::vector<vp::Box>> out;
    for (const auto& f : frames) {
      auto fig = estimator_.Estimate(View(f));
      out.push_back(fig.found && fig.score >= conf_ ? std::vector<vp::Box>{BoxOf(fig)} : std::vector<vp::Box>{});
    }
    return out;
  }

 private:
  vstar::suit::Estimator estimator_;
  double conf_;
};

std::unique_ptr<vp::Tool> Create(const vp::Config& c) {
  if (c.kind == vp::Kind::kDetect) return std::make_unique<SuitDetect>(c);
  if (c.kind == vp::Kind::kPose) return std::make_unique<SuitPose>(c);
  throw vp::Error("suit: serves pose and detect only");
}

}  // namespace

VSTAR_PLUGIN_FACTORY(Create)
