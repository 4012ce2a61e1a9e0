// vs-pose: adds `pose` (people with 17 COCO keypoints per frame) to records carrying `frames`.
#include <CLI/CLI.hpp>

#include "io/cli.hpp"
#include "io/main.hpp"
#include "io/stream.hpp"
#include "tools/options.hpp"
#include "tools/stage.hpp"

int main(int argc, char** argv) {
  using namespace vstar;
  CLI::App app{"Estimate 17-keypoint human pose in each record's frames with a pose plugin."};
  io::SetupApp(app, "vs-pose");
  io::StreamOptions stream;
  stream.Register(app);
  tools::PoseStageOptions options;
  options.Register(app);
  return io::Main(app, argc, argv, [&] {
    tools::PoseStage stage(options, stream.device);
    return io::RunStream(stream, "vs-pose", [&](io::Record& r) { stage.Process(r); });
  });
}
