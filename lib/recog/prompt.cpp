#include "recog/prompt.hpp"

#include <stdexcept>

#include "recog/text.hpp"

namespace vstar::recog {

ToolMode ParseToolMode(std::string_view s) {
  if (s == "dynamic") return ToolMode::kDynamic;
  if (s == "all") return ToolMode::kAll;
  if (s == "none") return ToolMode::kNone;
  throw std::invalid_argument("--tools must be dynamic|all|none, not '" + std::string(s) + "'");
}

ToolChoice ChooseTools(const Profile& p, std::string_view turn1_text, ToolMode mode) {
  ToolChoice c;
  c.decisions = ParseDecisions(turn1_text, p.DecisionTags());
  for (size_t i = 0; i < p.tools.size(); ++i) {
    bool on = mode == ToolMode::kAll ? true : mode == ToolMode::kNone ? false : c.decisions[i].yes;
    c.use[p.tools[i].name] = on;
  }
  return c;
}

std::string RenderTurn1(const Profile& p) { return p.turn1_template; }

std::string FormatCandidates(const Profile& p, const ClassList& candidates, bool explained,
                             const std::map<std::string, std::string>* explanations) {
  std::string out;
  for (size_t i = 0; i < candidates.items.size(); ++i) {
    const Candidate& c = candidates.items[i];
    std::string line;
    if (p.candidate_style == "authors") {
      // The authors insert the dict value verbatim, or value.split(':')[0].strip().
      const std::string& full = c.line.empty() ? c.name : c.line;
      line = explained ? full : CandidateFromLine(full).name;
    } else {
      std::string expl = c.explanation;
      if (explanations) {
        auto it = explanations->find(c.name);
        if (it != explanations->end()) expl = it->second;
      }
      if (!explained || Strip(expl).empty())
        line = c.name;
      else if (p.candidate_style == "definition-first")
        // A causal model reads left to right: with the definition first, the label's own tokens
        // already attend to what it means, so matching movements to a label is one look back.
        line = Strip(expl) + " -> " + c.name;
      else
        line = c.name + ": " + Strip(expl);
    }
    if (i) out += p.candidate_join;
    out += line;
  }
  return out;
}

namespace {

// Replaces a placeholder that stands alone on a line; when `value` is empty the line goes entirely.
std::string ReplaceLine(const std::string& text, const std::string& placeholder, const std::string& value) {
  if (text.find(placeholder) == std::string::npos) return text;
  std::vector<std::string> lines = SplitLines(text);
  std::string out;
  bool first = true;
  for (const auto& line : lines) {
    if (Strip(line) == placeholder && value.empty()) continue;
    if (!first) out += '\n';
    out += ReplaceAll(line, placeholder, value);
    first = false;
  }
  return out;
}

}  // namespace

std::string RenderTurn2(const Profile& p, const Turn2Input& in) {
  if (!in.candidates) throw std::runtime_error("RenderTurn2: no candidate list");
  std::string t = p.turn2_template;
  const ToolSpec* cand_tool = nullptr;
  for (const auto& tool : p.tools)
    if (tool.kind == "candidates") cand_tool = &tool;
  bool explained = cand_tool && in.tools.on(cand_tool->name);

  if (t.find("{ANNOTATED_VIDEO_PATH}") != std::string::npos) {
    if (!p.annotated_root)
      throw std::runtime_error("profile " + p.name + ": template asks for {ANNOTATED_VIDEO_PATH} but the "
                               "profile sets no annotated_path");
    t = ReplaceAll(t, "{ANNOTATED_VIDEO_PATH}", PathJoin(*p.annotated_root, in.path));
  }
  if (t.find("{original_answer}") != std::string::npos) {
    if (in.solution.empty())
      throw std::runtime_error("profile " + p.name + ": teacher template needs the record's solution");
    t = ReplaceAll(t, "{original_answer}", in.solution);
  }
  if (t.find("{VIDEO_EXPLANATION_TEXT}") != std::string::npos) {
    std::string block;
    const ToolSpec* describe = nullptr;
    for (const auto& tool : p.tools)
      if (tool.kind == "text") describe = &tool;
    if (describe && in.tools.on(describe->name) && !in.description.empty()) {
      if (!p.description_block)
        throw std::runtime_error("profile " + p.name + ": describe=yes needs the description block template "
                                 "in " + p.template_dir.string());
      block = ReplaceAll(*p.description_block, "{TEXT}", in.description);
    }
    t = ReplaceAll(t, "{VIDEO_EXPLANATION_TEXT}", block);
  }
  if (t.find("{FRAME_NOTES}") != std::string::npos) {
    std::string notes;
    for (const auto& tool : p.tools) {
      if (tool.kind != "frames" || !in.tools.on(tool.name)) continue;
      auto it = p.frame_notes.find(tool.name);
      if (it == p.frame_notes.end()) continue;
      if (!notes.empty()) notes += '\n';
      notes += it->second;
    }
    t = ReplaceLine(t, "{FRAME_NOTES}", notes);
  }
  if (t.find("{VIDEO_DESCRIPTION}") != std::string::npos) {
    const ToolSpec* describe = nullptr;
    for (const auto& tool : p.tools)
      if (tool.kind == "text") describe = &tool;
    std::string text;
    if (describe && in.tools.on(describe->name) && !Strip(in.description).empty()) {
      auto it = p.frame_notes.find("describe");
      text = (it != p.frame_notes.end() ? it->second + " " : std::string()) + Strip(in.description);
    }
    t = ReplaceLine(t, "{VIDEO_DESCRIPTION}", text);
  }
  // Last, so nothing inside a class name or explanation is ever taken for a placeholder.
  t = ReplaceAll(t, "{ALLOWED_ANSWERS}", FormatCandidates(p, *in.candidates, explained, in.explanations));
  return t;
}

}  // namespace vstar::recog
