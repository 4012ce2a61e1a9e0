#pragma once
// The synthetic world's articulated figure: a 3-D stick body (head, torso, upper/lower arms and legs,
// hands, feet) posed by limb directions, seen by an orthographic camera. Body units: the standing
// figure is about 1 tall; x points to the image's right, y up, z toward the camera (the figure faces
// the camera, so its left side is on the image's right).
#include <array>
#include <string>

namespace vstar::synth {

struct Vec3 {
  double x = 0, y = 0, z = 0;
};
inline Vec3 operator+(Vec3 a, Vec3 b) { return {a.x + b.x, a.y + b.y, a.z + b.z}; }
inline Vec3 operator-(Vec3 a, Vec3 b) { return {a.x - b.x, a.y - b.y, a.z - b.z}; }
inline Vec3 operator*(Vec3 a, double s) { return {a.x * s, a.y * s, a.z * s}; }
double Norm(Vec3 v);

enum Side : int { kLeft = 0, kRight = 1 };
// +1 for the figure's left (image right), -1 for its right.
inline double Sign(Side s) { return s == kLeft ? 1.0 : -1.0; }
inline Side Other(Side s) { return s == kLeft ? kRight : kLeft; }
const char* SideName(Side s);  // "left" | "right"

// Segment lengths and widths (body units).
struct Proportions {
  double shin = 0.24, thigh = 0.24, ankle_height = 0.04, torso = 0.30, neck = 0.09, head_radius = 0.065;
  double upper_arm = 0.17, forearm = 0.15, hand_radius = 0.028, foot = 0.07;
  double shoulder_half = 0.11, hip_half = 0.06, shoulder_drop = 0.025;
};
const Proportions& Body();

// A direction from two angles in degrees: `abduct` swings the limb out sideways in the frontal plane
// (0 = hanging down, 90 = horizontal to the side, 180 = straight up; negative crosses the midline),
// `flex` swings it forward toward the camera (90 = pointing forward).
Vec3 Limb(double abduct_deg, double flex_deg, Side side);

// Limb directions (unit vectors): arms in the torso's frame (they follow a bow), legs in the world frame.
struct Pose {
  std::array<Vec3, 2> upper_arm, forearm, thigh, shin;
  double torso_pitch_deg = 0;  // forward bend
  double lift = 0;             // height of the lower foot above the ground (hops)
};
Pose NeutralPose();

// Directions that put the hand at `target` (relative to the shoulder, torso frame); the elbow bends
// toward `pole`. Targets beyond reach straighten the arm toward them.
void ArmToward(Pose& pose, Side side, Vec3 target, Vec3 pole);

// 3-D joint positions; the pelvis is above the origin, at the height that puts the lower foot `lift`
// above the ground (y = 0).
struct Joints {
  Vec3 pelvis, neck, head;
  std::array<Vec3, 2> shoulder, elbow, wrist, hip, knee, ankle, toe;
  double torso_pitch_deg = 0;
};
Joints Solve(const Pose& pose);

// The 17 COCO keypoints in COCO order (nose, eyes, ears, then shoulders, elbows, wrists, hips, knees,
// ankles; left before right), in 3-D. The face points are placed on the head sphere.
std::array<Vec3, 17> CocoPoints(const Joints& j);
extern const std::array<const char*, 17> kCocoNames;

// Orthographic camera turned `yaw_deg` about the vertical axis: image-plane x and depth (larger =
// nearer the camera) of a body point.
struct View {
  double yaw_deg = 0;
  double Screen(Vec3 p) const;
  double Depth(Vec3 p) const;
};

}  // namespace vstar::synth
