#include "tools/track.hpp"

#include <algorithm>
#include <tuple>

namespace vstar::tools {

float IoU(const plugin::Box& a, const plugin::Box& b) {
  float iw = std::max(0.f, std::min(a.x2, b.x2) - std::max(a.x1, b.x1));
  float ih = std::max(0.f, std::min(a.y2, b.y2) - std::max(a.y1, b.y1));
  float inter = iw * ih;
  float uni = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter;
  return uni > 0 ? inter / uni : 0.f;
}

std::vector<std::vector<int>> TrackIds(const std::vector<std::vector<plugin::Box>>& boxes,
                                       const TrackOptions& options) {
  struct Track {
    int id;
    plugin::Box last;
    int last_frame;
  };
  std::vector<Track> tracks;
  int next_id = 1;
  std::vector<std::vector<int>> ids(boxes.size());
  for (size_t f = 0; f < boxes.size(); ++f) {
    const auto& cur = boxes[f];
    ids[f].assign(cur.size(), 0);
    std::vector<std::tuple<float, size_t, size_t>> pairs;  // (iou, track, box)
    for (size_t t = 0; t < tracks.size(); ++t) {
      if (static_cast<int>(f) - tracks[t].last_frame > options.max_gap + 1) continue;
      for (size_t b = 0; b < cur.size(); ++b) {
        if (cur[b].cls != tracks[t].last.cls) continue;
        float iou = IoU(tracks[t].last, cur[b]);
        if (iou >= options.min_iou) pairs.emplace_back(iou, t, b);
      }
    }
    // Highest overlap first; ties by track age (older first), then box order, for determinism.
    std::stable_sort(pairs.begin(), pairs.end(), [](auto& a, auto& b) {
      if (std::get<0>(a) != std::get<0>(b)) return std::get<0>(a) > std::get<0>(b);
      if (std::get<1>(a) != std::get<1>(b)) return std::get<1>(a) < std::get<1>(b);
      return std::get<2>(a) < std::get<2>(b);
    });
    std::vector<bool> track_used(tracks.size(), false);
    for (auto& [iou, t, b] : pairs) {
      if (track_used[t] || ids[f][b]) continue;
      track_used[t] = true;
      ids[f][b] = tracks[t].id;
      tracks[t].last = cur[b];
      tracks[t].last_frame = static_cast<int>(f);
    }
    for (size_t b = 0; b < cur.size(); ++b)
      if (!ids[f][b]) {
        ids[f][b] = next_id;
        tracks.push_back({next_id++, cur[b], static_cast<int>(f)});
      }
  }
  return ids;
}

}  // namespace vstar::tools
