// vs-audit: label leakage and protocol faults in datasets and prompts; JSON report on stdout
// (man vs-audit).
#include <CLI/CLI.hpp>

#include "eval/audit.hpp"
#include "io/cli.hpp"
#include "io/log.hpp"
#include "io/stream.hpp"

int main(int argc, char** argv) {
  CLI::App app{"Find label leaks, train/test overlap, labels outside the candidates and swapped labels"};
  vstar::io::SetupApp(app, "vs-audit");
  vstar::io::StreamOptions stream;
  stream.Register(app);
  vstar::eval::AuditOptions opt;
  opt.Register(app);
  VSTAR_PARSE(app, argc, argv);
  vstar::log::SetLevel(vstar::log::ParseLevel(stream.log_level));
  opt.inputs = stream.inputs;
  opt.output = stream.output;
  return vstar::eval::RunAudit(opt);
}
