#pragma once
// The synthetic world's actions as compositions of sub-motions: each class is a schedule of steps,
// each step one movement of one body part over a window of the clip (timing), so that classes share
// parts and movements and differ in how they combine and order them. Every novel class is a new
// combination of sub-motions that base classes contain (tests/synth asserts it).
#include <string>
#include <vector>

#include "synth/body.hpp"

namespace vstar::synth {

enum class Move {
  kWave,          // one forearm raised, sways side to side
  kArmsAbduct,    // arms swing out sideways to overhead and back
  kLegsAbduct,    // legs jump apart and together
  kHop,           // the body hops
  kLower,         // knees bend, the body lowers
  kRise,          // knees straighten, the body rises
  kArmsForward,   // arms held straight out in front
  kArmsOverhead,  // arms held overhead
  kArmsRaise,     // arms rise from the sides to overhead
  kClap,          // hands meet in front of the chest and part
  kArmsFold,      // forearms fold across the chest
  kArmsCross,     // forearms held crossed
  kPunch,         // one arm jabs forward and pulls back
  kKick,          // one leg swings forward and up, then back
  kKneeLift,      // knees lift in turn
  kArmSwing,      // arms swing forward and back in turn
  kTorsoBend,     // the torso bends forward and straightens
  kArmsStill,     // arms hang still
  kLegsStill,     // legs stand still
};

// Which pose channels a movement drives; a later step on the same group overrides an earlier one.
enum class Group { kArms, kLegs, kTorso, kLift };

struct MoveInfo {
  Move move;
  const char* id;        // stable identifier ("wave")
  const char* part;      // "one forearm", "arms", "legs", "body" ...
  const char* movement;  // "raised, sways side to side"
  Group group;
  bool periodic;   // repeats `cycles` times in its window
  bool one_sided;  // done by one arm or leg; which one is a nuisance (mirror)
};
const MoveInfo& Info(Move m);
const std::vector<MoveInfo>& AllMoves();
// "part: movement", the sub-motion's text and its identity across classes.
std::string SubMotionKey(Move m);

struct Step {
  Move move;
  double start = 0, end = 1;  // fractions of the clip
  double cycles = 0;          // periodic movements: repetitions in the window
};

struct ActionClass {
  std::string name;        // display name ("Jumping jack")
  std::string folder;      // file-system name ("jumping_jack")
  bool novel = false;
  std::string definition;  // body-part definition in our words
  std::vector<Step> steps;
};
const std::vector<ActionClass>& Catalogue();
const ActionClass* FindClass(const std::string& name);  // by display name, folder or normalised name
// The class's distinct sub-motion keys, in schedule order.
std::vector<std::string> SubMotionKeys(const ActionClass& c);

// A class's schedule for one clip, after the timing nuisances (speed, shift, phase, mirror).
struct Timeline {
  struct Entry {
    Step step;
    Side side = kRight;  // one-sided movements
    double phase = 0;    // periodic movements: start phase in cycles
  };
  std::vector<Entry> entries;
};
// The pose at clip time t in [0, 1].
Pose PoseAt(const Timeline& timeline, double t);

}  // namespace vstar::synth
