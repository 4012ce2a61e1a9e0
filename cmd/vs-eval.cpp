// vs-eval: top-1 accuracy (authors' rule and strict candidate mapping), base/novel HM, split
// mean ± std, per-class accuracy, confusion matrices, markdown/JSON reports (man vs-eval).
#include <CLI/CLI.hpp>

#include "eval/stage.hpp"
#include "io/cli.hpp"
#include "io/main.hpp"
#include "io/stream.hpp"

int main(int argc, char** argv) {
  using namespace vstar;
  CLI::App app{
      "Score predictions: accuracy, base/novel HM, split mean ± std, per-class, confusion, "
      "reports"};
  io::SetupApp(app, "vs-eval");
  io::StreamOptions stream;
  stream.Register(app, /*selects_records=*/false);  // reads whole streams: no --shard/--resume
  eval::EvalOptions opt;
  opt.Register(app);
  return io::Main(app, argc, argv, [&] {
    opt.inputs = stream.inputs;
    opt.markdown_out = stream.output;
    return eval::RunEval(opt);
  });
}
