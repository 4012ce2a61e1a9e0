#include "tools/runner.hpp"

#include <CLI/CLI.hpp>
#include <vstar/plugin.h>

#include "io/log.hpp"
#include "recog/text.hpp"
#include "tools/stage.hpp"
#include "tools/text.hpp"

namespace vstar::tools {
using io::Json;

ToolRunnerOptions::ToolRunnerOptions() { detector.plugin = "hog"; }

void ToolRunnerOptions::Register(CLI::App& app) {
  app.add_option("--plugin-path", plugin_path, "Extra directories searched for tool plugins")->type_name("DIR");
  detector.Register(app, "detector", "hog", "person detector run when a record has no detect key");
  app.add_option("--pose-plugin", pose_plugin,
                 "Pose plugin run when a record has no pose key (none by default: pose needs a model)")
      ->type_name("NAME");
  app.add_option("--pose-model", pose_model, "Model file of --pose-plugin")->type_name("FILE");
  app.add_option("--pose-opt", pose_opts, "KEY=VALUE option of --pose-plugin (repeatable)")->type_name("KEY=VALUE");
  app.add_option("--explainer", explainer,
                 "Explainer plugin for the candidate explanations when --candidates carries none")
      ->capture_default_str();
  app.add_option("--explainer-opt", explainer_opts, "KEY=VALUE option of --explainer (repeatable)")
      ->type_name("KEY=VALUE");
  app.add_option("--describer", describer,
                 "Describer plugin run when a record has no explain.video paragraph (none by default)")
      ->type_name("NAME");
  app.add_option("--describer-model", describer_model, "Model of --describer")->type_name("NAME");
  app.add_option("--describer-opt", describer_opts, "KEY=VALUE option of --describer (repeatable)")
      ->type_name("KEY=VALUE");
  app.add_option("--describe-frames", describe_frames, "Frames handed to --describer, spread over the clip")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
}

ToolRunner::ToolRunner(const ToolRunnerOptions& options, std::string device)
    : opt_(options), device_(std::move(device)) {}

ToolRunner::~ToolRunner() = default;

ToolRunner::Result ToolRunner::Detect(io::Record& record) {
  Result r;
  if (record.get("detect").is_object()) {
    r.report = {{"source", "record"}, {"plugin", record.get("detect").value("plugin", Json(nullptr))}};
    r.used = true;
    return r;
  }
  if (opt_.detector.plugin.empty()) {
    r.report = {{"source", "unavailable"}, {"reason", "the record has no detect key and --detector is empty"}};
    return r;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!detect_) {
      VisualOptions v;
      v.tool = opt_.detector;
      v.plugin_path = opt_.plugin_path;
      v.overlays = {"bound"};
      detect_ = std::make_unique<DetectStage>(v, device_);
    }
  }
  detect_->Process(record);  // the stage serialises plugin calls itself
  r.report = {{"source", "ran"}, {"plugin", detect_->info().name}};
  r.used = true;
  return r;
}

ToolRunner::Result ToolRunner::Pose(io::Record& record) {
  Result r;
  if (record.get("pose").is_object()) {
    r.report = {{"source", "record"}, {"plugin", record.get("pose").value("plugin", Json(nullptr))}};
    r.used = true;
    return r;
  }
  if (opt_.pose_plugin.empty()) {
    r.report = {{"source", "unavailable"},
                {"reason", "the record has no pose key and no --pose-plugin was given; turn 2 shows no skeletons"}};
    return r;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!pose_) {
      PoseStageOptions p;
      p.visual.tool.plugin = opt_.pose_plugin;
      p.visual.tool.model = opt_.pose_model;
      p.visual.tool.plugin_opts = opt_.pose_opts;
      p.visual.plugin_path = opt_.plugin_path;
      p.visual.overlays = {"pose", "po"};
      p.detector = opt_.detector;
      pose_ = std::make_unique<PoseStage>(p, device_);
    }
  }
  pose_->Process(record);
  r.report = {{"source", "ran"}, {"plugin", opt_.pose_plugin}};
  r.used = true;
  return r;
}

