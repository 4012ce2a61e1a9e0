// vs-reward: adds "reward" to each record, scoring its turn-2 completion(s) (man vs-reward).
#include <CLI/CLI.hpp>

#include "io/cli.hpp"
#include "io/log.hpp"
#include "io/stream.hpp"
#include "reward/stage.hpp"

int main(int argc, char** argv) {
  CLI::App app{"Score turn-2 completions: R_acc, R_format, R_tool, R_sub (paper or official variant)"};
  vstar::io::SetupApp(app, "vs-reward");
  vstar::io::StreamOptions stream;
  stream.Register(app);
  vstar::reward::RewardOptions opt;
  opt.Register(app);
  VSTAR_PARSE(app, argc, argv);
  std::unique_ptr<vstar::reward::RewardStage> stage;
  try {
    stage = std::make_unique<vstar::reward::RewardStage>(opt);
  } catch (const std::exception& e) {
    vstar::log::Error(e.what());
    return vstar::io::kExitUsage;
  }
  return vstar::io::RunStream(stream, "vs-reward", 1, [&](std::span<vstar::io::Record*> batch) {
    for (auto* rec : batch) {
      try {
        stage->Score(*rec);
      } catch (const std::exception& e) {
        rec->set_error("vs-reward", e.what());
      }
    }
  });
}
