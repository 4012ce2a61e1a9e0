#include "suit.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <opencv2/imgproc.hpp>

namespace vstar::suit {
namespace {

const std::array<const char*, kSegments> kNames = {
    "head",      "torso",     "left_upper_arm", "left_forearm", "right_upper_arm", "right_forearm",
    "left_thigh", "left_shin", "right_thigh",    "right_shin",   "hands",           "feet"};

int HueDistance(int a, int b) {
  int d = std::abs(a - b) % 180;
  return std::min(d, 180 - d);
}

double Dist(cv::Point2d a, cv::Point2d b) { return std::hypot(a.x - b.x, a.y - b.y); }

// One connected region of a segment's colour, as a stroke: centroid, main axis and the two ends of
// its centre line (the drawn stroke's round caps taken off).
struct Blob {
  bool found = false;
  double area = 0;
  cv::Point2d centre, axis, a, b;
  double lo = 0, hi = 0;  // the region's extent along the axis, from the centre, caps included
  cv::Rect box;
};

Blob Stroke(const cv::Mat& labels, int id, const cv::Rect& box, double area) {
  Blob s;
  s.found = true;
  s.area = area;
  s.box = box;
  double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0, n = 0;
  for (int y = box.y; y < box.y + box.height; ++y)
    for (int x = box.x; x < box.x + box.width; ++x)
      if (labels.at<int>(y, x) == id) {
        sx += x, sy += y, sxx += double(x) * x, syy += double(y) * y, sxy += double(x) * y, n += 1;
      }
  s.centre = {sx / n, sy / n};
  double cxx = sxx / n - s.centre.x * s.centre.x, cyy = syy / n - s.centre.y * s.centre.y;
  double cxy = sxy / n - s.centre.x * s.centre.y;
  double angle = 0.5 * std::atan2(2 * cxy, cxx - cyy);
  s.axis = {std::cos(angle), std::sin(angle)};
  double lo = 1e9, hi = -1e9;
  for (int y = box.y; y < box.y + box.height; ++y)
    for (int x = box.x; x < box.x + box.width; ++x)
      if (labels.at<int>(y, x) == id) {
        double p = (x - s.centre.x) * s.axis.x + (y - s.centre.y) * s.axis.y;
        lo = std::min(lo, p), hi = std::max(hi, p);
      }
  s.lo = lo, s.hi = hi;
  double length = hi - lo + 1;
  double half_width = 0.5 * std::min(length, area / length);
  lo = std::min(0.0, lo + half_width), hi = std::max(0.0, hi - half_width);
  s.a = s.centre + s.axis * lo;
  s.b = s.centre + s.axis * hi;
  return s;
}

// The `keep` largest regions of one label (hands and feet come in pairs).
std::vector<Blob> Regions(const cv::Mat& label, int segment, int keep, int min_area) {
  cv::Mat mask = label == segment, labels, stats, centroids;
  int n = cv::connectedComponentsWithStats(mask, labels, stats, centroids, 8, CV_32S);
  std::vector<std::pair<int, int>> by_area;
  for (int i = 1; i < n; ++i)
    if (stats.at<int>(i, cv::CC_STAT_AREA) >= min_area) by_area.push_back({stats.at<int>(i, cv::CC_STAT_AREA), i});
  std::sort(by_area.rbegin(), by_area.rend());
  std::vector<Blob> out;
  for (int k = 0; k < std::min<int>(keep, by_area.size()); ++k) {
    int i = by_area[k].second;
    cv::Rect box(stats.at<int>(i, cv::CC_STAT_LEFT), stats.at<int>(i, cv::CC_STAT_TOP),
                 stats.at<int>(i, cv::CC_STAT_WIDTH), stats.at<int>(i, cv::CC_STAT_HEIGHT));
    out.push_back(Stroke(labels, i, box, by_area[k].first));
  }
  return out;
}

// A joint seen from up to two strokes that meet there; `conf` counts the sources.
struct Joint {
  cv::Point2d at;
  float conf = 0;
};
Joint Meet(const std::vector<cv::Point2d>& sources) {
  Joint e;
  if (sources.empty()) return e;
  for (const auto& p : sources) e.at += p;
  e.at *= 1.0 / sources.size();
  e.conf = sources.size() > 1 ? 0.95f : 0.7f;
  return e;
}

// The end of `s` nearer to `p`, and the other one.
std::pair<cv::Point2d, cv::Point2d> Ends(const Blob& s, cv::Point2d p) {
  return Dist(s.a, p) <= Dist(s.b, p) ? std::pair{s.a, s.b} : std::pair{s.b, s.a};
}

}  // namespace

Palette Palette::Load(const std::string& file) {
  std::ifstream in(file);
  if (!in) throw std::runtime_error("cannot open the suit colours " + file);
  Palette p;
  std::array<bool, kSegments> seen{};
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream s(line);
    std::string name;
    Colour c;
    if (!(s >> name >> c.h >> c.s >> c.v))
      throw std::runtime_error(file + ":" + std::to_string(n) + ": expected segment, hue, saturation, value");
    auto it = std::find_if(kNames.begin(), kNames.end(), [&](const char* k) { return name == k; });
    if (it == kNames.end()) throw std::runtime_error(file + ":" + std::to_string(n) + ": unknown segment " + name);
    p.colours[it - kNames.begin()] = c;
    seen[it - kNames.begin()] = true;
  }
  for (int i = 0; i < kSegments; ++i)
    if (!seen[i]) throw std::runtime_error(file + ": no colour for " + kNames[i]);
  return p;
}

