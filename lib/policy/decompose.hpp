#pragma once
// vs-decompose: teacher chains as SFT records. For each record a teacher (a plugin of kind `teacher`,
// or a local checkpoint through the policy engine) writes turn 1 (the tool decisions) and turn 2 (the
// [1] sub-motions / [2] candidates / [3] scores chain ending in the answer) knowing the ground truth.
// The student's two turns are built with the very steps vs-policy runs (BuildTurn1, RunTools,
// BuildTurn2 in policy/two_turn.hpp), so the frames and text SFT teaches are those inference shows;
// the teacher sees the same turns plus its instruction (which states the ground truth):
//   - profiles whose directory holds teacher.turn1.txt / teacher.turn2.txt (clean): the student's turn
//     with that instruction appended as a last text item ({LABEL} = the ground truth)
//   - otherwise a teacher profile (official-teacher for the official profiles: the authors' teacher
//     templates, {original_answer} = the record's solution) renders the teacher's turns in full.
// Every chain is verified before it is written (VerifyTurn1, VerifyTurn2, PromptLeak); a failed one is
// asked again with another seed (--retries) and finally becomes an error record with the reason.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include <vstar/plugin.h>

#include "io/record.hpp"
#include "policy/two_turn.hpp"
#include "recog/classlist.hpp"
#include "recog/profile.hpp"

namespace CLI {
class App;
}

namespace vstar::policy {

struct DecomposeOptions {
  recog::ProfileOptions profile;    // --profile (the student's, default clean), --templates
  std::string teacher_profile;      // --teacher-profile: full teacher templates (default: see above)
  std::string candidates;           // --candidates FILE (a record's own "candidates" wins)
  std::string tools = "dynamic";    // --tools dynamic|all|none
  tools::ToolRunnerOptions runner;  // --detector, --pose-plugin, --explainer, --describer, ...
  std::string teacher;              // --teacher: a teacher plugin's name, or "policy"
  std::string teacher_model;        // --teacher-model: the plugin's model name, or policy's checkpoint
  std::vector<std::string> teacher_opts;  // --teacher-opt key=value
  int retries = 2;                  // --retries: further attempts per turn, each with another seed
  uint64_t seed = 0;                // --seed: attempt k of a record asks with seed + k
  size_t batch = 8;                 // --batch: records whose teacher requests go together
  bool leak_check = true;           // off with --allow-label-in-prompt
  std::string chain = "full";       // --chain full|answer: what of a verified turn 2 is written
  double alias_labels = 0;  // --alias-labels P: the fraction of records whose labels are renamed

  void Register(CLI::App& app);
};

// What the teacher is told besides the student's turns.
struct TeacherPrompts {
  std::string note1, note2;              // appended instructions (profiles with teacher.turn*.txt)
  std::optional<recog::Profile> profile;  // or the teacher's own profile
};
// The teacher prompts for `student` (see the header comment). Throws when there are none.
TeacherPrompts LoadTeacherPrompts(const recog::Profile& student, const std::string& teacher_profile,
                                  const std::string& templates);

// The ground truth of a record: its "label", else the label inside "solution". Empty when neither.
std::string GroundTruth(const io::Record& record);

// Verification; each returns the reason a text is refused, or "" when it is accepted.
// Turn 1: every decision tag of the profile is answered yes or no.
std::string VerifyTurn1(const recog::Profile& profile, const std::string& text);
// Turn 2: sections [1], [2], [3] in this order, each with at least one "- Name: text" bullet line, and
// an answer (read with the profile's rule) that maps onto `truth` in the candidate list.
std::string VerifyTurn2(const recog::Profile& profile, const recog::ClassList& candidates, const std::string& truth,
                        const std::string& text);
// A verified turn 2 reduced to its answer block (--chain answer).
std::string AnswerOnly(const recog::Profile& profile, const std::string& text);
// The student's prompt names the ground truth outside the candidate list (vs-audit's label-in-prompt
// rule: eval::Mentions over the words of the text with the candidate block removed).
std::string PromptLeak(const std::string& turn1_text, const std::string& turn2_text, const std::string& candidates_block,
                       const std::string& truth);

// A turn as chat messages for a teacher plugin: video items carry the frame files of `turn.videos`.
std::vector<plugin::Message> TeacherMessages(const Turn& turn);
// The SFT record's conversations, in the chat format lib/train/sft_data reads. "messages" holds
// turn 1 and its answer, followed by turn 2 and the chain when the profile's turn 2 continues the
// conversation. A profile whose turn 2 starts a fresh context gets turn 2 as a conversation of its
// own, "turn2_messages", so that training sees each turn in the context inference gives it.
struct SftConversations {
  io::Json messages;
  io::Json turn2_messages;  // null when turn 2 continues the turn-1 conversation
};
SftConversations SftMessages(const recog::Profile& profile, const Turn& turn1,
                             const std::string& answer1, const Turn& turn2,
                             const std::string& answer2);

// The `policy` teacher: a local checkpoint answering through the policy engine (built into
// vs-decompose: plugins cannot link LibTorch). `opts`: dtype=fp32|bf16, fps, video_max_pixels.
std::unique_ptr<plugin::Teacher> MakePolicyTeacher(const std::string& model_dir, const std::vector<std::string>& opts,
                                                   const std::string& device);
// The teacher --teacher names: "policy", "synth" (the synthetic world's ground truth, synth/teacher.hpp),
// else a plugin of kind teacher.
std::unique_ptr<plugin::Teacher> LoadTeacher(const DecomposeOptions& options, const std::string& device);

class Decomposer {
 public:
  Decomposer(plugin::Teacher& teacher, recog::Profile student, TeacherPrompts prompts, recog::ClassList candidates,
             recog::ToolMode mode, tools::ToolRunner& tools, const DecomposeOptions& options);
  // Turns each record into an SFT record ("messages" and a "teacher" report added, other fields kept)
  // or an error record naming the reason.
  void Run(std::span<io::Record*> batch);

 private:
  struct Pending;
  void AskUntilVerified(std::vector<Pending>& pending, bool turn2);

  plugin::Teacher& teacher_;
  recog::Profile student_;
  TeacherPrompts prompts_;
  recog::ClassList candidates_;
  recog::ToolMode mode_;
  tools::ToolRunner& tools_;
  const DecomposeOptions& opt_;
  std::string teacher_name_;
};

}  // namespace vstar::policy
