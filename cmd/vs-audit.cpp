// vs-audit: label leakage and protocol faults in datasets and prompts; JSON report on stdout
// (man vs-audit).
#include <CLI/CLI.hpp>

#include "eval/audit.hpp"
#include "io/cli.hpp"
#include "io/main.hpp"
#include "io/stream.hpp"

int main(int argc, char** argv) {
  using namespace vstar;
  CLI::App app{
      "Find label leaks, train/test overlap, labels outside the candidates and swapped labels"};
  io::SetupApp(app, "vs-audit");
  io::StreamOptions stream;
  stream.Register(app, /*selects_records=*/false);  // reads whole streams: no --shard/--resume
  eval::AuditOptions opt;
  opt.Register(app);
  return io::Main(app, argc, argv, [&] { return eval::RunAudit(opt, stream); });
}
