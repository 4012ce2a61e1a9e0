#include "tools/overlay.hpp"

#include <algorithm>
#include <array>
#include <cmath>

#include <opencv2/imgproc.hpp>

namespace vstar::tools {
namespace {

// ultralytics Colors.hexs (RGB), in palette order.
constexpr std::array<unsigned, 20> kPalette = {
    0x042AFF, 0x0BDBEB, 0xF3F3F3, 0x00DFB7, 0x111F68, 0xFF6FDD, 0xFF444F, 0xCCED00, 0x00F344, 0xBD00FF,
    0x00B4FF, 0xDD00BA, 0x00FFFF, 0x26C000, 0x01FFB3, 0x7D24FF, 0x7B0068, 0xFF1B6C, 0xFC6D2F, 0xA2FF0B};

// ultralytics Colors.pose_palette rows; the Annotator hands them to OpenCV unchanged (as BGR).
constexpr std::array<std::array<int, 3>, 20> kPosePalette = {{{255, 128, 0},   {255, 153, 51},  {255, 178, 102},
                                                              {230, 230, 0},   {255, 153, 255}, {153, 204, 255},
                                                              {255, 102, 255}, {255, 51, 255},  {102, 178, 255},
                                                              {51, 153, 255},  {255, 153, 153}, {255, 102, 102},
                                                              {255, 51, 51},   {153, 255, 153}, {102, 255, 102},
                                                              {51, 255, 51},   {0, 255, 0},     {0, 0, 255},
                                                              {255, 0, 0},     {255, 255, 255}}};

// COCO skeleton (1-based keypoint pairs) with the palette row of each limb and of each keypoint.
constexpr std::array<std::array<int, 2>, 19> kSkeleton = {{{16, 14}, {14, 12}, {17, 15}, {15, 13}, {12, 13},
                                                           {6, 12},  {7, 13},  {6, 7},   {6, 8},   {7, 9},
                                                           {8, 10},  {9, 11},  {2, 3},   {1, 2},   {1, 3},
                                                           {2, 4},   {3, 5},   {4, 6},   {5, 7}}};
constexpr std::array<int, 19> kLimbColor = {9, 9, 9, 9, 7, 7, 7, 0, 0, 0, 0, 0, 16, 16, 16, 16, 16, 16, 16};
constexpr std::array<int, 17> kKeypointColor = {16, 16, 16, 16, 16, 0, 0, 0, 0, 0, 0, 9, 9, 9, 9, 9, 9};

cv::Scalar PoseColor(int row) {
  const auto& c = kPosePalette[row];
  return cv::Scalar(c[0], c[1], c[2]);
}

void DrawKeypoints(cv::Mat& im, const std::vector<plugin::Keypoint>& k, int radius, int lw) {
  if (k.size() != 17) return;  // the skeleton is defined for COCO-17 only
  for (size_t i = 0; i < k.size(); ++i) {
    if (k[i].conf < kOverlayKeypointConf) continue;
    cv::circle(im, cv::Point(static_cast<int>(k[i].x), static_cast<int>(k[i].y)), radius,
               PoseColor(kKeypointColor[i]), -1, cv::LINE_AA);
  }
  const int thickness = static_cast<int>(std::ceil(lw / 2.0));
  for (size_t i = 0; i < kSkeleton.size(); ++i) {
    const auto& a = k[kSkeleton[i][0] - 1];
    const auto& b = k[kSkeleton[i][1] - 1];
    if (a.conf < kOverlayKeypointConf || b.conf < kOverlayKeypointConf) continue;
    cv::Point p1(static_cast<int>(a.x), static_cast<int>(a.y)), p2(static_cast<int>(b.x), static_cast<int>(b.y));
    if (std::min({p1.x, p1.y, p2.x, p2.y}) < 0) continue;
    cv::line(im, p1, p2, PoseColor(kLimbColor[i]), thickness, cv::LINE_AA);
  }
}

}  // namespace

cv::Scalar ClassColor(int cls) {
  unsigned rgb = kPalette[static_cast<size_t>(std::max(cls, 0)) % kPalette.size()];
  return cv::Scalar(rgb & 0xFF, (rgb >> 8) & 0xFF, (rgb >> 16) & 0xFF);
}

void DrawOverlay(cv::Mat& image, Overlay variant, const std::vector<plugin::Person>& people) {
  const int default_lw = std::max(static_cast<int>(std::lround((image.rows + image.cols + 3) / 2.0 * 0.003)), 2);
  const int lw = variant == Overlay::kBound ? default_lw : 3;
  // Results.plot draws the last detection first, so the most confident ends on top.
  if (variant != Overlay::kPo)
    for (auto it = people.rbegin(); it != people.rend(); ++it) {
      const auto& b = it->box;
      cv::rectangle(image, cv::Point(static_cast<int>(b.x1), static_cast<int>(b.y1)),
                    cv::Point(static_cast<int>(b.x2), static_cast<int>(b.y2)), ClassColor(b.cls), lw, cv::LINE_AA);
    }
  if (variant != Overlay::kBound)
    for (auto it = people.rbegin(); it != people.rend(); ++it) DrawKeypoints(image, it->keypoints, 3, lw);
}

}  // namespace vstar::tools
