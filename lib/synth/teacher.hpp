#pragma once
// The synthetic world's teacher: writes the two turns vs-decompose turns into SFT chains from the
// generator's ground truth (truth.jsonl, which only the teacher and the tests read), playing the role
// of the paper's large teacher model. It runs in process (vs-decompose --teacher synth) rather than as
// a plugin because the sub-motion ranking it needs lives in lib/synth, which plugins cannot link.
//   turn 1: for a student that reads text (student=text, the default; the miniature experiment's
//           small model): video description yes (the motion summary is the only place it sees the
//           movement) and action explanation yes (it matches the summary against the definitions);
//           pose and detection no. For one that reads frames (student=frames): pose estimation yes
//           (every class is told apart by limb movements, which the suit pose tool recovers), person
//           detection only with an occluder or heavy clutter, action explanation when a candidate is
//           not a base class, video description no (the motion summary repeats what pose shows).
//   turn 2: [1] the clip's true sub-motions ranked by how few other candidates share them
//           (RankTruthSubMotions); [2] for the top sub-motions the candidates that contain them, the
//           true class first; [3] each of those scored 0-10 by the share of its sub-motions seen in
//           the clip and of the clip's it explains; the answer.
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <vstar/plugin.h>

namespace vstar::synth {

// What the student reads, which decides the tool calls that pay (turn 1).
enum class Student { kText, kFrames };

// `opts`: truth=FILE (required: the truth.jsonl vs-synth wrote); student=text (default) or frames.
std::unique_ptr<plugin::Teacher> MakeTeacher(const std::vector<std::string>& opts);

// The turn texts for one clip (exposed for tests). `truth` is one truth.jsonl record.
std::string TeacherTurn1(const nlohmann::ordered_json& truth, const std::vector<std::string>& candidates,
                         Student student = Student::kText);
std::string TeacherTurn2(const nlohmann::ordered_json& truth, const std::vector<std::string>& candidates);

}  // namespace vstar::synth
