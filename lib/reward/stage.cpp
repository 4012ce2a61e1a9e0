#include "reward/stage.hpp"

#include <stdexcept>

#include "io/text.hpp"
#include "recog/policy_record.hpp"
#include "recog/profile.hpp"

namespace vstar::reward {

using Json = io::Json;

void RewardOptions::Register(CLI::App& app) {
  app.add_option("--variant", variant, "paper (default): the paper's gated reward; official: the authors' code")
      ->check(CLI::IsMember({"paper", "official"}));
  app.add_option("--templates", templates,
                 "official: directory with the authors' templates (the section titles are read from it)");
  app.add_option("--template-stage", template_stage, "official: template file stem holding the titles (grpo)");
  app.add_option("--classes", classes, "Candidate list file; default: the record's \"candidates\"");
  app.add_option("--tool-cost", tool_cost,
                 "paper: share of R_tool lost when every tool is used (0.5). R_tool = 1 - C*(k-1)/(m-1) for k "
                 "of m tools is vstar's formula: the paper gives none")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--terms", terms,
                 "paper: all (accuracy, format and the gated tool and sub-motion terms) or acc-format (accuracy "
                 "and format only: the paper's reward ablation)")
      ->check(CLI::IsMember({"all", "acc-format"}))
      ->capture_default_str();
  app.add_flag("--temporal,!--no-temporal", temporal, "official: +0.3 temporal bonus (on)");
  app.add_flag("--len-control,!--no-len-control", len_control, "official: +0.2 length bonus (on)");
}

RewardStage::RewardStage(const RewardOptions& opt) : opt_(opt) {
  if (opt.variant == "official") {
    if (opt.templates.empty())
      throw std::invalid_argument(
          "--variant official reads its section titles from the authors' turn-2 template: give --templates DIR");
    recog::Profile p;
    p.name = "official";
    std::filesystem::path f = std::filesystem::path(opt.templates) / (opt.template_stage + ".turn2.txt");
    try {
      p.turn2_template = io::ReadFile(f, "turn-2 template");
    } catch (const std::runtime_error& e) {
      throw std::invalid_argument(e.what());
    }
    official_.section1_title = p.SectionTitle(1);
    official_.section3_title = p.SectionTitle(3);
  } else if (opt.variant != "paper") {
    throw std::invalid_argument("--variant must be paper or official");
  }
  paper_.tool_cost = opt.tool_cost;
  if (opt.terms != "all" && opt.terms != "acc-format") throw std::invalid_argument("--terms must be all or acc-format");
  paper_.gated_terms = opt.terms == "all";
  group_.temporal = opt.temporal;
  group_.length = opt.len_control;
  if (!opt.classes.empty()) classes_ = std::make_unique<recog::ClassList>(recog::LoadClassList(opt.classes));
}

namespace {

struct Completion {
  std::string text, turn1;
  int tokens = -1;
  bool has_turn1 = false;
};

std::vector<Completion> ReadCompletions(const Json& arr, const char* key) {
  std::vector<Completion> out;
  if (!arr.is_array()) throw std::runtime_error(std::string("\"") + key + "\" must be an array");
  for (const auto& c : arr) {
    Completion x;
    if (c.is_string()) {
      x.text = c.get<std::string>();
    } else if (c.is_object() && c.contains("text") && c["text"].is_string()) {
      x.text = c["text"];
      if (c.contains("tokens") && c["tokens"].is_number_integer()) x.tokens = c["tokens"];
      if (c.contains("turn1") && c["turn1"].is_string()) {
        x.turn1 = c["turn1"];
        x.has_turn1 = true;
      }
    } else {
      throw std::runtime_error(std::string("\"") + key + "\" entries must be strings or {\"text\", ...}");
    }
    out.push_back(std::move(x));
  }
  return out;
}

}  // namespace

void RewardStage::Score(io::Record& rec) const {
  std::optional<recog::PolicyRecord> policy;
  if (rec.has("policy")) policy = recog::PolicyRecord::FromJson(rec.get("policy"));
  std::vector<Completion> comps;
  if (rec.has("completions")) {
    comps = ReadCompletions(rec.get("completions"), "completions");
  } else if (policy && !policy->turn2.text.empty()) {
    Completion c;
    c.text = policy->turn2.text;
    if (policy->turn2.tokens > 0) c.tokens = static_cast<int>(policy->turn2.tokens);
    comps.push_back(c);
  } else {
    throw std::runtime_error("no completions: need \"completions\" or \"policy\".turn2.text");
  }
  std::vector<Completion> shuffled;
  if (rec.has("shuffled_completions")) shuffled = ReadCompletions(rec.get("shuffled_completions"), "shuffled_completions");

  std::string turn1;
  if (policy && policy->turn1) turn1 = policy->turn1->text;
  else if (auto s = rec.string("turn1")) turn1 = *s;

  std::string label, solution;
  if (auto l = rec.string("label")) {
    label = *l;
    solution = "<answer>" + label + "</answer>";
  }
  if (auto s = rec.string("solution")) {
    solution = *s;
    if (label.empty()) label = recog::SolutionLabel(solution);
  }
  if (label.empty()) throw std::runtime_error("no ground truth: need \"label\" or \"solution\"");

  Json out;
  out["variant"] = opt_.variant;
  Json list = Json::array();
  if (opt_.variant == "official") {
    std::string ptype = rec.string("problem_type").value_or("action-detection");
    std::vector<Components> ordered, shuf;
    std::vector<int> tokens;
    for (const auto& c : comps) {
      ordered.push_back(Official(c.text, solution, c.has_turn1 ? c.turn1 : turn1, ptype, official_));
      tokens.push_back(c.tokens);
    }
    for (const auto& c : shuffled)
      shuf.push_back(Official(c.text, solution, c.has_turn1 ? c.turn1 : turn1, ptype, official_));
    GroupResult g = OfficialGroup(ordered, shuf, tokens, group_);
    for (const auto& c : ordered) list.push_back(c.ToJson());
    out["completions"] = list;
    Json sj = Json::array();
    for (const auto& c : shuf) sj.push_back(c.ToJson());
    if (!shuf.empty()) out["shuffled"] = sj;
    out["temporal_applied"] = g.temporal_applied;
    out["length_applied"] = g.length_applied;
  } else {
    std::unique_ptr<recog::ClassList> own;
    const recog::ClassList* cl = classes_.get();
    if (!cl && rec.has("candidates")) {
      own = std::make_unique<recog::ClassList>(recog::ClassListFromJson(rec.get("candidates"), "candidates"));
      cl = own.get();
    }
    if (cl && !cl->Find(label))
      throw std::runtime_error("label '" + label + "' is not in the candidate list");
    for (const auto& c : comps) list.push_back(Paper(c.text, label, cl, c.has_turn1 ? c.turn1 : turn1, paper_).ToJson());
    out["completions"] = list;
  }
  double sum = 0;
  for (const auto& c : out["completions"]) sum += c["total"].get<double>();
  out["mean"] = sum / static_cast<double>(out["completions"].size());
  rec.set("reward", out);
}

}  // namespace vstar::reward
