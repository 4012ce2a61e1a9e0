#pragma once
// The two-turn tool-augmented policy (design.md §1, official-video-star.md §2-§3): turn 1 asks the
// policy which tools it wants, only the chosen tools run (or their upstream output is reused), and
// turn 2 answers with their output in front of the model. vs-policy --profile runs this.
//
// Where each tool's output comes from (reported per record in policy.tools.<name>.source):
//   detect   the record's `detect` key ("record"), else the --detector plugin in process ("ran")
//   pose     the record's `pose` key, else the --pose-plugin in process; without either the tool is
//            "unavailable" (it is never faked: turn 2 then gets no pose overlay and no pose note)
//   explain  explanations carried by the --candidates file ("candidates"), else the --explainer
//            plugin over the class names, once per process ("ran")
//   describe the record's `explain.video` paragraph, else the --describer plugin over the frames
// What turn 2 shows follows the profile: `selected` frames are the overlay the decisions pick
// (pose+detect: boxes and skeletons, pose: skeletons only, detect: boxes only, none: the original
// frames, as the authors' get_video_path); `original` frames are always the original video.
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "io/record.hpp"
#include "model/chat_template.hpp"
#include "policy/engine.hpp"
#include "recog/classlist.hpp"
#include "recog/profile.hpp"
#include "recog/prompt.hpp"
#include "tools/options.hpp"

namespace CLI {
class App;
}

namespace vstar::plugin {
class Explainer;
class Describer;
}  // namespace vstar::plugin

namespace vstar::tools {
class DetectStage;
class PoseStage;
}  // namespace vstar::tools

namespace vstar::policy {

struct TwoTurnOptions {
  recog::ProfileOptions profile;           // --profile (empty = single-turn --template mode), --templates
  std::string candidates;                  // --candidates FILE
  std::string tools = "dynamic";           // --tools dynamic|all|none
  std::vector<std::string> plugin_path;    // --plugin-path
  tools::PluginOptions detector;           // --detector (hog), --detector-model, --detector-opt
  std::string pose_plugin;                 // --pose-plugin (none by default: pose needs a model)
  std::string pose_model;                  // --pose-model
  std::vector<std::string> pose_opts;      // --pose-opt
  std::string explainer = "local";         // --explainer
  std::vector<std::string> explainer_opts; // --explainer-opt
  std::string describer;                   // --describer (none by default)
  std::string describer_model;             // --describer-model
  std::vector<std::string> describer_opts; // --describer-opt
  int describe_frames = 8;                 // --describe-frames
  bool keep_prompts = false;               // --keep-prompts: policy.turn{1,2}.prompt

  TwoTurnOptions();
  void Register(CLI::App& app);
  bool enabled() const { return !profile.profile.empty(); }
};

// Candidate lists as --candidates accepts them: plain names, "name: explanation" lines,
// "name<TAB>explanation" lines, the authors' JSON dicts, JSON arrays, and vs-explain --what classes
// output (JSONL records with "class" and "explain.text"). `explained` is set when any candidate
// carries an explanation. Throws std::runtime_error naming the file.
struct Candidates {
  recog::ClassList list;
  bool explained = false;
  std::string source;  // "file" or "vs-explain"
};
Candidates ParseCandidates(const std::string& text, const std::string& where);
Candidates LoadCandidates(const std::string& file);

// One conversation the responder answers: chat messages whose video items are filled, in order, by
// `videos` (frame-list objects as vs-decode writes them: paths + sample_fps).
struct Turn {
  std::vector<model::ChatMessage> messages;
  std::vector<io::Json> videos;
};

// Answers turns: the policy engine in vs-policy, a scripted responder in tests.
class Responder {
 public:
  virtual ~Responder() = default;
  virtual std::vector<Response> Respond(const std::vector<Turn>& turns, const recog::Sampling& sampling) = 0;
};

// The policy engine as a responder: each turn's sampling is the profile's, except for the settings
// given on the command line (names in `given`, e.g. "max_new_tokens"), which take PolicyOptions' value.
class EngineResponder : public Responder {
 public:
  EngineResponder(const PolicyEngine& engine, std::vector<std::string> given)
      : engine_(engine), given_(std::move(given)) {}
  std::vector<Response> Respond(const std::vector<Turn>& turns, const recog::Sampling& sampling) override;
  model::SamplingOptions Effective(const recog::Sampling& sampling) const;

 private:
  const PolicyEngine& engine_;
  std::vector<std::string> given_;
};

// The user text of a turn (the text items of its last user message, joined): what tests scan for leaks.
std::string UserText(const Turn& turn);

// Runs (or reuses) the tools for one record. Plugins are loaded on first use, so a mode that never
// needs a tool never loads it. Thread-safe.
class ToolRunner {
 public:
  ToolRunner(const TwoTurnOptions& options, std::string device);
  ~ToolRunner();

  struct Result {
    io::Json report = io::Json::object();  // {"chosen","used","source",...}
    bool used = false;
  };
  // Make sure the record carries the tool's output (detect/pose keys are written as the vs-detect /
  // vs-pose stages write them).
  Result Detect(io::Record& record);
  Result Pose(io::Record& record);
  // Explanations by candidate name.
  Result Explain(const Candidates& candidates, std::map<std::string, std::string>* out);
  Result Describe(const io::Record& record, std::string* out);

 private:
  TwoTurnOptions opt_;
  std::string device_;
  std::mutex mu_;
  std::unique_ptr<tools::DetectStage> detect_;
  std::unique_ptr<tools::PoseStage> pose_;
  std::unique_ptr<plugin::Explainer> explainer_;
  std::unique_ptr<plugin::Describer> describer_;
  std::optional<std::map<std::string, std::string>> explanations_;
  io::Json explain_report_;
};

// The overlay frames turn 2 shows for the delivered visual tools: the record's frames object with
// `paths` replaced (reusing overlays the detect/pose keys already list, drawing them otherwise).
// `variant` reports which overlay ("pose", "po", "bound" or "original").
io::Json OverlayFrames(const io::Record& record, bool pose, bool detect, std::string* variant);

class TwoTurnPolicy {
 public:
  TwoTurnPolicy(Responder& responder, recog::Profile profile, Candidates candidates, recog::ToolMode mode,
                ToolRunner& tools, bool keep_prompts = false);
  // Sets `policy` on each record (or an error naming the cause).
  void Run(std::span<io::Record*> batch);

  const recog::Profile& profile() const { return profile_; }
  const Candidates& candidates() const { return candidates_; }
  // Turn 1 messages for a record (the video = the record's frames).
  Turn BuildTurn1(const io::Record& record) const;

 private:
  Responder& responder_;
  recog::Profile profile_;
  Candidates candidates_;
  recog::ToolMode mode_;
  ToolRunner& tools_;
  bool keep_prompts_;
};

}  // namespace vstar::policy
