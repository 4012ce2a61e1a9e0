// vs-decode: decodes and samples each record's video into the frame cache and adds `frames`.
#include <filesystem>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "io/cli.hpp"
#include "io/log.hpp"
#include "io/main.hpp"
#include "io/record.hpp"
#include "io/stream.hpp"
#include "video/stage.hpp"

int main(int argc, char** argv) {
  using namespace vstar;
  CLI::App app{
      "Decode and sample video frames (the Qwen2.5-VL rule by default) into the frame cache.\n"
      "Reads manifest records {\"id\",\"video\",...} from stdin/-i, or takes video paths as "
      "arguments."};
  io::SetupApp(app, "vs-decode");
  io::StreamOptions stream;
  stream.threads = video::DefaultClipThreads();
  stream.Register(app);
  video::DecodeOptions options;
  options.Register(app);
  std::vector<std::string> videos;
  app.add_option("videos", videos, "Video files (id = file stem); when given, stdin is not read");
  return io::Main(app, argc, argv, [&] {
    video::DecodeStage stage(options, stream.threads);
    auto fn = [&](std::span<io::Record*> batch) {
      for (io::Record* r : batch) stage.Process(*r);
    };
    int rc;
    if (!videos.empty()) {
      std::vector<std::string> objects;
      for (const auto& v : videos) {
        io::Json o = io::Json::object();
        o["id"] = std::filesystem::path(v).stem().string();
        o["video"] = v;
        objects.push_back(io::Dump(o));
      }
      rc = io::RunStreamOver(std::move(objects), stream, "vs-decode", 1, fn);
    } else {
      rc = io::RunStream(stream, "vs-decode", 1, fn);
    }
    log::Info(stage.decoded(), " clips decoded, ", stage.cache_hits(), " from the cache");
    if (stage.decoded() > 0) log::Info("stages (thread-seconds): ", stage.TimesSummary());
    return rc;
  });
}
