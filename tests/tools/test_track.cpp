// IoU tracking across a clip's frames.
#include "tools/track.hpp"
#include "support.hpp"

using vstar::plugin::Box;
using vstar::tools::TrackIds;

namespace {
Box B(float x1, float y1, float x2, float y2, int cls = 0) { return {x1, y1, x2, y2, 0.9f, cls, ""}; }
}  // namespace

TEST_CASE("track ids follow boxes when detection order changes between frames") {
  std::vector<std::vector<Box>> frames = {
      {B(0, 0, 10, 20), B(100, 0, 110, 20)},
      {B(102, 1, 112, 21), B(1, 0, 11, 20)},  // order swapped, both moved a little
      {B(2, 0, 12, 20)},                      // the right one is missed for a frame
      {B(104, 2, 114, 22), B(3, 0, 13, 20)},  // ...and comes back within the gap
      {B(300, 0, 310, 20)},                   // a newcomer
  };
  auto ids = TrackIds(frames);
  CHECK(ids[0] == std::vector<int>{1, 2});
  CHECK(ids[1] == std::vector<int>{2, 1});
  CHECK(ids[2] == std::vector<int>{1});
  CHECK(ids[3] == std::vector<int>{2, 1});
  CHECK(ids[4] == std::vector<int>{3});
}

TEST_CASE("tracks are retired after the gap and never shared across classes") {
  vstar::tools::TrackOptions opt;
  opt.max_gap = 1;
  std::vector<std::vector<Box>> frames = {{B(0, 0, 10, 10)}, {}, {}, {B(0, 0, 10, 10)}, {B(0, 0, 10, 10, 5)}};
  auto ids = TrackIds(frames, opt);
  CHECK(ids[0] == std::vector<int>{1});
  CHECK(ids[3] == std::vector<int>{2});
  CHECK(ids[4] == std::vector<int>{3});
  // The greedy matcher gives the contested box to the better overlap.
  std::vector<std::vector<Box>> contest = {{B(0, 0, 10, 10), B(6, 0, 16, 10)}, {B(5, 0, 15, 10)}};
  auto c = TrackIds(contest);
  CHECK(c[1] == std::vector<int>{2});
  CHECK(vstar::tools::IoU(B(0, 0, 10, 10), B(5, 0, 15, 10)) == Approx(1.0 / 3));
}
