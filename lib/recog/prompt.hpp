#pragma once
// Rendering the two turns of a profile. This is the API vs-policy calls:
//   Profile p = ProfileOptions{...}.Load();
//   std::string t1 = RenderTurn1(p);                       // + the video frames
//   ToolChoice c = ChooseTools(p, turn1_text, mode);       // dynamic | all | none
//   std::string t2 = RenderTurn2(p, {&candidates, c, ...}); // + frames per p.turn2_frames / overlays
//   Answer a = ExtractAnswer(turn2_text, p.answer_rule);  Mapped m = MapAnswer(a.text, candidates);
//
// Placeholders substituted (plain text replacement, every occurrence):
//   {ALLOWED_ANSWERS}        candidate lines joined by the profile's join string
//   {ANNOTATED_VIDEO_PATH}   official only: PathJoin(annotated_root, record path)
//   {original_answer}        teacher templates: the raw solution field
//   {VIDEO_EXPLANATION_TEXT} four-tool templates: the description block when describe=yes, else ""
//   {FRAME_NOTES}, {VIDEO_DESCRIPTION}  clean: a line holding only this placeholder is dropped when it
//                            expands to nothing, so no empty scaffolding reaches the model.
#include <map>
#include <string>
#include <vector>

#include "recog/classlist.hpp"
#include "recog/profile.hpp"

namespace vstar::recog {

// Which tools turn 2 gets, by ToolSpec::name.
struct ToolChoice {
  std::map<std::string, bool> use;
  std::vector<Decision> decisions;  // as parsed from turn 1 (empty when not parsed)
  bool on(const std::string& tool) const {
    auto it = use.find(tool);
    return it != use.end() && it->second;
  }
};

enum class ToolMode { kDynamic, kAll, kNone };
ToolMode ParseToolMode(std::string_view s);  // dynamic|all|none
// dynamic: the decisions parsed from turn 1 (ParseDecisions); all / none: the paper's two ablations (turn 1 is
// still parsed and reported, but ignored).
ToolChoice ChooseTools(const Profile& p, std::string_view turn1_text, ToolMode mode = ToolMode::kDynamic);

struct Turn2Input {
  const ClassList* candidates = nullptr;
  ToolChoice tools;
  // Explanations from the explain tool (candidate name -> text); when a candidate has none here its
  // class-list explanation is used.
  const std::map<std::string, std::string>* explanations = nullptr;
  std::string path;         // the record's video path as the authors' files write it (official only)
  std::string description;  // the describe tool's paragraph
  std::string solution;     // raw solution field (teacher templates only)
};

std::string RenderTurn1(const Profile& p);
std::string FormatCandidates(const Profile& p, const ClassList& candidates, bool explained,
                             const std::map<std::string, std::string>* explanations = nullptr);
// Throws std::runtime_error when the template needs an input that is missing (e.g. a teacher template
// without a solution, a description block the profile lacks).
std::string RenderTurn2(const Profile& p, const Turn2Input& in);

}  // namespace vstar::recog
