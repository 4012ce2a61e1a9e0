// vs-reward: adds "reward" to each record, scoring its turn-2 completion(s) (man vs-reward).
#include <CLI/CLI.hpp>

#include "io/cli.hpp"
#include "io/main.hpp"
#include "io/stream.hpp"
#include "reward/stage.hpp"

int main(int argc, char** argv) {
  using namespace vstar;
  CLI::App app{
      "Score turn-2 completions: R_acc, R_format, R_tool, R_sub (paper or official variant)"};
  io::SetupApp(app, "vs-reward");
  io::StreamOptions stream;
  stream.Register(app);
  reward::RewardOptions opt;
  opt.Register(app);
  return io::Main(app, argc, argv, [&] {
    reward::RewardStage stage(opt);
    return io::RunStream(stream, "vs-reward", [&](io::Record& r) { stage.Score(r); });
  });
}
