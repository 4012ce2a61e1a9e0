#pragma once
// vs-eval's options and driver (man vs-eval).
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace vstar::eval {

struct EvalOptions {
  std::vector<std::string> files;          // positional: scored one by one (group "file")
  std::vector<std::string> base, novel;    // --base / --novel: base-to-novel halves (HM)
  std::vector<std::string> splits;         // --split: split files (mean ± std)
  std::vector<std::string> split_classes;  // --split-classes: one list per --split file, in order
  std::string classes, base_classes, novel_classes;
  std::string name = "run";
  std::vector<std::string> inputs;  // -i/--input (StreamOptions): scored like positional files
  std::string json_out, markdown_out = "-", confusion;  // markdown_out = -o/--output
  std::vector<std::string> merge;   // --merge: earlier JSON reports, merged into one table
  std::string bars, summary;        // --bars PNG, --summary PNG
  std::vector<std::string> curves;  // --curve NAME=METRICS.jsonl (vs-grpo's per-step lines)
  std::string std_kind = "sample";
  std::string answer_rule = "clean";
  bool per_class = true;
  // --paper TSV: the published numbers; the report becomes the paper's tables (eval/paper.hpp),
  // with
  // --audit NAME=FILE (vs-audit JSON reports) and --note lines.
  std::string paper;
  std::vector<std::string> audits, notes;
  void Register(CLI::App& app);
};

// Returns the process exit code (0, or 1 on a fatal error, with the message logged).
int RunEval(const EvalOptions& opt);

}  // namespace vstar::eval