Estimator::Estimator(const Palette& palette, int hue_tolerance, int min_saturation, int min_area)
    : palette_(palette), hue_tolerance_(hue_tolerance), min_saturation_(min_saturation), min_area_(min_area) {}

Figure Estimator::Estimate(const cv::Mat& bgr) const {
  cv::Mat hsv;
  cv::cvtColor(bgr, hsv, cv::COLOR_BGR2HSV);
  constexpr int kMinValue = 40;
  // Lighting: the torso, the largest segment, tells how much brighter or darker the suit looks than
  // its nominal colours; bright and dark versions of a hue are then told apart at that exposure.
  const auto& torso_colour = palette_.colours[kTorso];
  std::vector<uint8_t> torso_values;
  for (int y = 0; y < hsv.rows; ++y)
    for (int x = 0; x < hsv.cols; ++x) {
      auto px = hsv.at<cv::Vec3b>(y, x);
      if (px[1] >= min_saturation_ && px[2] >= kMinValue && HueDistance(px[0], torso_colour.h) <= hue_tolerance_)
        torso_values.push_back(px[2]);
    }
  double gain = 1;
  if (torso_values.size() >= 20) {
    std::nth_element(torso_values.begin(), torso_values.begin() + torso_values.size() * 3 / 4, torso_values.end());
    gain = std::clamp(torso_values[torso_values.size() * 3 / 4] / double(torso_colour.v), 0.5, 1.5);
  }
  cv::Mat label(hsv.size(), CV_8U, cv::Scalar(255));
  for (int y = 0; y < hsv.rows; ++y)
    for (int x = 0; x < hsv.cols; ++x) {
      auto px = hsv.at<cv::Vec3b>(y, x);
      if (px[1] < min_saturation_ || px[2] < kMinValue) continue;
      double v = px[2] / gain, best = 1e9;
      int which = 255;
      for (int i = 0; i < kSegments; ++i) {
        if (HueDistance(px[0], palette_.colours[i].h) > hue_tolerance_) continue;
        double d = std::abs(v - palette_.colours[i].v);
        if (d < best) best = d, which = i;
      }
      label.at<uint8_t>(y, x) = static_cast<uint8_t>(which);
    }
  std::array<std::vector<Blob>, kSegments> parts;
  int seen = 0;
  for (int i = 0; i < kSegments; ++i) {
    parts[i] = Regions(label, i, i == kHands || i == kFeet ? 2 : 1, min_area_);
    seen += !parts[i].empty();
  }
  Figure f;
  if (parts[kTorso].empty()) return f;
  f.found = true;
  f.score = static_cast<float>(seen) / kSegments;
  cv::Rect box = parts[kTorso][0].box;
  for (const auto& list : parts)
    for (const auto& b : list) box |= b.box;
  f.box = cv::Rect2f(box);

  // Torso: its axis points from the pelvis to the head. Figure scale from the head's radius (a disc
  // whatever the view), else from the torso's length.
  const Blob& torso = parts[kTorso][0];
  cv::Point2d up = torso.axis;
  cv::Point2d head_centre = torso.centre + cv::Point2d(0, -1);
  double head_radius = 0;
  if (!parts[kHead].empty()) {
    head_centre = parts[kHead][0].centre;
    head_radius = std::sqrt(parts[kHead][0].area / CV_PI);
  }
  if ((head_centre - torso.centre).dot(up) < 0) up = -up;
  cv::Point2d right{-up.y, up.x};  // perpendicular, toward the image's right for an upright figure
  if (right.x < 0) right = -right;
  const bool flipped = up.dot(torso.axis) < 0;
  const double top = flipped ? -torso.lo : torso.hi, bottom = flipped ? -torso.hi : torso.lo;
  const double scale = head_radius > 0 ? head_radius / 0.065 : (top - bottom) / 0.33;
  if (head_radius <= 0) {
    head_radius = 0.065 * scale;
    head_centre = torso.centre + up * (top + 0.06 * scale);
  }
  // The torso is drawn as a quadrilateral from the shoulders to just outside the hips, with an outline
  // 0.05 figure-heights wide; its top is the neck line under the head. Shoulders and hips are read off
  // bands across its top and bottom.
  auto band_extent = [&](double from, double to) {
    double lo = 1e9, hi = -1e9;
    cv::Mat mask = label == kTorso;
    for (int y = torso.box.y; y < torso.box.y + torso.box.height; ++y)
      for (int x = torso.box.x; x < torso.box.x + torso.box.width; ++x) {
        if (!mask.at<uint8_t>(y, x)) continue;
        cv::Point2d d = cv::Point2d(x, y) - torso.centre;
        double along = d.dot(up);
        if (along < from || along > to) continue;
        lo = std::min(lo, d.dot(right)), hi = std::max(hi, d.dot(right));
      }
    return std::pair{lo, hi};
  };
  auto [s_lo, s_hi] = band_extent(top - 0.09 * scale, top - 0.035 * scale);
  auto [h_lo, h_hi] = band_extent(bottom, bottom + 0.06 * scale);
  const double shoulder_line = top - 0.06 * scale, hip_line = bottom + 0.025 * scale;
  std::array<cv::Point2d, 2> shoulder, hip;  // [0] = left (image right), [1] = right
  if (s_lo < s_hi) {
    shoulder[0] = torso.centre + up * shoulder_line + right * (s_hi - 0.025 * scale);
    shoulder[1] = torso.centre + up * shoulder_line + right * (s_lo + 0.025 * scale);
  } else {
    shoulder[0] = torso.centre + up * shoulder_line + right * (0.1 * scale);
    shoulder[1] = torso.centre + up * shoulder_line - right * (0.1 * scale);
  }
  if (h_lo < h_hi) {
    hip[0] = torso.centre + up * hip_line + right * (h_hi - 0.05 * scale);
    hip[1] = torso.centre + up * hip_line + right * (h_lo + 0.05 * scale);
  } else {
    hip[0] = torso.centre + up * hip_line + right * (0.06 * scale);
    hip[1] = torso.centre + up * hip_line - right * (0.06 * scale);
  }

  auto set = [&](int k, cv::Point2d p, float conf) {
    f.keypoints[k] = cv::Point2f(p);
    f.conf[k] = conf;
  };
  // Face points on the head disc (the suit has no face: they follow the head's centre).
  set(0, head_centre + up * (-0.15 * head_radius), 0.6f);
  set(1, head_centre + up * (0.25 * head_radius) + right * (0.4 * head_radius), 0.5f);
  set(2, head_centre + up * (0.25 * head_radius) - right * (0.4 * head_radius), 0.5f);
  set(3, head_centre + right * (0.9 * head_radius), 0.4f);
  set(4, head_centre - right * (0.9 * head_radius), 0.4f);

  // A limb: base joint, the upper stroke, the lower stroke and the end blobs (hands or feet).
  auto limb = [&](cv::Point2d base, int upper_seg, int lower_seg, int end_seg, int k_base, int k_mid,
                  int k_end) {
    set(k_base, base, 0.9f);
    std::vector<cv::Point2d> mid, end;
    cv::Point2d upper_far = base;
    if (!parts[upper_seg].empty()) {
      upper_far = Ends(parts[upper_seg][0], base).second;
      mid.push_back(upper_far);
    }
    if (!parts[lower_seg].empty()) {
      auto [near, far] = Ends(parts[lower_seg][0], mid.empty() ? base : upper_far);
      mid.push_back(near);
      end.push_back(far);
    }
    Joint m = Meet(mid);
    if (m.conf == 0) m.at = base;
    set(k_mid, m.at, m.conf);
    // The hand or foot nearest the lower stroke's end, if it is near: the joint sits at its inner edge.
    cv::Point2d from = end.empty() ? m.at : end[0];
    const Blob* best = nullptr;
    for (const auto& b : parts[end_seg])
      if (Dist(b.centre, from) < 0.12 * scale && (!best || Dist(b.centre, from) < Dist(best->centre, from))) best = &b;
    if (best) {
      cv::Point2d towards = m.at - best->centre;
      double n = std::hypot(towards.x, towards.y);
      double r = std::sqrt(best->area / CV_PI);
      end.push_back(n > 1e-6 ? best->centre + towards * (std::min(r, n) / n) : best->centre);
    }
    Joint e = Meet(end);
    if (e.conf == 0) e.at = m.at;
    set(k_end, e.at, e.conf);
  };
  limb(shoulder[0], kLeftUpperArm, kLeftForearm, kHands, 5, 7, 9);
  limb(shoulder[1], kRightUpperArm, kRightForearm, kHands, 6, 8, 10);
  limb(hip[0], kLeftThigh, kLeftShin, kFeet, 11, 13, 15);
  limb(hip[1], kRightThigh, kRightShin, kFeet, 12, 14, 16);
  return f;
}

}  // namespace vstar::suit
