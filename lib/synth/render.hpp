#pragma once
// Drawing the synthetic world's clips: the posed figure in its suit colours (anti-aliased, painter's
// order by depth) over a cluttered background, with the per-clip nuisances (position, scale, view,
// speed, phase, mirror, colour and lighting jitter, clutter, an occluder, camera shake, sensor noise).
#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "synth/actions.hpp"
#include "video/resize.hpp"

namespace vstar::synth {

// A small deterministic generator (splitmix64), so the same seed gives the same world on every
// platform (std:: distributions are implementation-defined).
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next();
  double Uniform(double lo = 0, double hi = 1);
  int Int(int lo, int hi);  // inclusive
  bool Chance(double p) { return Uniform() < p; }

 private:
  uint64_t state_;
};
uint64_t MixSeed(uint64_t a, uint64_t b);

enum class Segment {
  kHead, kTorso, kLeftUpperArm, kLeftForearm, kRightUpperArm, kRightForearm,
  kLeftThigh, kLeftShin, kRightThigh, kRightShin, kHands, kFeet
};
inline constexpr int kSegments = 12;
extern const std::array<const char*, kSegments> kSegmentNames;  // as in suit.tsv

struct Hsv {
  int h = 0, s = 0, v = 0;  // OpenCV ranges: 0-179, 0-255, 0-255
};
// Reads share/vstar/synth/suit.tsv (or `file`). Throws std::runtime_error naming file:line.
std::array<Hsv, kSegments> LoadSuit(const std::filesystem::path& file);
std::filesystem::path DefaultSuitFile();

enum class Level { kLow, kMedium, kHigh };
Level ParseLevel(const std::string& text);  // low | medium | high; throws std::invalid_argument
const char* LevelName(Level l);

struct Shape {
  int kind = 0;  // 0 rectangle, 1 ellipse, 2 line
  double x1 = 0, y1 = 0, x2 = 0, y2 = 0;
  std::array<uint8_t, 3> bgr{};
};

// Everything drawn-but-not-acted about one clip, sampled from the level's ranges.
struct Nuisance {
  double yaw_deg = 0;
  double height_px = 0;  // standing figure height
  double centre_x = 0, ground_y = 0;
  double speed = 1;      // multiplies every periodic step's cycles
  double shift = 0;      // added to every step window (fraction of the clip)
  double phase = 0;      // periodic steps' start phase
  bool mirror = false;   // one-sided movements done by the left limb instead of the right
  int hue_shift = 0;
  double gain = 1;       // lighting: multiplies suit brightness
  std::array<uint8_t, 3> background{};
  std::vector<Shape> clutter;
  bool occluder = false;
  Shape occluder_shape;   // a grey block in front of the figure (kind 0)
  double occluder_drift = 0;  // px per frame, horizontally
  double jitter_px = 0;
  std::vector<std::array<double, 2>> shake;  // per-frame camera offset
  double noise_sigma = 0;
};
Nuisance SampleNuisance(Rng& rng, Level level, int width, int height, int frames);

// The class's steps after the timing nuisances.
Timeline MakeTimeline(const ActionClass& action, const Nuisance& n);

struct FrameTruth {
  std::array<std::array<double, 3>, 17> keypoints;  // x, y (pixels), v (2 visible, 1 occluded, 0 outside)
  std::array<double, 4> box;                        // the figure's extent x1, y1, x2, y2
};

// Draws frame `index` (time t in [0, 1]); fills `truth` when not null. `noise_seed` seeds the sensor noise.
video::Image RenderFrame(const Pose& pose, const Nuisance& n, const std::array<Hsv, kSegments>& suit, int width,
                         int height, int index, uint64_t noise_seed, FrameTruth* truth);

}  // namespace vstar::synth