ToolRunner::Result ToolRunner::Explain(const recog::ClassList& candidates, std::map<std::string, std::string>* out) {
  Result r;
  if (candidates.explained()) {
    for (const auto& c : candidates.items)
      if (!c.explanation.empty()) (*out)[c.name] = c.explanation;
    r.report = {{"source", "candidates"}};
    r.used = true;
    return r;
  }
  if (opt_.explainer.empty()) {
    r.report = {{"source", "unavailable"}, {"reason", "--candidates carries no explanations and --explainer is empty"}};
    return r;
  }
  std::string list_key;
  for (const auto& c : candidates.items) list_key += c.name + '\n';
  std::lock_guard<std::mutex> lock(mu_);
  auto cached = explained_.find(list_key);
  if (cached == explained_.end()) {
    if (!explainer_) explainer_ = LoadExplainer({opt_.explainer, "", opt_.plugin_path, opt_.explainer_opts, {}}, &plugin_);
    std::vector<std::string> entries;
    for (const auto& c : candidates.items) entries.push_back(ExplainerEntry(c));
    auto texts = explainer_->Explain(entries);
    if (texts.size() != candidates.size())
      throw std::runtime_error("explainer " + opt_.explainer + " returned " + std::to_string(texts.size()) +
                               " texts for " + std::to_string(candidates.size()) + " classes");
    std::map<std::string, std::string> m;
    size_t found = 0;
    for (size_t i = 0; i < texts.size(); ++i) {
      if (!texts[i].error.empty())
        throw std::runtime_error("explainer " + opt_.explainer + " failed for '" + candidates.items[i].name +
                                 "': " + texts[i].error);
      // Text offered for a class the explainer does not know (found = false) is no explanation of it.
      if (texts[i].found && !recog::Strip(texts[i].text).empty()) {
        m[candidates.items[i].name] = recog::Strip(texts[i].text);
        ++found;
      }
    }
    Json report = {{"source", "ran"}, {"plugin", plugin_["plugin"]}, {"explained", found},
                   {"classes", candidates.size()}};
    log::Info("explainer ", opt_.explainer, ": ", found, " of ", candidates.size(), " classes explained");
    cached = explained_.emplace(list_key, std::make_pair(std::move(m), std::move(report))).first;
  }
  *out = cached->second.first;
  r.report = cached->second.second;
  r.used = !out->empty();
  if (!r.used) r.report["reason"] = "the explainer knows none of the candidates";
  return r;
}

ToolRunner::Result ToolRunner::Describe(const io::Record& record, std::string* out) {
  Result r;
  Json explain = record.get("explain");
  if (explain.is_object() && explain.contains("video") && explain["video"].is_string() &&
      !recog::Strip(explain["video"].get<std::string>()).empty()) {
    *out = recog::Strip(explain["video"].get<std::string>());
    r.report = {{"source", "record"}};
    r.used = true;
    return r;
  }
  if (opt_.describer.empty()) {
    r.report = {{"source", "unavailable"},
                {"reason", "the record has no explain.video paragraph and no --describer was given"}};
    return r;
  }
  Json frames = record.get("frames");
  if (!frames.is_object() || !frames.contains("paths") || !frames["paths"].is_array())
    throw std::runtime_error("describe: record has no frames.paths");
  DescribeFrames input = FramesToDescribe(frames, static_cast<size_t>(opt_.describe_frames));
  std::lock_guard<std::mutex> lock(mu_);
  if (!describer_) {
    Json plugin;
    describer_ = LoadDescriber({opt_.describer, opt_.describer_model, opt_.plugin_path, opt_.describer_opts, {}},
                               &plugin);
  }
  // The describer keys its answers by video; the id is a label-free handle (the record id).
  plugin::Text t = describer_->Describe(record.id(), input.images);
  if (!t.error.empty()) throw std::runtime_error("describer " + opt_.describer + ": " + t.error);
  r.report = {{"source", "ran"}, {"plugin", opt_.describer}, {"found", t.found}};
  if (t.found && !recog::Strip(t.text).empty()) {
    *out = recog::Strip(t.text);
    r.used = true;
  } else {
    r.report["reason"] = "the describer has no description for this video";
  }
  return r;
}

ToolOutputs ToolRunner::RunChosen(const recog::Profile& profile, const recog::ToolChoice& choice,
                                  io::Record& record, const recog::ClassList& candidates) {
  ToolOutputs out;
  out.delivered = choice;
  std::vector<const recog::ToolSpec*> order;
  for (const auto& spec : profile.tools)
    if (spec.name == "detect") order.push_back(&spec);
  for (const auto& spec : profile.tools)
    if (spec.name != "detect") order.push_back(&spec);
  std::map<std::string, recog::ToolUse> uses;
  for (const auto* spec : order) {
    recog::ToolUse use;
    use.chosen = choice.on(spec->name);
    if (use.chosen) {
      Result res;
      if (spec->name == "detect") res = Detect(record);
      else if (spec->name == "pose") res = Pose(record);
      else if (spec->name == "explain") res = Explain(candidates, &out.explanations);
      else if (spec->name == "describe") res = Describe(record, &out.description);
      else res.report = {{"source", "unavailable"}, {"reason", "no runner for tool " + spec->name}};
      use.used = res.used;
      use.details = res.report;
    }
    out.delivered.use[spec->name] = use.used;
    uses[spec->name] = std::move(use);
  }
  for (const auto& spec : profile.tools) out.report.emplace_back(spec.name, uses[spec.name]);
  return out;
}

}  // namespace vstar::tools
