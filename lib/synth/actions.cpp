#include "synth/actions.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <stdexcept>

namespace vstar::synth {
namespace {

constexpr double kPi = 3.14159265358979323846;

double Smooth(double u) { return u * u * (3 - 2 * u); }

Vec3 Lerp(Vec3 a, Vec3 b, double k) { return a + (b - a) * k; }

std::string Normalise(const std::string& s) {
  std::string out;
  for (unsigned char c : s)
    if (std::isalnum(c)) out += static_cast<char>(std::tolower(c));
  return out;
}

// Hand positions relative to the shoulder (torso frame) used by several movements.
Vec3 HangingHand(Side s) { return {Sign(s) * 0.045, -0.315, 0.03}; }
Vec3 CrossedHand(Side s) { return {-Sign(s) * 0.18, -0.15, s == kLeft ? 0.13 : 0.10}; }
Vec3 GuardHand(Side s) { return {-Sign(s) * 0.06, 0.02, 0.13}; }
Vec3 ElbowOut(Side s) { return {Sign(s), -1, 0}; }

void ArmsAt(Pose& p, double abduct, double fore_abduct, double flex, double fore_flex) {
  for (Side s : {kLeft, kRight}) {
    p.upper_arm[s] = Limb(abduct, flex, s);
    p.forearm[s] = Limb(fore_abduct, fore_flex, s);
  }
}

void LegsBent(Pose& p, double k) {
  for (Side s : {kLeft, kRight}) {
    p.thigh[s] = Limb(4, 88 * k, s);
    p.shin[s] = Limb(4, -12 * k, s);
  }
}

// Applies one step at progress u (0..1 through its window); `arg` is the periodic movements' phase in
// cycles (cycles * (u + phase)).
void Apply(Pose& p, Move m, Side side, double u, double arg) {
  const Pose n = NeutralPose();
  const double wave = std::sin(2 * kPi * arg);
  const double swing = 0.5 - 0.5 * std::cos(2 * kPi * arg);  // 0 at rest, 1 at the far point
  switch (m) {
    case Move::kWave:
      p.upper_arm = n.upper_arm;
      p.forearm = n.forearm;
      p.upper_arm[side] = Limb(100, 10, side);
      p.forearm[side] = Limb(165 + 28 * wave, 10, side);
      break;
    case Move::kArmsAbduct: ArmsAt(p, 10 + 160 * swing, 10 + 168 * swing, 0, 0); break;
    case Move::kLegsAbduct:
      for (Side s : {kLeft, kRight}) p.thigh[s] = p.shin[s] = Limb(3 + 20 * swing, 0, s);
      break;
    case Move::kHop: p.lift = 0.07 * std::abs(std::sin(kPi * arg)); break;
    case Move::kLower: LegsBent(p, Smooth(u)); break;
    case Move::kRise: LegsBent(p, 1 - Smooth(u)); break;
    case Move::kArmsForward: ArmsAt(p, 6, 6, 85, 88); break;
    case Move::kArmsOverhead: ArmsAt(p, 160, 168, 0, 0); break;
    case Move::kArmsRaise: {
      double k = Smooth(u);
      ArmsAt(p, 8 + 152 * k, 8 + 160 * k, 0, 10 * (1 - k));
      break;
    }
    case Move::kClap:
      for (Side s : {kLeft, kRight})
        ArmToward(p, s, {Sign(s) * (-0.10 + 0.14 * (1 - swing)), -0.12, 0.20}, ElbowOut(s));
      break;
    case Move::kArmsFold:
    case Move::kArmsCross: {
      double k = m == Move::kArmsCross ? 1.0 : Smooth(u);
      for (Side s : {kLeft, kRight}) ArmToward(p, s, Lerp(HangingHand(s), CrossedHand(s), k), ElbowOut(s));
      break;
    }
    case Move::kPunch: {
      double jab = std::pow(std::max(0.0, wave), 2);
      ArmToward(p, Other(side), GuardHand(Other(side)), ElbowOut(Other(side)));
      ArmToward(p, side, Lerp(GuardHand(side), {-Sign(side) * 0.05, 0.0, 0.31}, jab), ElbowOut(side));
      break;
    }
    case Move::kKick: {
      double e = std::pow(std::sin(kPi * u), 2);
      p.thigh = n.thigh;
      p.shin = n.shin;
      p.thigh[side] = Limb(3, 80 * e, side);
      p.shin[side] = Limb(3, 70 * e, side);
      break;
    }
    case Move::kKneeLift:
      for (Side s : {kLeft, kRight}) {
        double lift = std::max(0.0, s == kLeft ? wave : -wave);
        p.thigh[s] = Limb(3, 75 * lift, s);
        p.shin[s] = Limb(3, -8 * lift, s);
      }
      break;
    case Move::kArmSwing:
      for (Side s : {kLeft, kRight}) {
        double flex = 30 * (s == kLeft ? -wave : wave);  // opposite to the knee on the same side
        p.upper_arm[s] = Limb(8, flex, s);
        p.forearm[s] = Limb(8, flex + 25, s);
      }
      break;
    case Move::kTorsoBend: p.torso_pitch_deg = 70 * std::pow(std::sin(kPi * u), 2); break;
    case Move::kArmsStill:
      p.upper_arm = n.upper_arm;
      p.forearm = n.forearm;
      break;
    case Move::kLegsStill:
      p.thigh = n.thigh;
      p.shin = n.shin;
      break;
  }
}

}  // namespace

const std::vector<MoveInfo>& AllMoves() {
  static const std::vector<MoveInfo> kMoves = {
      {Move::kWave, "wave", "one forearm", "raised, sways side to side", Group::kArms, true, true},
      {Move::kArmsAbduct, "arms_abduct", "arms", "swing out sideways to overhead and back", Group::kArms, true, false},
      {Move::kLegsAbduct, "legs_abduct", "legs", "jump apart and together", Group::kLegs, true, false},
      {Move::kHop, "hop", "body", "hops up and down", Group::kLift, true, false},
      {Move::kLower, "lower", "legs", "knees bend, the body lowers", Group::kLegs, false, false},
      {Move::kRise, "rise", "legs", "knees straighten, the body rises", Group::kLegs, false, false},
      {Move::kArmsForward, "arms_forward", "arms", "held straight out in front", Group::kArms, false, false},
      {Move::kArmsOverhead, "arms_overhead", "arms", "held overhead", Group::kArms, false, false},
      {Move::kArmsRaise, "arms_raise", "arms", "rise from the sides to overhead", Group::kArms, false, false},
      {Move::kClap, "clap", "hands", "meet in front of the chest and part", Group::kArms, true, false},
      {Move::kArmsFold, "arms_fold", "forearms", "fold across the chest", Group::kArms, false, false},
      {Move::kArmsCross, "arms_cross", "forearms", "held crossed over the chest", Group::kArms, false, false},
      {Move::kPunch, "punch", "one arm", "jabs forward and pulls back", Group::kArms, true, true},
      {Move::kKick, "kick", "one leg", "swings forward and up, then back down", Group::kLegs, false, true},
      {Move::kKneeLift, "knee_lift", "knees", "lift in turn", Group::kLegs, true, false},
      {Move::kArmSwing, "arm_swing", "arms", "swing forward and back in turn", Group::kArms, true, false},
      {Move::kTorsoBend, "torso_bend", "torso", "bends forward and straightens", Group::kTorso, false, false},
      {Move::kArmsStill, "arms_still", "arms", "hang still", Group::kArms, false, false},
      {Move::kLegsStill, "legs_still", "legs", "stand still", Group::kLegs, false, false},
  };
  return kMoves;
}

const MoveInfo& Info(Move m) {
  for (const auto& i : AllMoves())
    if (i.move == m) return i;
  throw std::logic_error("synth: movement without a table entry");
}

std::string SubMotionKey(Move m) { return std::string(Info(m).part) + ": " + Info(m).movement; }

const std::vector<ActionClass>& Catalogue() {
  using M = Move;
  static const std::vector<ActionClass> kClasses = {
      {"Wave", "wave", false,
       "One forearm: raised beside the head, sways side to side, repeatedly; Other arm: hangs; Legs: stand still",
       {{M::kWave, 0, 1, 3}, {M::kLegsStill}}},
      {"Jumping jack", "jumping_jack", false,
       "Arms: swing out sideways to overhead and back, repeatedly; Legs: jump apart and together with the arms; "
       "Body: hops on every beat",
       {{M::kArmsAbduct, 0, 1, 3}, {M::kLegsAbduct, 0, 1, 3}, {M::kHop, 0, 1, 6}}},
      {"Sit down", "sit_down", false,
       "Legs: knees bend and the body lowers, then stays low to the end; Arms: hang still",
       {{M::kLower, 0.25, 0.7}, {M::kArmsStill}}},
      {"Squat", "squat", false,
       "Legs: knees bend and the body lowers, then knees straighten and it rises, twice; Arms: held straight out in front",
       {{M::kLower, 0.08, 0.3}, {M::kRise, 0.3, 0.5}, {M::kLower, 0.5, 0.72}, {M::kRise, 0.72, 0.94}, {M::kArmsForward}}},
      {"Clap", "clap", false, "Hands: meet in front of the chest and part, repeatedly; Legs: stand still",
       {{M::kClap, 0, 1, 4}, {M::kLegsStill}}},
      {"Punch", "punch", false,
       "One arm: jabs straight forward from the guard and pulls back, repeatedly; Other arm: held in guard by the chin; "
       "Legs: stand still",
       {{M::kPunch, 0, 1, 3}, {M::kLegsStill}}},
      {"Kick", "kick", false, "One leg: swings forward and up, then back down, once; Arms: hang still",
       {{M::kKick, 0.3, 0.7}, {M::kArmsStill}}},
      {"March in place", "march_in_place", false,
       "Knees: lift in turn, repeatedly, feet stay in place; Arms: swing forward and back in turn, opposite to the legs",
       {{M::kKneeLift, 0, 1, 2}, {M::kArmSwing, 0, 1, 2}}},
      {"Bow", "bow", false,
       "Torso: bends forward from the hips and straightens, once; Arms: hang still; Legs: stand still",
       {{M::kTorsoBend, 0.15, 0.85}, {M::kArmsStill}, {M::kLegsStill}}},
      {"Raise both arms", "raise_both_arms", false,
       "Arms: rise from the sides to overhead, then held overhead; Legs: stand still",
       {{M::kArmsRaise, 0.1, 0.5}, {M::kArmsOverhead, 0.5, 1}, {M::kLegsStill}}},
      {"Cross arms", "cross_arms", false, "Forearms: fold across the chest, then held crossed; Legs: stand still",
       {{M::kArmsFold, 0.1, 0.45}, {M::kArmsCross, 0.45, 1}, {M::kLegsStill}}},
      {"Stand up", "stand_up", true,
       "Legs: start bent low, then knees straighten and the body rises; Arms: hang still",
       {{M::kRise, 0.3, 0.75}, {M::kArmsStill}}},
      {"Cheer", "cheer", true, "Arms: held overhead throughout; Body: hops up and down, repeatedly",
       {{M::kArmsOverhead}, {M::kHop, 0, 1, 4}}},
      {"Run in place", "run_in_place", true,
       "Knees: lift in turn, repeatedly; Arms: swing forward and back in turn; Body: hops off the ground with each step",
       {{M::kKneeLift, 0, 1, 3}, {M::kArmSwing, 0, 1, 3}, {M::kHop, 0, 1, 6}}},
      {"Shadow box", "shadow_box", true,
       "One arm: jabs forward from the guard and pulls back, repeatedly; Other arm: held in guard; Body: hops lightly, "
       "repeatedly",
       {{M::kPunch, 0, 1, 3}, {M::kHop, 0, 1, 5}}},
      {"Overhead squat", "overhead_squat", true,
       "Legs: knees bend and the body lowers, then it rises, twice; Arms: held overhead throughout",
       {{M::kLower, 0.08, 0.3}, {M::kRise, 0.3, 0.5}, {M::kLower, 0.5, 0.72}, {M::kRise, 0.72, 0.94}, {M::kArmsOverhead}}},
      {"Bow with arms crossed", "bow_with_arms_crossed", true,
       "Torso: bends forward from the hips and straightens, once; Forearms: held crossed over the chest; "
       "Legs: stand still",
       {{M::kTorsoBend, 0.15, 0.85}, {M::kArmsCross}, {M::kLegsStill}}},
  };
  return kClasses;
}

const ActionClass* FindClass(const std::string& name) {
  for (const auto& c : Catalogue())
    if (Normalise(c.name) == Normalise(name) || Normalise(c.folder) == Normalise(name)) return &c;
  return nullptr;
}

std::vector<std::string> SubMotionKeys(const ActionClass& c) {
  std::vector<std::string> keys;
  for (const auto& s : c.steps) {
    std::string k = SubMotionKey(s.move);
    if (std::find(keys.begin(), keys.end(), k) == keys.end()) keys.push_back(k);
  }
  return keys;
}

Pose PoseAt(const Timeline& timeline, double t) {
  Pose p = NeutralPose();
  bool seen[4] = {false, false, false, false};
  for (const auto& e : timeline.entries) {
    const MoveInfo& info = Info(e.step.move);
    bool& group_seen = seen[static_cast<int>(info.group)];
    // A step drives its part once its window has opened; before any step of a part has, the first
    // one shows its starting state (stand up starts low).
    if (t < e.step.start && group_seen) continue;
    group_seen = true;
    double span = std::max(1e-9, e.step.end - e.step.start);
    double u = std::clamp((t - e.step.start) / span, 0.0, 1.0);
    Apply(p, e.step.move, e.side, u, e.step.cycles * (u + e.phase));
  }
  return p;
}

}  // namespace vstar::synth
