// vs-pose: adds `pose` (people with 17 COCO keypoints per frame) to records carrying `frames`.
#include <CLI/CLI.hpp>

#include "io/cli.hpp"
#include "io/log.hpp"
#include "io/stream.hpp"
#include "tools/options.hpp"
#include "tools/plugins.hpp"
#include "tools/stage.hpp"

int main(int argc, char** argv) {
  using namespace vstar;
  CLI::App app{"Estimate 17-keypoint human pose in each record's frames with a pose plugin."};
  io::SetupApp(app, "vs-pose");
  io::StreamOptions stream;
  stream.Register(app);
  tools::PoseStageOptions options;
  options.Register(app);
  VSTAR_PARSE(app, argc, argv);

  std::unique_ptr<tools::PoseStage> stage;
  try {
    stage = std::make_unique<tools::PoseStage>(options, stream.device);
  } catch (const std::invalid_argument& e) {
    log::Error(e.what());
    return io::kExitUsage;
  } catch (const std::exception& e) {
    log::Error(e.what());
    return io::kExitFatal;
  }
  return io::RunStream(stream, "vs-pose", 1, [&](std::span<io::Record*> batch) {
    for (io::Record* r : batch) stage->Process(*r);
  });
}
