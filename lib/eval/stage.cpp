#include "eval/stage.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <sstream>

#include "eval/paper.hpp"
#include "eval/plot.hpp"
#include "eval/report.hpp"
#include "io/cache.hpp"
#include "io/log.hpp"
#include "io/stream.hpp"
#include "io/text.hpp"

namespace vstar::eval {
namespace fs = std::filesystem;

void EvalOptions::Register(CLI::App& app) {
  app.add_option("files", files,
                 "Prediction files (JSONL records or the authors' JSON arrays), scored one by one");
  app.add_option("--base", base, "Base-half prediction file(s) of a base-to-novel evaluation");
  app.add_option("--novel", novel, "Novel-half prediction file(s) of a base-to-novel evaluation");
  app.add_option("--split", splits, "Split files (e.g. three cross-dataset splits): mean ± std");
  app.add_option("--split-classes", split_classes,
                 "Candidate list of each --split file, in the same order (default --classes)");
  app.add_option("--classes", classes,
                 "Candidate list for every file without its own (--base-/--novel-classes)");
  app.add_option("--base-classes", base_classes, "Candidate list of the base half");
  app.add_option("--novel-classes", novel_classes, "Candidate list of the novel half");
  app.add_option("--name", name, "Run name in the tables (default: run)");
  app.add_option("--json", json_out, "Write the JSON report here");
  app.add_option("--confusion", confusion, "Write confusion matrices as PREFIX[-N].png and .svg");
  app.add_option("--merge", merge,
                 "Earlier JSON reports to merge with this run into one ablation table");
  app.add_option("--bars", bars,
                 "Write the strict base / novel / HM accuracy of every run in the report as a bar "
                 "chart (PNG)");
  app.add_option("--summary", summary,
                 "Write one picture (PNG): the accuracy bars, the --curve training curves and, "
                 "with --confusion, "
                 "this run's confusion matrices");
  app.add_option("--curve", curves,
                 "NAME=FILE: a vs-grpo metrics file whose mean reward and turn-1 tool-call rate "
                 "per step go into "
                 "--summary (repeatable)");
  app.add_option("--std", std_kind,
                 "Standard deviation over splits: sample (n-1, default) or population")
      ->check(CLI::IsMember({"sample", "population"}));
  app.add_option("--answer-rule", answer_rule,
                 "Answer extraction for the strict metric: clean (default) or "
                 "train|eval|score")
      ->check(CLI::IsMember({"clean", "train", "eval", "score"}));
  app.add_flag("!--no-per-class", per_class, "Leave the per-class tables out of the markdown");
  auto* paper_opt =
      app.add_option("--paper", paper,
                     "Published numbers (TSV: table, dataset, method, metric, value, source): "
                     "write the paper's tables from runs named b2n|zs/DATASET/PROFILE and "
                     "tools/DATASET/PROFILE/MODE")
          ->check(CLI::ExistingFile);
  app.add_option("--audit", audits,
                 "NAME=FILE: a vs-audit JSON report shown in the --paper report (repeatable)")
      ->needs(paper_opt);
  app.add_option("--note", notes, "A line for the --paper report's notes (repeatable)")
      ->needs(paper_opt);
}

namespace {

void WriteText(const std::string& path, const std::string& text) {
  if (path == "-") {
    std::cout << text << std::flush;
    return;
  }
  io::WriteFileAtomic(path, text);
}

// The strict base / novel / HM of every run (a run without a half has no bar for it).
BarChart AccuracyBars(const Json& report) {
  BarChart c;
  c.title = "strict accuracy per run (base-to-novel: each half with its own candidates)";
  c.series = {"base", "novel", "HM"};
  for (const auto& run : report["runs"]) {
    const Json& m = run["summary"]["strict"];
    c.groups.push_back(run.value("name", std::string("run")));
    std::vector<double> v;
    for (const char* k : {"base", "novel", "hm"})
      v.push_back(m.contains(k) && m[k].is_number() ? m[k].get<double>() : std::nan(""));
    c.values.push_back(v);
  }
  return c;
}

// --curve NAME=FILE: the mean reward and each tool's turn-1 call rate per step of a vs-grpo metrics
// file.
std::vector<Chart> TrainingCurves(const std::vector<std::string>& specs) {
  Chart reward{"mean reward during GRPO", "step", {}},
      rate{"turn-1 tool-call rate during GRPO", "step", {}};
  std::vector<std::map<std::string, Series>> per_run;
  for (const auto& spec : specs) {
    const size_t eq = spec.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size())
      throw std::invalid_argument("--curve wants NAME=FILE, not '" + spec + "'");
    const std::string name = spec.substr(0, eq), file = spec.substr(eq + 1);
    Series r{name, {}, {}};
    std::map<std::string, Series> tools;
    std::istringstream in(io::ReadFile(file, "metrics file"));
    size_t n = 0;
    for (std::string line; std::getline(in, line);) {
      ++n;
      if (io::Trim(line).empty()) continue;
      Json j = Json::parse(line, nullptr, false);
      if (j.is_discarded() || !j.is_object() || !j.contains("step") || !j["step"].is_number())
        throw std::runtime_error(file + ":" + std::to_string(n) +
                                 ": not a vs-grpo metrics line (no \"step\")");
      if (!j.contains("tool_rate")) continue;  // vs-sft lines, or other keys
      const double step = j["step"].get<double>();
      if (j.contains("reward") && j["reward"].is_number()) {
        r.x.push_back(step);
        r.y.push_back(j["reward"].get<double>());
      }
      for (const auto& [tool, v] : j["tool_rate"].items()) {
        if (!v.is_number()) continue;
        auto& s = tools[tool];
        s.name = name + ": " + tool;
        s.x.push_back(step);
        s.y.push_back(v.get<double>());
      }
    }
    if (r.x.empty())
      throw std::runtime_error(file +
                               ": no vs-grpo step lines (with \"reward\" and \"tool_rate\")");
    reward.series.push_back(std::move(r));
    per_run.push_back(std::move(tools));
  }
  if (reward.series.empty()) return {};
  // A tool some run called is drawn for every run, so a run that never calls it shows as a line at
  // 0 (the policy without an SFT cold start); tools no run ever called are left out.
  std::set<std::string> called;
  for (const auto& tools : per_run)
    for (const auto& [tool, s] : tools)
      if (std::any_of(s.y.begin(), s.y.end(), [](double v) { return v > 0; })) called.insert(tool);
  for (auto& tools : per_run)
    for (auto& [tool, s] : tools)
      if (called.count(tool)) rate.series.push_back(std::move(s));
  return {reward, rate};
}

}  // namespace

