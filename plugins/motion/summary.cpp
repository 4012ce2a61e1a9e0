#include "summary.hpp"

#include <algorithm>
#include <cmath>

namespace vstar::motion {
namespace {

enum K { kLSh = 5, kRSh = 6, kLEl = 7, kREl = 8, kLWr = 9, kRWr = 10, kLHip = 11, kRHip = 12, kLKn = 13, kRKn = 14,
         kLAn = 15, kRAn = 16 };

double Percentile(std::vector<double> s, double q) {
  if (s.empty()) return 0;
  size_t i = static_cast<size_t>(q * (s.size() - 1) + 0.5);
  std::nth_element(s.begin(), s.begin() + i, s.end());
  return s[i];
}

// Spread between the 5th and 95th percentiles: one misread frame does not make a part move.
double Range(const std::vector<double>& s) { return Percentile(s, 0.95) - Percentile(s, 0.05); }

// Median of three neighbours: removes single-frame misreadings before counting cycles.
std::vector<double> Smooth(const std::vector<double>& s) {
  if (s.size() < 3) return s;
  std::vector<double> out(s);
  for (size_t i = 1; i + 1 < s.size(); ++i) {
    double a = s[i - 1], b = s[i], c = s[i + 1];
    out[i] = std::max(std::min(a, b), std::min(std::max(a, b), c));
  }
  return out;
}

double Mean(const std::vector<double>& s, size_t from, size_t to) {
  double sum = 0;
  for (size_t i = from; i < to; ++i) sum += s[i];
  return to > from ? sum / (to - from) : 0;
}

// Start and end levels (first and last fifth of the clip).
std::pair<double, double> Ends(const std::vector<double>& s) {
  size_t n = std::max<size_t>(1, s.size() / 5);
  return {Mean(s, 0, n), Mean(s, s.size() - n, s.size())};
}

std::string Times(int cycles, const char* unit) {
  return std::to_string(cycles) + " " + unit + (cycles == 1 ? "" : "s");
}

// ", 3 cycles" for a repeated movement; nothing when no full swing was counted.
std::string Count(const std::vector<double>& s, const char* unit) {
  int c = CountCycles(s, 0.4 * Range(s));
  return c > 0 ? ", " + Times(c, unit) : "";
}

// Body-relative measurements of the frames where shoulders and hips are seen.
struct Track {
  std::vector<Pose> poses;
  double scale = 1;  // torso length, pixels
  // Keypoint k relative to keypoint ref, in torso lengths (y up).
  std::pair<double, double> Rel(size_t i, int k, int ref) const {
    return {(poses[i][k].x - poses[i][ref].x) / scale, -(poses[i][k].y - poses[i][ref].y) / scale};
  }
};

std::string DescribeArm(const Track& t, int shoulder, int elbow, int wrist, const SummaryOptions& opt,
                        bool* moving) {
  std::vector<double> elevation, reach, angle;
  size_t raised = 0;
  for (size_t i = 0; i < t.poses.size(); ++i) {
    auto [x, y] = t.Rel(i, wrist, shoulder);
    elevation.push_back(y);
    reach.push_back(std::hypot(x, y));
    auto [ex, ey] = t.Rel(i, wrist, elbow);
    angle.push_back(std::atan2(ex, ey));  // 0 = forearm upright
    raised += y > opt.lift;
  }
  elevation = Smooth(elevation), reach = Smooth(reach), angle = Smooth(angle);
  *moving = false;
  const bool up = raised * 10 >= t.poses.size() * 6;
  auto [e0, e1] = Ends(elevation);
  // A one-way change of height (raising the arms) first, then the strongest of the back-and-forth
  // movements, each against its own threshold.
  if (std::abs(e1 - e0) > 0.6 && std::abs(e1 - e0) >= 0.6 * Range(elevation)) {
    *moving = true;
    return e1 > e0 ? "rises overhead" : "lowers";
  }
  double lift = Range(elevation) / 0.5, sway = Range(angle) / 0.6, jab = Range(reach) / opt.reach;
  double best = std::max({lift, sway, jab});
  if (best < 1) return up ? "raised, still" : "still";
  *moving = true;
  if (best == sway && up) return "raised, oscillates side to side" + Count(angle, "cycle");
  if (best == jab || best == sway) return std::string(up ? "raised, " : "") + "extends and pulls back" + Count(reach, "time");
  return "swings up and down" + Count(elevation, "cycle");
}

}  // namespace

int CountCycles(const std::vector<double>& s, double hysteresis) {
  if (s.size() < 3 || hysteresis <= 0) return 0;
  // Monotonic runs between alternating extremes at least `hysteresis` apart; a cycle is two runs.
  double lo = s[0], hi = s[0], extreme = s[0];
  int direction = 0, reversals = 0;
  for (double v : s) {
    if (direction == 0) {
      lo = std::min(lo, v), hi = std::max(hi, v);
      if (v > lo + hysteresis) direction = 1, extreme = v;
      else if (v < hi - hysteresis) direction = -1, extreme = v;
    } else if (direction > 0) {
      if (v > extreme) extreme = v;
      else if (v < extreme - hysteresis) ++reversals, direction = -1, extreme = v;
    } else {
      if (v < extreme) extreme = v;
      else if (v > extreme + hysteresis) ++reversals, direction = 1, extreme = v;
    }
  }
  return direction == 0 ? 0 : (reversals + 1) / 2;
}

std::string Summarise(const std::vector<Pose>& all, const SummaryOptions& opt) {
  Track t;
  std::vector<double> lengths;
  for (const auto& p : all) {
    bool torso = p[kLSh].conf >= opt.min_conf && p[kRSh].conf >= opt.min_conf && p[kLHip].conf >= opt.min_conf &&
                 p[kRHip].conf >= opt.min_conf;
    if (!torso) continue;
    t.poses.push_back(p);
    double sx = 0.5 * (p[kLSh].x + p[kRSh].x), sy = 0.5 * (p[kLSh].y + p[kRSh].y);
    double hx = 0.5 * (p[kLHip].x + p[kRHip].x), hy = 0.5 * (p[kLHip].y + p[kRHip].y);
    lengths.push_back(std::hypot(sx - hx, sy - hy));
  }
  if (t.poses.size() < 3) return "";
  // The upright torso's length (a bow shortens it in the picture).
  t.scale = std::max(1e-6, Percentile(lengths, 0.9));
  std::vector<std::string> parts;

  // Arms, then what the two hands do together.
  bool left_moves = false, right_moves = false;
  std::string left = DescribeArm(t, kLSh, kLEl, kLWr, opt, &left_moves);
  std::string right = DescribeArm(t, kRSh, kREl, kRWr, opt, &right_moves);
  std::vector<double> apart;
  size_t crossed = 0;
  for (size_t i = 0; i < t.poses.size(); ++i) {
    const auto& p = t.poses[i];
    apart.push_back(std::hypot(p[kLWr].x - p[kRWr].x, p[kLWr].y - p[kRWr].y) / t.scale);
    // The figure's left wrist is on the image's right when it faces the camera; crossed arms swap them.
    double mid = 0.5 * (p[kLSh].x + p[kRSh].x);
    crossed += p[kLWr].x < mid - 0.05 * t.scale && p[kRWr].x > mid + 0.05 * t.scale;
  }
  apart = Smooth(apart);
  if (left == right) parts.push_back("arms: " + left);
  else parts.push_back("left arm: " + left), parts.push_back("right arm: " + right);
  int claps = CountCycles(apart, 0.4 * Range(apart));
  if (left_moves && right_moves && Range(apart) > 0.4 && Percentile(apart, 0.05) < 0.45 && claps >= 2)
    parts.push_back("hands: meet and part, " + Times(claps, "time"));
  if (crossed * 2 >= t.poses.size()) parts.push_back("forearms: crossed");

  // Torso: a bow shortens it in the picture and lengthens it again.
  std::vector<double> torso;
  for (double l : lengths) torso.push_back(l / t.scale);
  torso = Smooth(torso);
  if (Percentile(torso, 0.05) < 0.7)
    parts.push_back(Ends(torso).second < 0.85 ? "torso: bends forward" : "torso: bends forward and straightens");

  // Legs: knees up relative to the hips, feet apart, hips down toward the feet.
  std::vector<double> knee_l, knee_r, spread, hip_height, ground;
  for (size_t i = 0; i < t.poses.size(); ++i) {
    const auto& p = t.poses[i];
    knee_l.push_back(t.Rel(i, kLKn, kLHip).second);
    knee_r.push_back(t.Rel(i, kRKn, kRHip).second);
    spread.push_back(std::abs(p[kLAn].x - p[kRAn].x) / t.scale);
    double feet = std::max(p[kLAn].y, p[kRAn].y);  // the lower foot
    hip_height.push_back((feet - 0.5 * (p[kLHip].y + p[kRHip].y)) / t.scale);
    ground.push_back(-feet / t.scale);
  }
  knee_l = Smooth(knee_l), knee_r = Smooth(knee_r), spread = Smooth(spread);
  hip_height = Smooth(hip_height), ground = Smooth(ground);
  std::vector<std::string> legs;
  double hr = Range(hip_height);
  auto [h0, h1] = Ends(hip_height);
  std::vector<double> turn;
  for (size_t i = 0; i < knee_l.size(); ++i) turn.push_back(knee_l[i] - knee_r[i]);
  bool bends = false;
  if (hr > 0.6) {
    bends = true;
    int c = CountCycles(hip_height, 0.4 * hr);
    if (std::abs(h1 - h0) < 0.3 * hr && c >= 1) legs.push_back("knees bend and straighten, " + Times(c, "time"));
    else if (h1 < h0) legs.push_back("knees bend, the body lowers");
    else legs.push_back("knees straighten, the body rises");
  }
  if (!bends) {
    if (Range(knee_l) > 0.4 && Range(knee_r) > 0.4 && Range(turn) > 0.6) {
      legs.push_back("knees lift in turn, " + Times(CountCycles(turn, 0.4 * Range(turn)), "cycle"));
    } else if (Range(knee_l) > 0.4 || Range(knee_r) > 0.4) {
      bool l = Range(knee_l) >= Range(knee_r);
      const auto& k = l ? knee_l : knee_r;
      legs.push_back(std::string(l ? "left" : "right") + " leg swings up, " +
                     Times(CountCycles(k, 0.4 * Range(k)), "time"));
    }
  }
  if (Range(spread) > 0.5) legs.push_back("feet jump apart and together, " +
                                           Times(CountCycles(spread, 0.4 * Range(spread)), "cycle"));
  parts.push_back("legs: " + (legs.empty() ? std::string("still") : legs[0]));
  for (size_t i = 1; i < legs.size(); ++i) parts.push_back("legs: " + legs[i]);
  // Hops: the lower foot leaves the ground, repeatedly.
  double gr = Range(ground);
  if (!bends && gr > 0.15) {
    int c = CountCycles(ground, 0.5 * gr);
    if (c >= 2) parts.push_back("body: hops, " + Times(c, "time"));
  }
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : "; ") + p;
  return out;
}

}  // namespace vstar::motion
