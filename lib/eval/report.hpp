#pragma once
// Reports of vs-eval: JSON (the source of truth), markdown rendered from it, an ablation table merged
// from several runs' JSON, and confusion matrices as PNG (OpenCV) and SVG.
#include <filesystem>
#include <string>
#include <vector>

#include "eval/metrics.hpp"

namespace vstar::eval {

struct Run {
  std::string name;
  std::vector<FileScore> files;
};

// {"name", "files":[FileScore...], "summary": {"authors": {...}, "strict": {...}}} where each metric
// block has "base", "novel", "hm" (when both groups exist) and "split_mean", "split_std", "splits" (when
// split files exist). Accuracies are fractions in [0, 1].
Json RunJson(const Run& run, bool sample_std);
// Merges runs' JSON (from RunJson or earlier reports, which may hold several runs) into one report.
Json MergeReports(const std::vector<Json>& reports);
// Markdown: the ablation table (one row per run) and, per run, per-file and per-class tables.
std::string Markdown(const Json& report, bool per_class = true);

// Row-normalised confusion heat map with class names; the last column collects unmapped answers.
void WriteConfusionPng(const FileScore& s, const std::filesystem::path& file);
std::string ConfusionSvg(const FileScore& s);

}  // namespace vstar::eval