// Usage errors (bad --answer-rule, nothing to evaluate) throw std::invalid_argument, others
// std::exception: io::Main turns them into exit codes 2 and 1.
int RunEval(const EvalOptions& opt) {
  auto rule = recog::ParseAnswerRule(opt.answer_rule);
  auto load = [](const std::string& p) -> std::unique_ptr<recog::ClassList> {
    if (p.empty()) return nullptr;
    return std::make_unique<recog::ClassList>(recog::LoadClassList(p));
  };
  auto common = load(opt.classes);
  auto base_cl = load(opt.base_classes.empty() ? opt.classes : opt.base_classes);
  auto novel_cl = load(opt.novel_classes.empty() ? opt.classes : opt.novel_classes);
  Run run;
  run.name = opt.name;
  auto add = [&](const std::vector<std::string>& list, const std::string& group,
                 const recog::ClassList* cl) {
    for (const auto& f : list)
      run.files.push_back(Score(LoadPredictions(f), cl, f == "-" ? "<stdin>" : f, group, rule));
  };
  add(opt.base, "base", base_cl.get());
  add(opt.novel, "novel", novel_cl.get());
  if (opt.split_classes.empty()) {
    add(opt.splits, "split", common.get());
  } else {
    if (opt.split_classes.size() != opt.splits.size())
      throw std::invalid_argument("--split-classes wants one list per --split file (" +
                                  std::to_string(opt.splits.size()) + "), not " +
                                  std::to_string(opt.split_classes.size()));
    for (size_t i = 0; i < opt.splits.size(); ++i)
      add({opt.splits[i]}, "split", load(opt.split_classes[i]).get());
  }
  std::vector<std::string> plain = opt.files;
  plain.insert(plain.end(), opt.inputs.begin(), opt.inputs.end());
  if (plain.empty() && opt.base.empty() && opt.novel.empty() && opt.splits.empty() &&
      opt.merge.empty())
    plain.push_back("-");  // a pipeline: records on stdin
  add(plain, "file", common.get());
  std::vector<Json> reports;
  for (const auto& m : opt.merge) reports.push_back(Json::parse(io::ReadFile(m, "report")));
  if (!run.files.empty()) reports.push_back(RunJson(run, opt.std_kind == "sample"));
  if (reports.empty())
    throw std::invalid_argument("nothing to evaluate: give prediction files or --merge reports");
  Json report = MergeReports(reports);
  if (!opt.paper.empty()) {
    PaperInput in{report, LoadPublished(opt.paper), {}, opt.notes};
    for (const auto& spec : opt.audits) {
      const size_t eq = spec.find('=');
      if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size())
        throw std::invalid_argument("--audit wants NAME=FILE, not '" + spec + "'");
      in.audits.emplace_back(spec.substr(0, eq),
                             Json::parse(io::ReadFile(spec.substr(eq + 1), "audit report")));
    }
    const Json paper = PaperReport(in);
    if (!opt.json_out.empty()) WriteText(opt.json_out, paper.dump(1) + "\n");
    if (!opt.bars.empty()) WritePaperPicture(opt.bars, paper);
    if (!opt.markdown_out.empty() && opt.markdown_out != "/dev/null")
      WriteText(opt.markdown_out, PaperMarkdown(paper));
    return io::kExitOk;
  }
  if (!opt.json_out.empty()) WriteText(opt.json_out, report.dump(1) + "\n");
  std::vector<fs::path> confusions;
  if (!opt.confusion.empty()) {
    size_t k = 0;
    for (const auto& f : run.files) {
      if (!f.has_candidates) continue;
      std::string stem = opt.confusion + (run.files.size() > 1 ? "-" + std::to_string(++k) : "");
      WriteConfusionPng(f, stem + ".png");
      io::WriteFileAtomic(stem + ".svg", ConfusionSvg(f));
      confusions.push_back(stem + ".png");
    }
  }
  if (!opt.bars.empty()) WriteBarChart(opt.bars, AccuracyBars(report));
  if (!opt.summary.empty())
    WriteSummary(opt.summary, AccuracyBars(report), TrainingCurves(opt.curves), confusions);
  if (!opt.markdown_out.empty() && opt.markdown_out != "/dev/null")
    WriteText(opt.markdown_out, Markdown(report, opt.per_class));
  return io::kExitOk;
}

}  // namespace vstar::eval
