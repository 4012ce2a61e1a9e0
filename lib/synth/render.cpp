#include "synth/render.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "io/paths.hpp"

namespace vstar::synth {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr int kShift = 4;  // sub-pixel bits for OpenCV's drawing functions
constexpr double kSub = 1 << kShift;

cv::Point Sub(double x, double y) { return {static_cast<int>(std::lround(x * kSub)), static_cast<int>(std::lround(y * kSub))}; }

std::array<uint8_t, 3> HsvToBgr(int h, int s, int v) {
  cv::Mat in(1, 1, CV_8UC3, cv::Scalar(((h % 180) + 180) % 180, std::clamp(s, 0, 255), std::clamp(v, 0, 255)));
  cv::Mat out;
  cv::cvtColor(in, out, cv::COLOR_HSV2BGR);
  auto px = out.at<cv::Vec3b>(0, 0);
  return {px[0], px[1], px[2]};
}

cv::Scalar Colour(const std::array<uint8_t, 3>& bgr) { return cv::Scalar(bgr[0], bgr[1], bgr[2]); }

std::array<uint8_t, 3> Dull(Rng& rng, int v_lo, int v_hi) {
  return HsvToBgr(rng.Int(0, 179), rng.Int(0, 45), rng.Int(v_lo, v_hi));
}

struct LevelRanges {
  double yaw_lo, yaw_hi, height_lo, height_hi, speed_lo, speed_hi, shift, phase;
  int hue, clutter;
  double gain_lo, gain_hi, occluder_p, jitter, noise;
};

const LevelRanges& Ranges(Level l) {
  static const LevelRanges kLow{10, 25, 0.62, 0.72, 0.9, 1.1, 0.03, 0.1, 1, 3, 0.95, 1.05, 0.0, 0.5, 2};
  static const LevelRanges kMedium{5, 40, 0.5, 0.8, 0.8, 1.25, 0.06, 0.25, 2, 8, 0.85, 1.1, 0.3, 1.5, 4};
  static const LevelRanges kHigh{0, 50, 0.4, 0.85, 0.7, 1.4, 0.1, 0.5, 4, 16, 0.75, 1.15, 0.6, 3, 7};
  return l == Level::kLow ? kLow : l == Level::kMedium ? kMedium : kHigh;
}

void DrawShape(cv::Mat& img, const Shape& s, double dx, double dy) {
  cv::Scalar c = Colour(s.bgr);
  cv::Point a = Sub(s.x1 + dx, s.y1 + dy), b = Sub(s.x2 + dx, s.y2 + dy);
  switch (s.kind) {
    case 0: cv::rectangle(img, a, b, c, cv::FILLED, cv::LINE_AA, kShift); break;
    case 1:
      cv::ellipse(img, (a + b) / 2, cv::Size(std::abs(b.x - a.x) / 2, std::abs(b.y - a.y) / 2), 0, 0, 360, c,
                  cv::FILLED, cv::LINE_AA, kShift);
      break;
    default: cv::line(img, a, b, c, 3, cv::LINE_AA, kShift); break;
  }
}

// One thing to draw for the figure, with its depth (larger = nearer the camera).
struct Prim {
  enum Kind { kLine, kCircle, kPoly } kind;
  Segment segment;
  std::vector<cv::Point2d> pts;
  double size;  // line thickness or circle radius, pixels
  double depth;
};

}  // namespace

