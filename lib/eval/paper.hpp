#pragma once
// The paper's tables from vs-eval reports (vs-eval --paper, share/vstar/experiments/paper): Table 1
// (base-to-novel: base, novel, HM per dataset), Table 2 (cross-dataset zero-shot: mean ± std over
// the splits), the tool-mode ablation (accuracy and seconds per video for --tools none|all|dynamic)
// and the leak audits, each of our profiles beside the published numbers.
//
// Runs are found by name: "b2n/DATASET/PROFILE" (a run with base and novel files),
// "zs/DATASET/PROFILE" (split files) and "tools/DATASET/PROFILE/MODE" (base and novel files of one
// --tools mode).
#include <filesystem>
#include <string>
#include <vector>

#include "eval/metrics.hpp"

namespace vstar::eval {

// One published number: table (b2n | zs | tools), dataset, method, metric (base, novel, hm, mean,
// std in %, or seconds), value, source.
struct Published {
  std::string table, dataset, method, metric;
  double value = 0;
  std::string source;
};
// Reads a TSV with those six columns; '#' lines and blank lines are skipped. Throws
// std::runtime_error naming the line when a row is malformed.
std::vector<Published> LoadPublished(const std::filesystem::path& tsv);

struct PaperInput {
  Json report;  // merged vs-eval report ({"runs": [...]})
  std::vector<Published> published;
  std::vector<std::pair<std::string, Json>> audits;  // NAME, vs-audit's JSON report
  std::vector<std::string> notes;                    // e.g. the datasets that were skipped
};
// {"table1": [...], "table2": [...], "tools": [...], "audits": [...], "notes": [...], "published":
// [...], "runs": [...]}. Accuracies are fractions in [0, 1] (published percentages divided by 100),
// the strict metric unless the key says "authors". Throws std::runtime_error on a run name of the
// forms above whose files do not fit it (e.g. a b2n run without a novel file).
Json PaperReport(const PaperInput& in);
std::string PaperMarkdown(const Json& paper);
// One picture: Table 1 (base / novel / HM), Table 2 (split mean) and the seconds per video of each
// tool mode, ours beside the published numbers.
void WritePaperPicture(const std::filesystem::path& png, const Json& paper);

}  // namespace vstar::eval
