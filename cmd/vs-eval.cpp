// vs-eval: top-1 accuracy (authors' rule and strict candidate mapping), base/novel HM, split
// mean ± std, per-class accuracy, confusion matrices, markdown/JSON reports (man vs-eval).
#include <CLI/CLI.hpp>

#include "eval/stage.hpp"
#include "io/cli.hpp"
#include "io/log.hpp"
#include "io/stream.hpp"

int main(int argc, char** argv) {
  CLI::App app{"Score predictions: accuracy, base/novel HM, split mean ± std, per-class, confusion, reports"};
  vstar::io::SetupApp(app, "vs-eval");
  vstar::io::StreamOptions stream;
  stream.Register(app);
  vstar::eval::EvalOptions opt;
  opt.Register(app);
  VSTAR_PARSE(app, argc, argv);
  vstar::log::SetLevel(vstar::log::ParseLevel(stream.log_level));
  opt.inputs = stream.inputs;
  opt.markdown_out = stream.output;
  return vstar::eval::RunEval(opt);
}
