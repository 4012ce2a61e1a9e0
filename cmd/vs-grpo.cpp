// vs-grpo: GRPO of a Qwen2.5-VL checkpoint with the two-turn tool-augmented policy (see
// vs-grpo(1)): prompt records in, the trained model in --output; metrics, logs and progress on
// stderr (or --metrics).
#include <CLI/CLI.hpp>

#include "io/cli.hpp"
#include "io/log.hpp"
#include "io/main.hpp"
#include "model/heap.hpp"
#include "train/grpo.hpp"

int main(int argc, char** argv) {
  using namespace vstar;
  CLI::App app{"Tool-augmented GRPO of Qwen2.5-VL with the hierarchical reward (LibTorch)"};
  io::SetupApp(app, "vs-grpo");
  train::GrpoOptions opt;
  opt.Register(app);
  return io::Main(app, argc, argv, [&] {
    model::RetainFreedMemory();
    opt.Finish(app);
    log::SetLevel(log::ParseLevel(opt.log_level));
    auto r = train::RunGrpo(opt);
    if (opt.dry_run) return r.exit_code;
    log::Info("done: ", r.records, " prompt records; ", r.steps_run, " steps");
    return r.exit_code;
  });
}
