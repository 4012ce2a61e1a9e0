// vs-detect: adds `detect` (person boxes per frame) to records carrying `frames`.
#include <CLI/CLI.hpp>

#include "io/cli.hpp"
#include "io/main.hpp"
#include "io/stream.hpp"
#include "tools/options.hpp"
#include "tools/stage.hpp"

int main(int argc, char** argv) {
  using namespace vstar;
  CLI::App app{"Detect people (or other classes) in each record's frames with a detect plugin."};
  io::SetupApp(app, "vs-detect");
  io::StreamOptions stream;
  stream.Register(app);
  tools::VisualOptions options;
  options.Register(app, /*pose=*/false);
  return io::Main(app, argc, argv, [&] {
    tools::DetectStage stage(options, stream.device);
    return io::RunStream(stream, "vs-detect", [&](io::Record& r) { stage.Process(r); });
  });
}
