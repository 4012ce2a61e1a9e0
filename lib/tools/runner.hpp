#pragma once
// Runs (or reuses) the tools a policy chose for one record: what vs-policy's two-turn mode (and any
// later caller of the turn loop) uses between turn 1 and turn 2.
//
// Where each tool's output comes from (reported as ToolUse::details.source):
//   detect   the record's `detect` key ("record"), else the detector plugin in process ("ran"; the
//            `detect` key is then written as vs-detect writes it)
//   pose     the record's `pose` key, else the pose plugin in process; without either the tool is
//            "unavailable" (it is never faked)
//   explain  explanations carried by the candidate list ("candidates"), else the explainer plugin over
//            the class names, once per process ("ran"); only classes it really knows count
//   describe the record's `explain.video` paragraph, else the describer plugin over the frames
// Plugins are loaded on first use, so a run that never needs a tool never loads it. Thread-safe.
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "io/record.hpp"
#include "recog/classlist.hpp"
#include "recog/policy_record.hpp"
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

struct ToolRunnerOptions {
  std::vector<std::string> plugin_path;    // --plugin-path
  PluginOptions detector;                  // --detector (hog), --detector-model, --detector-opt
  std::string pose_plugin;                 // --pose-plugin (none by default: pose needs a model)
  std::string pose_model;                  // --pose-model
  std::vector<std::string> pose_opts;      // --pose-opt
  std::string explainer = "local";         // --explainer
  std::vector<std::string> explainer_opts; // --explainer-opt
  std::string describer;                   // --describer (none by default)
  std::string describer_model;             // --describer-model
  std::vector<std::string> describer_opts; // --describer-opt
  int describe_frames = 8;                 // --describe-frames

  ToolRunnerOptions();  // the detector defaults to hog for library users too
  void Register(CLI::App& app);
};

// What the chosen tools delivered to turn 2.
struct ToolOutputs {
  recog::ToolChoice delivered;  // the choice with each tool's `use` set to whether it really delivered
  std::vector<std::pair<std::string, recog::ToolUse>> report;  // per tool, in the profile's order
  std::map<std::string, std::string> explanations;             // candidate name -> explanation
  std::string description;                                      // the clip paragraph
};

class ToolRunner {
 public:
  ToolRunner(const ToolRunnerOptions& options, std::string device);
  ~ToolRunner();

  struct Result {
    io::Json report = io::Json::object();  // {"source", "plugin", "reason", ...}
    bool used = false;
  };
  // Make sure the record carries the tool's output (detect/pose keys are written as the vs-detect /
  // vs-pose stages write them).
  Result Detect(io::Record& record);
  Result Pose(io::Record& record);
  // Explanations by candidate name.
  Result Explain(const recog::ClassList& candidates, std::map<std::string, std::string>* out);
  Result Describe(const io::Record& record, std::string* out);

  // Runs the tools `choice` turns on for one record: detection first, so a top-down pose plugin run
  // in process finds the boxes in the record, then the others in the profile's order.
  ToolOutputs RunChosen(const recog::Profile& profile, const recog::ToolChoice& choice, io::Record& record,
                        const recog::ClassList& candidates);

 private:
  ToolRunnerOptions opt_;
  std::string device_;
  std::mutex mu_;
  std::unique_ptr<DetectStage> detect_;
  std::unique_ptr<PoseStage> pose_;
  std::unique_ptr<plugin::Explainer> explainer_;
  std::unique_ptr<plugin::Describer> describer_;
  io::Json plugin_;  // the explainer's {"plugin", "version"}
  // Per candidate list (its names, one per line): explanations by name and the report, computed once.
  std::map<std::string, std::pair<std::map<std::string, std::string>, io::Json>> explained_;
};

}  // namespace vstar::tools
