#pragma once
// The two text tools of the method (explain the action classes, describe a clip), loaded and fed the
// same way for vs-explain (a record stage) and for vs-policy's tool runner.
// vs-explain --what classes: a class list in, one record per class out, each with its explanation
//                            (the candidate list vs-policy reads).
// vs-explain --what video:   records with `frames` in, `explain.video` added from N frames spread
//                            evenly over the whole clip.
// Output keys are documented in vs-explain(1).
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <vstar/plugin.h>

#include "io/record.hpp"
#include "io/stream.hpp"
#include "net/client.hpp"
#include "recog/classlist.hpp"

namespace CLI {
class App;
}

namespace vstar::tools {

// Which text plugin runs and how it is configured.
struct TextToolSpec {
  std::string plugin;
  std::string model;                         // plugin::Config::model
  std::vector<std::string> plugin_paths;     // extra plugin directories
  std::vector<std::string> plugin_opts;      // --plugin-opt key=value; undeclared keys are refused
  std::map<std::string, std::string> values; // defaults under the --plugin-opt values (client flags)
};

// Loads the plugin as an explainer / describer. `report` gets {"plugin", "version"}. Throws
// std::invalid_argument for an undeclared or malformed option (a usage error), PluginError otherwise.
std::unique_ptr<plugin::Explainer> LoadExplainer(const TextToolSpec& spec, io::Json* report);
std::unique_ptr<plugin::Describer> LoadDescriber(const TextToolSpec& spec, io::Json* report);

// What an explainer is asked for a candidate: "name: explanation", or the name alone
// (plugin::SplitClassEntry splits it again on the plugin side).
std::string ExplainerEntry(const recog::Candidate& candidate);

// The frames a describer sees: `count` of `frames.paths` (a vs-decode frames object) spread evenly over
// the clip (video::EvenFrameIndices), decoded. `chosen` lists their frame indices (frames.indices when
// the object has them, else positions). No frames object: nothing chosen. Throws plugin::Error for
// an unreadable frame.
struct DescribeFrames {
  std::vector<plugin::Image> images;     // views into `storage`
  io::Json chosen = io::Json::array();
  std::shared_ptr<const void> storage;  // the decoded frames
};
DescribeFrames FramesToDescribe(const io::Json& frames, size_t count);

struct ExplainOptions {
  std::string what = "classes";              // --what classes|video
  std::string classes;                       // --classes FILE (class list for --what classes)
  std::string plugin;                        // --plugin (default: local for classes; required for video)
  std::vector<std::string> plugin_paths;     // --plugin-path
  std::vector<std::string> plugin_opts;      // --plugin-opt key=value
  std::string model;                         // --model (plugin::Config::model)
  int num_frames = 8;                        // --num-frames
  std::vector<std::string> video_keys = {"path", "video", "id"};  // --video-key
  net::ClientOptions client;                 // --endpoint, --api-model, --jobs, ... (openai plugin)

  void Register(CLI::App& app);
};

// Runs vs-explain; returns the process exit code (io::ExitCode). Throws io::UsageError (or
// std::invalid_argument) for unusable options and other exceptions for fatal errors (io::Main maps both).
int RunExplain(const ExplainOptions& opt, const io::StreamOptions& stream);

}  // namespace vstar::tools
