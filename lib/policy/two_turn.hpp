#pragma once
// The two-turn tool-augmented policy of Video-STAR: turn 1 asks the policy which tools it wants, only
// the chosen tools run (or their upstream output is reused, tools/runner.hpp), and turn 2 answers
// with their output in front of the model; the outcome is the record's `policy` key
// (recog/policy_record.hpp). vs-policy runs this by default (profile `clean`).
//
// Each step is a function of its own, usable without the engine (tests answer with a scripted
// Responder; training rollouts call the same steps):
//   BuildTurn1 -> Responder -> RunTools -> BuildTurn2 -> Responder -> MakePolicyRecord
// What turn 2 shows follows the profile: `selected` frames are the overlay the delivered tools pick
// (pose+detect: boxes and skeletons, pose: skeletons only, detect: boxes only, none: the original
// frames, as the authors' get_video_path); `original` frames are always the original video. The
// turn-2 context is `fresh` (a new conversation, the authors' evaluation), `continued` (the turn-1
// text without its video and the turn-1 answer first, the authors' GRPO rollouts) or
// `continued-video` (the turn-1 message with its video kept, so turn 2 carries two videos, the
// authors' SFT samples).
#include <span>
#include <string>
#include <vector>

#include "io/record.hpp"
#include "policy/turn.hpp"
#include "recog/classlist.hpp"
#include "recog/policy_record.hpp"
#include "recog/profile.hpp"
#include "recog/prompt.hpp"
#include "tools/runner.hpp"

namespace CLI {
class App;
}

namespace vstar::policy {

struct TwoTurnOptions {
  recog::ProfileOptions profile;     // --profile (default clean), --templates, --annotated-root
  std::string candidates;            // --candidates FILE (any form recog::LoadClassList reads)
  std::string tools = "dynamic";     // --tools dynamic|all|none
  tools::ToolRunnerOptions runner;   // --detector, --pose-plugin, --explainer, --describer, ...
  bool keep_prompts = false;         // --keep-prompts: policy.turn{1,2}.prompt

  void Register(CLI::App& app);
};

// --candidates as the two-turn mode needs it: required, read by the one class-list reader.
recog::ClassList LoadCandidates(const std::string& file);
// The candidates of one record: its own "candidates" (any form the class-list reader takes as JSON)
// when it has them, else `fallback` (--candidates). Throws when the record's list is malformed.
recog::ClassList RecordCandidates(const io::Record& record, const recog::ClassList& fallback);

// Turn 1 for a record: the profile's system prompt (if any) and one user message with the record's
// frames and the turn-1 text. Throws when the record has no frames.
Turn BuildTurn1(const recog::Profile& profile, const io::Record& record);

// The decisions read from turn 1 and what the chosen tools delivered.
struct ToolStep {
  recog::ToolChoice choice;
  tools::ToolOutputs outputs;
  double seconds = 0;
};
ToolStep RunTools(const recog::Profile& profile, recog::ToolMode mode, const std::string& turn1_text,
                  io::Record& record, const recog::ClassList& candidates, tools::ToolRunner& runner);

// Turn 2 for a record: the context the profile names, the turn-2 text (candidates, notes, the
// description) and the frames of the delivered tools.
struct Turn2 {
  Turn turn;
  std::string prompt;          // the turn-2 user text
  std::string frames_variant;  // "pose" | "po" | "bound" | "original"
};
Turn2 BuildTurn2(const recog::Profile& profile, const io::Record& record, const Turn& turn1,
                 const std::string& turn1_text, const ToolStep& tools, const recog::ClassList& candidates);

// An extracted answer as the candidate list is matched against: the eval rule keeps the <answer>
// tags, the match does not.
std::string Untagged(std::string answer);

// The `policy` record of one record: both turns, the decisions, the tools, and the answer read with the
// profile's rule and mapped onto the candidates (never guessing).
struct TurnTimes {
  double turn1_s = 0, tools_s = 0, turn2_s = 0;
  size_t batch = 1;
};
recog::PolicyRecord MakePolicyRecord(const recog::Profile& profile, recog::ToolMode mode,
                                     const recog::ClassList& candidates, const Response& turn1,
                                     const ToolStep& tools, const Turn2& turn2, const Response& answer,
                                     const TurnTimes& times);

class TwoTurnPolicy {
 public:
  TwoTurnPolicy(Responder& responder, recog::Profile profile, recog::ClassList candidates, recog::ToolMode mode,
                tools::ToolRunner& tools, bool keep_prompts = false);
  // Sets `policy` on each record (or an error naming the cause): turn 1 for the batch, the tools per
  // record, turn 2 for the batch, the records.
  void Run(std::span<io::Record*> batch);

  const recog::Profile& profile() const { return profile_; }
  const recog::ClassList& candidates() const { return candidates_; }

 private:
  struct Pending;  // one record on its way through the turns
  std::vector<Pending> AskTurn1(std::span<io::Record*> batch);
  void RunChosenTools(std::vector<Pending>& pending);
  void AskTurn2(std::vector<Pending>& pending);
  void WriteRecords(std::vector<Pending>& pending, double turn1_s, double turn2_s);

  Responder& responder_;
  recog::Profile profile_;
  recog::ClassList candidates_;
  recog::ToolMode mode_;
  tools::ToolRunner& tools_;
  bool keep_prompts_;
};

}  // namespace vstar::policy