uint64_t Rng::Next() {
  uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

double Rng::Uniform(double lo, double hi) {
  return lo + (hi - lo) * (static_cast<double>(Next() >> 11) * (1.0 / 9007199254740992.0));
}

int Rng::Int(int lo, int hi) {
  return lo + static_cast<int>(Next() % static_cast<uint64_t>(hi - lo + 1));
}

uint64_t MixSeed(uint64_t a, uint64_t b) {
  Rng r(a * 0x100000001b3ULL ^ (b + 0x9e3779b97f4a7c15ULL));
  r.Next();
  return r.Next();
}

const std::array<const char*, kSegments> kSegmentNames = {
    "head",      "torso",     "left_upper_arm", "left_forearm", "right_upper_arm", "right_forearm",
    "left_thigh", "left_shin", "right_thigh",    "right_shin",   "hands",           "feet"};

std::filesystem::path DefaultSuitFile() { return io::ShareDir() / "synth" / "suit.tsv"; }

std::array<Hsv, kSegments> LoadSuit(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw std::runtime_error("cannot open the suit colours " + file.string());
  std::array<Hsv, kSegments> suit;
  std::array<bool, kSegments> seen{};
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream s(line);
    std::string name;
    Hsv c;
    if (!(s >> name >> c.h >> c.s >> c.v) || c.h < 0 || c.h > 179 || c.s < 0 || c.s > 255 || c.v < 0 || c.v > 255)
      throw std::runtime_error(file.string() + ":" + std::to_string(n) + ": expected segment, hue, saturation, value");
    auto it = std::find_if(kSegmentNames.begin(), kSegmentNames.end(), [&](const char* k) { return name == k; });
    if (it == kSegmentNames.end())
      throw std::runtime_error(file.string() + ":" + std::to_string(n) + ": unknown segment '" + name + "'");
    suit[it - kSegmentNames.begin()] = c;
    seen[it - kSegmentNames.begin()] = true;
  }
  for (int i = 0; i < kSegments; ++i)
    if (!seen[i]) throw std::runtime_error(file.string() + ": no colour for " + kSegmentNames[i]);
  return suit;
}

Level ParseLevel(const std::string& text) {
  if (text == "low") return Level::kLow;
  if (text == "medium") return Level::kMedium;
  if (text == "high") return Level::kHigh;
  throw std::invalid_argument("nuisance level must be low, medium or high, got '" + text + "'");
}

const char* LevelName(Level l) { return l == Level::kLow ? "low" : l == Level::kMedium ? "medium" : "high"; }

Nuisance SampleNuisance(Rng& rng, Level level, int width, int height, int frames) {
  const LevelRanges& r = Ranges(level);
  Nuisance n;
  n.yaw_deg = (rng.Chance(0.5) ? 1 : -1) * rng.Uniform(r.yaw_lo, r.yaw_hi);
  n.height_px = rng.Uniform(r.height_lo, r.height_hi) * height;
  // Keep the figure, arms out and hopping, inside the frame.
  double slack = std::max(0.0, 0.5 * width - 0.46 * n.height_px);
  n.centre_x = 0.5 * width + rng.Uniform(-slack, slack);
  double ground_lo = std::min(1.1 * n.height_px + 0.03 * height, 0.97 * height);
  n.ground_y = rng.Uniform(ground_lo, std::max(ground_lo, 0.97 * height));
  n.speed = rng.Uniform(r.speed_lo, r.speed_hi);
  n.shift = rng.Uniform(-r.shift, r.shift);
  n.phase = rng.Uniform(0, r.phase);
  n.mirror = rng.Chance(0.5);
  n.hue_shift = rng.Int(-r.hue, r.hue);
  n.gain = rng.Uniform(r.gain_lo, r.gain_hi);
  n.background = Dull(rng, 60, 200);
  for (int i = 0; i < r.clutter; ++i) {
    Shape s;
    s.kind = rng.Int(0, 2);
    s.x1 = rng.Uniform(-0.1, 1.0) * width;
    s.y1 = rng.Uniform(-0.1, 1.0) * height;
    s.x2 = s.x1 + rng.Uniform(0.05, 0.3) * width;
    s.y2 = s.y1 + rng.Uniform(0.05, 0.3) * height;
    s.bgr = Dull(rng, 30, 230);
    n.clutter.push_back(s);
  }
  n.occluder = rng.Chance(r.occluder_p);
  if (n.occluder) {
    Shape& o = n.occluder_shape;
    double w = rng.Uniform(0.06, 0.14) * width, h = rng.Uniform(0.25, 0.6) * height;
    o.x1 = n.centre_x + rng.Uniform(-0.35, 0.25) * n.height_px;
    o.x2 = o.x1 + w;
    o.y2 = n.ground_y + rng.Uniform(-0.2, 0.05) * n.height_px;
    o.y1 = o.y2 - h;
    o.bgr = Dull(rng, 50, 180);
    n.occluder_drift = rng.Uniform(-0.6, 0.6);
  }
  n.jitter_px = r.jitter;
  double f1 = rng.Uniform(0.5, 2.0), p1 = rng.Uniform(0, 2 * kPi), f2 = rng.Uniform(0.5, 2.0), p2 = rng.Uniform(0, 2 * kPi);
  for (int i = 0; i < frames; ++i) {
    double t = frames > 1 ? static_cast<double>(i) / (frames - 1) : 0;
    n.shake.push_back({r.jitter * (0.7 * std::sin(2 * kPi * f1 * t + p1) + rng.Uniform(-0.3, 0.3)),
                       r.jitter * (0.7 * std::sin(2 * kPi * f2 * t + p2) + rng.Uniform(-0.3, 0.3))});
  }
  n.noise_sigma = r.noise;
  return n;
}

