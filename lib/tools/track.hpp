#pragma once
// Person ids across the frames of one clip: greedy IoU matching of each frame's boxes against the
// tracks alive in the previous frames (highest IoU pairs first), so later stages can follow one person.
#include <vector>

#include <vstar/plugin.h>

namespace vstar::tools {

struct TrackOptions {
  float min_iou = 0.3f;  // a box continues a track only above this overlap
  int max_gap = 3;       // frames a track may go unseen before its id is retired
};

float IoU(const ::vstar::plugin::Box& a, const ::vstar::plugin::Box& b);

// ids[f][i] for boxes[f][i]; ids start at 1, are never reused within a clip, and follow first
// appearance order. Boxes of different classes never share a track.
std::vector<std::vector<int>> TrackIds(const std::vector<std::vector<::vstar::plugin::Box>>& boxes,
                                       const TrackOptions& options = {});

}  // namespace vstar::tools
