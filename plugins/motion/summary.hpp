#pragma once
// Keypoint trajectories of one person -> sub-motion text, part by part: "left arm: raised, oscillates,
// 3 cycles; legs: still". Works on any 17-keypoint COCO-order pose (the suit estimator, yolo, a
// top-down model): positions are measured relative to the body (shoulders, hips) in units of the
// torso's length, so position and scale in the frame do not matter.
#include <array>
#include <string>
#include <vector>

namespace vstar::motion {

struct Point {
  double x = 0, y = 0, conf = 0;
};
using Pose = std::array<Point, 17>;  // COCO order

struct SummaryOptions {
  double min_conf = 0.3;     // keypoints below this count as unseen
  double reach = 0.5;        // an arm extends when the wrist's distance to the shoulder varies this much
  double lift = 0.25;        // raised: the wrist this far above the shoulder
};

// `poses` are evenly spaced in time (one per frame, in order); frames without a person are skipped by
// the caller. Returns "" when fewer than 3 poses have a visible torso.
std::string Summarise(const std::vector<Pose>& poses, const SummaryOptions& opt = {});

// Full cycles in a 1-D signal: swings larger than `hysteresis` between alternating extremes, halved.
int CountCycles(const std::vector<double>& signal, double hysteresis);

}  // namespace vstar::motion