Timeline MakeTimeline(const ActionClass& action, const Nuisance& n) {
  Timeline tl;
  for (const auto& step : action.steps) {
    Timeline::Entry e;
    e.step = step;
    const MoveInfo& info = Info(step.move);
    bool whole = step.start <= 0 && step.end >= 1;
    if (!whole) {
      e.step.start = std::clamp(step.start + n.shift, 0.0, 1.0);
      e.step.end = std::clamp(step.end + n.shift, e.step.start, 1.0);
    }
    if (info.periodic) {
      e.step.cycles = step.cycles * n.speed;
      e.phase = n.phase;
    }
    e.side = info.one_sided && n.mirror ? kLeft : kRight;
    tl.entries.push_back(e);
  }
  return tl;
}

video::Image RenderFrame(const Pose& pose, const Nuisance& n, const std::array<Hsv, kSegments>& suit, int width,
                         int height, int index, uint64_t noise_seed, FrameTruth* truth) {
  const double dx = n.shake.empty() ? 0 : n.shake[index % n.shake.size()][0];
  const double dy = n.shake.empty() ? 0 : n.shake[index % n.shake.size()][1];
  cv::Mat img(height, width, CV_8UC3, Colour(n.background));
  // The floor: a slightly darker band below the ground line.
  auto floor = n.background;
  for (auto& c : floor) c = static_cast<uint8_t>(c * 0.8);
  cv::rectangle(img, Sub(0, n.ground_y + dy), Sub(width, height + 4), Colour(floor), cv::FILLED, cv::LINE_AA, kShift);
  for (const auto& s : n.clutter) DrawShape(img, s, dx, dy);

  const View view{n.yaw_deg};
  const double S = n.height_px;
  const Joints j = Solve(pose);
  auto at = [&](Vec3 p) { return cv::Point2d(n.centre_x + dx + S * view.Screen(p), n.ground_y + dy - S * p.y); };
  const Proportions& b = Body();
  std::vector<Prim> prims;
  auto line = [&](Segment seg, Vec3 a, Vec3 c, double thick, double bias = 0) {
    prims.push_back({Prim::kLine, seg, {at(a), at(c)}, thick * S, 0.5 * (view.Depth(a) + view.Depth(c)) + bias});
  };
  for (Side s : {kLeft, kRight}) {
    bool left = s == kLeft;
    line(left ? Segment::kLeftUpperArm : Segment::kRightUpperArm, j.shoulder[s], j.elbow[s], 0.055);
    line(left ? Segment::kLeftForearm : Segment::kRightForearm, j.elbow[s], j.wrist[s], 0.048, 0.001);
    line(left ? Segment::kLeftThigh : Segment::kRightThigh, j.hip[s], j.knee[s], 0.075);
    line(left ? Segment::kLeftShin : Segment::kRightShin, j.knee[s], j.ankle[s], 0.062, 0.001);
    line(Segment::kFeet, j.ankle[s], j.toe[s], 0.045, 0.002);
    Vec3 along = j.wrist[s] - j.elbow[s];
    Vec3 hand = j.wrist[s] + along * (b.hand_radius / std::max(1e-9, Norm(along)));
    prims.push_back({Prim::kCircle, Segment::kHands, {at(hand)}, b.hand_radius * S, view.Depth(hand) + 0.002});
  }
  Vec3 hip_l = j.hip[kLeft] + Vec3{0.025, 0, 0}, hip_r = j.hip[kRight] - Vec3{0.025, 0, 0};
  prims.push_back({Prim::kPoly, Segment::kTorso, {at(j.shoulder[kLeft]), at(j.shoulder[kRight]), at(hip_r), at(hip_l)},
                   0.05 * S, -0.02});
  line(Segment::kTorso, j.neck, j.head, 0.04, -0.02);
  prims.push_back({Prim::kCircle, Segment::kHead, {at(j.head)}, b.head_radius * S, view.Depth(j.head)});
  std::stable_sort(prims.begin(), prims.end(), [](const Prim& x, const Prim& y) { return x.depth < y.depth; });

  std::array<cv::Scalar, kSegments> colours;
  for (int i = 0; i < kSegments; ++i)
    colours[i] = Colour(HsvToBgr(suit[i].h + n.hue_shift, suit[i].s, static_cast<int>(std::lround(suit[i].v * n.gain))));
  for (const auto& p : prims) {
    const cv::Scalar& c = colours[static_cast<int>(p.segment)];
    if (p.kind == Prim::kLine) {
      cv::line(img, Sub(p.pts[0].x, p.pts[0].y), Sub(p.pts[1].x, p.pts[1].y), c,
               std::max(1, static_cast<int>(std::lround(p.size))), cv::LINE_AA, kShift);
    } else if (p.kind == Prim::kCircle) {
      cv::circle(img, Sub(p.pts[0].x, p.pts[0].y), static_cast<int>(std::lround(p.size * kSub)), c, cv::FILLED,
                 cv::LINE_AA, kShift);
    } else {
      std::vector<cv::Point> poly;
      for (const auto& q : p.pts) poly.push_back(Sub(q.x, q.y));
      cv::fillConvexPoly(img, poly, c, cv::LINE_AA, kShift);
      cv::polylines(img, std::vector<std::vector<cv::Point>>{poly}, true, c,
                    std::max(1, static_cast<int>(std::lround(p.size))), cv::LINE_AA, kShift);
    }
  }
  Shape occ = n.occluder_shape;
  if (n.occluder) {
    occ.x1 += n.occluder_drift * index;
    occ.x2 += n.occluder_drift * index;
    DrawShape(img, occ, dx, dy);
  }
  if (truth) {
    auto coco = CocoPoints(j);
    for (int k = 0; k < 17; ++k) {
      cv::Point2d q = at(coco[k]);
      double v = 2;
      if (q.x < 0 || q.y < 0 || q.x >= width || q.y >= height) v = 0;
      else if (n.occluder && q.x >= occ.x1 + dx && q.x <= occ.x2 + dx && q.y >= occ.y1 + dy && q.y <= occ.y2 + dy) v = 1;
      truth->keypoints[k] = {q.x, q.y, v};
    }
    double x1 = 1e9, y1 = 1e9, x2 = -1e9, y2 = -1e9;
    for (const auto& p : prims) {
      double r = p.kind == Prim::kCircle ? p.size : 0.5 * p.size;
      for (const auto& q : p.pts) {
        x1 = std::min(x1, q.x - r), y1 = std::min(y1, q.y - r);
        x2 = std::max(x2, q.x + r), y2 = std::max(y2, q.y + r);
      }
    }
    truth->box = {std::max(0.0, x1), std::max(0.0, y1), std::min<double>(width, x2), std::min<double>(height, y2)};
  }
  if (n.noise_sigma > 0) {
    cv::RNG rng(noise_seed);
    cv::Mat noise(height, width, CV_16SC3);
    rng.fill(noise, cv::RNG::NORMAL, 0, n.noise_sigma);
    cv::Mat wide;
    img.convertTo(wide, CV_16SC3);
    wide += noise;
    wide.convertTo(img, CV_8UC3);
  }
  cv::cvtColor(img, img, cv::COLOR_BGR2RGB);
  video::Image out;
  out.width = width;
  out.height = height;
  out.channels = 3;
  out.pixels.assign(img.data, img.data + static_cast<size_t>(width) * height * 3);
  return out;
}

}  // namespace vstar::synth
