#include "synth/body.hpp"

#include <algorithm>
#include <cmath>

namespace vstar::synth {
namespace {

constexpr double kDeg = 3.14159265358979323846 / 180.0;

Vec3 Unit(Vec3 v) {
  double n = Norm(v);
  return n > 1e-12 ? v * (1.0 / n) : Vec3{0, -1, 0};
}

double Dot(Vec3 a, Vec3 b) { return a.x * b.x + a.y * b.y + a.z * b.z; }

// Rotation about the x axis by the torso's forward bend: up (+y) tips toward the camera (+z).
Vec3 Pitch(Vec3 v, double deg) {
  double c = std::cos(deg * kDeg), s = std::sin(deg * kDeg);
  return {v.x, v.y * c - v.z * s, v.y * s + v.z * c};
}

}  // namespace

double Norm(Vec3 v) { return std::sqrt(Dot(v, v)); }

const char* SideName(Side s) { return s == kLeft ? "left" : "right"; }

const Proportions& Body() {
  static const Proportions p;
  return p;
}

Vec3 Limb(double abduct_deg, double flex_deg, Side side) {
  double a = abduct_deg * kDeg, f = flex_deg * kDeg;
  return {Sign(side) * std::sin(a) * std::cos(f), -std::cos(a) * std::cos(f), std::sin(f)};
}

Pose NeutralPose() {
  Pose p;
  for (Side s : {kLeft, kRight}) {
    p.upper_arm[s] = Limb(8, 0, s);
    p.forearm[s] = Limb(8, 10, s);
    p.thigh[s] = Limb(3, 0, s);
    p.shin[s] = Limb(3, 0, s);
  }
  return p;
}

void ArmToward(Pose& pose, Side side, Vec3 target, Vec3 pole) {
  const double a = Body().upper_arm, b = Body().forearm;
  double d = std::clamp(Norm(target), std::abs(a - b) + 1e-3, a + b - 1e-3);
  Vec3 t = Unit(target);
  Vec3 n = Unit(pole - t * Dot(pole, t));  // the bend direction, orthogonal to the reach
  double cos_shoulder = (a * a + d * d - b * b) / (2 * a * d);
  double sin_shoulder = std::sqrt(std::max(0.0, 1 - cos_shoulder * cos_shoulder));
  Vec3 elbow = (t * cos_shoulder + n * sin_shoulder) * a;
  pose.upper_arm[side] = Unit(elbow);
  pose.forearm[side] = Unit(t * d - elbow);
}

Joints Solve(const Pose& pose) {
  const Proportions& b = Body();
  Joints j;
  j.torso_pitch_deg = pose.torso_pitch_deg;
  double lowest = 1e9;
  for (Side s : {kLeft, kRight}) {
    j.hip[s] = {Sign(s) * b.hip_half, 0, 0};
    j.knee[s] = j.hip[s] + Unit(pose.thigh[s]) * b.thigh;
    j.ankle[s] = j.knee[s] + Unit(pose.shin[s]) * b.shin;
    lowest = std::min(lowest, j.ankle[s].y - b.ankle_height);
  }
  // The pelvis sits at the height that puts the lower foot on the ground (plus the hop's lift).
  Vec3 up{0, pose.lift - lowest, 0};
  j.pelvis = up;
  for (Side s : {kLeft, kRight}) {
    j.hip[s] = j.hip[s] + up;
    j.knee[s] = j.knee[s] + up;
    j.ankle[s] = j.ankle[s] + up;
    j.toe[s] = j.ankle[s] + Vec3{0, -0.6 * b.ankle_height, b.foot};
  }
  Vec3 spine = Pitch({0, 1, 0}, pose.torso_pitch_deg);
  j.neck = j.pelvis + spine * b.torso;
  j.head = j.neck + spine * b.neck;
  for (Side s : {kLeft, kRight}) {
    j.shoulder[s] = j.neck + Pitch({Sign(s) * b.shoulder_half, -b.shoulder_drop, 0}, pose.torso_pitch_deg);
    j.elbow[s] = j.shoulder[s] + Pitch(Unit(pose.upper_arm[s]), pose.torso_pitch_deg) * b.upper_arm;
    j.wrist[s] = j.elbow[s] + Pitch(Unit(pose.forearm[s]), pose.torso_pitch_deg) * b.forearm;
  }
  return j;
}

const std::array<const char*, 17> kCocoNames = {
    "nose",       "left_eye",   "right_eye", "left_ear",  "right_ear",  "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip",
    "right_hip",  "left_knee",  "right_knee", "left_ankle", "right_ankle"};

std::array<Vec3, 17> CocoPoints(const Joints& j) {
  const double r = Body().head_radius;
  auto on_head = [&](Vec3 dir) { return j.head + Pitch(Unit(dir), j.torso_pitch_deg) * r; };
  std::array<Vec3, 17> k;
  k[0] = on_head({0, -0.15, 1});
  k[1] = on_head({0.4, 0.25, 0.85});
  k[2] = on_head({-0.4, 0.25, 0.85});
  k[3] = on_head({1, 0.05, -0.1});
  k[4] = on_head({-1, 0.05, -0.1});
  for (Side s : {kLeft, kRight}) {
    k[5 + s] = j.shoulder[s];
    k[7 + s] = j.elbow[s];
    k[9 + s] = j.wrist[s];
    k[11 + s] = j.hip[s];
    k[13 + s] = j.knee[s];
    k[15 + s] = j.ankle[s];
  }
  return k;
}

double View::Screen(Vec3 p) const { return p.x * std::cos(yaw_deg * kDeg) + p.z * std::sin(yaw_deg * kDeg); }
double View::Depth(Vec3 p) const { return -p.x * std::sin(yaw_deg * kDeg) + p.z * std::cos(yaw_deg * kDeg); }

}  // namespace vstar::synth
