// vs-detect: adds `detect` (person boxes per frame) to records carrying `frames`.
#include <CLI/CLI.hpp>

#include "io/cli.hpp"
#include "io/log.hpp"
#include "io/stream.hpp"
#include "tools/options.hpp"
#include "tools/plugins.hpp"
#include "tools/stage.hpp"

int main(int argc, char** argv) {
  using namespace vstar;
  CLI::App app{"Detect people (or other classes) in each record's frames with a detect plugin."};
  io::SetupApp(app, "vs-detect");
  io::StreamOptions stream;
  stream.Register(app);
  tools::VisualOptions options;
  options.Register(app, /*pose=*/false);
  VSTAR_PARSE(app, argc, argv);

  std::unique_ptr<tools::DetectStage> stage;
  try {
    stage = std::make_unique<tools::DetectStage>(options, stream.device);
  } catch (const std::invalid_argument& e) {
    log::Error(e.what());
    return io::kExitUsage;
  } catch (const std::exception& e) {
    log::Error(e.what());
    return io::kExitFatal;
  }
  return io::RunStream(stream, "vs-detect", 1, [&](std::span<io::Record*> batch) {
    for (io::Record* r : batch) stage->Process(*r);
  });
}
