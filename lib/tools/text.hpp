#pragma once
// vs-explain: the two text tools of the method (design.md §1 step 3), run as a record stage.
// --what classes: a class list in, one record per class out, each with its explanation (the candidate
//                 list vs-policy reads).
// --what video:   records with `frames` in, `explain.video` added from N frames spread evenly over the
//                 whole clip.
// Output keys are documented in vs-explain(1).
#include <cstddef>
#include <string>
#include <vector>

#include "io/stream.hpp"
#include "net/client.hpp"

namespace CLI {
class App;
}

namespace vstar::net {

struct ExplainOptions {
  std::string what = "classes";              // --what classes|video
  std::string classes;                       // --classes FILE (class list for --what classes)
  std::string plugin;                        // --plugin (default: local for classes; required for video)
  std::vector<std::string> plugin_paths;     // --plugin-path
  std::vector<std::string> plugin_opts;      // --plugin-opt key=value
  std::string model;                         // --model (plugin::Config::model)
  int num_frames = 8;                        // --num-frames
  std::vector<std::string> video_keys = {"path", "video", "id"};  // --video-key
  ClientOptions client;                      // --endpoint, --api-model, --jobs, ... (openai plugin)

  void Register(CLI::App& app);
};

// Indices of `count` frames spread evenly over `total` frames: the centre of each of `count` equal
// segments, so the first and last thirds of the clip are both represented. All when count >= total.
std::vector<size_t> EvenFrameIndices(size_t total, size_t count);

// Runs the stage; returns the process exit code (io::ExitCode).
int RunExplain(const ExplainOptions& opt, const io::StreamOptions& stream);

}  // namespace vstar::net
