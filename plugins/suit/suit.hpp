#pragma once
// Classical computer vision for the synthetic world's suited figure: colour masks of the suit's
// segments (share/vstar/synth/suit.tsv) -> each segment's axis and end points -> the 17 COCO
// keypoints and the person's box. It sees only the pixels, never the generator's ground truth; one
// person per frame. Shared by the `suit` plugin (pose and detect) and the `motion` describer.
#include <array>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace vstar::suit {

inline constexpr int kSegments = 12;
// In suit.tsv's names: head, torso, left/right upper arm, forearm, thigh, shin, hands, feet.
enum Segment {
  kHead, kTorso, kLeftUpperArm, kLeftForearm, kRightUpperArm, kRightForearm,
  kLeftThigh, kLeftShin, kRightThigh, kRightShin, kHands, kFeet
};

struct Palette {
  struct Colour {
    int h = 0, s = 0, v = 0;  // OpenCV HSV: 0-179, 0-255, 0-255
  };
  std::array<Colour, kSegments> colours;
  // Throws std::runtime_error naming file:line.
  static Palette Load(const std::string& file);
};

struct Figure {
  bool found = false;  // the torso was seen
  std::array<cv::Point2f, 17> keypoints{};
  std::array<float, 17> conf{};  // 0 = not seen (position copied from a neighbour)
  cv::Rect2f box;
  float score = 0;  // share of the suit's segments seen
};

class Estimator {
 public:
  // `hue_tolerance` in OpenCV hue units; pixels less saturated than `min_saturation` are background.
  Estimator(const Palette& palette, int hue_tolerance = 12, int min_saturation = 100, int min_area = 4);
  Figure Estimate(const cv::Mat& bgr) const;

 private:
  Palette palette_;
  int hue_tolerance_, min_saturation_, min_area_;
};

}  // namespace vstar::suit
