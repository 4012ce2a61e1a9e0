// vs-sft: supervised fine-tuning of a Qwen2.5-VL checkpoint on SFT records (conversations with
// videos; see vs-sft(1)). Bad records go to stdout as error records; metrics, logs and progress go
// to stderr (or --metrics); the model goes to --output.
#include <iostream>

#include <CLI/CLI.hpp>

#include "io/cli.hpp"
#include "io/log.hpp"
#include "io/main.hpp"
#include "model/heap.hpp"
#include "train/sft.hpp"

int main(int argc, char** argv) {
  using namespace vstar;
  CLI::App app{"Supervised fine-tuning of Qwen2.5-VL on two-turn reasoning chains (LibTorch)"};
  io::SetupApp(app, "vs-sft");
  train::SftOptions opt;
  opt.Register(app);
  return io::Main(app, argc, argv, [&] {
    model::RetainFreedMemory();
    opt.resume = app.count("--resume") > 0;
    log::SetLevel(log::ParseLevel(opt.log_level));
    auto r = train::RunSft(opt, std::cout);
    if (opt.dry_run) return r.exit_code;
    log::Info("done: ", r.records, " records, ", r.errors, " with errors, ", r.dropped,
              " dropped, ", r.truncated, " truncated; ", r.steps_run, " steps");
    return r.exit_code;
  });
}
