// vs-audit: label leakage and protocol faults in datasets and prompts; JSON report on stdout
// (man vs-audit).
#include <CLI/CLI.hpp>

#include "eval/audit.hpp"
#include "io/cli.hpp"

int main(int argc, char** argv) {
  CLI::App app{"Find label leaks, train/test overlap, labels outside the candidates and swapped labels"};
  vstar::io::SetupApp(app, "vs-audit");
  vstar::eval::AuditOptions opt;
  opt.Register(app);
  VSTAR_PARSE(app, argc, argv);
  return vstar::eval::RunAudit(opt);
}
