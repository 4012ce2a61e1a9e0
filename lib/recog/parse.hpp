#pragma once
// Reading the policy's text: tool decisions (turn 1) and the answer (turn 2).
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "recog/classlist.hpp"

namespace vstar::recog {

// The Video-STAR scripts' decision parsing (github.com/Raymond-Qiancx/Video-STAR, e.g.
// AScripts/ceval1oss/4subtol.py): first case-insensitive match of <tag>\s*(yes|no)\s*</tag>; `found` false (and yes false) when
// the tag never appears with yes/no.
struct Decision {
  std::string tag;
  bool yes = false;
  bool found = false;
};
Decision ParseDecision(std::string_view text, std::string_view tag);
std::vector<Decision> ParseDecisions(std::string_view text, const std::vector<std::string>& tags);
// True when any of `tags` is <tag>\s*yes\s*</tag> (case-insensitive), the official R_tool test
// (src/r1-v/src/open_r1/oss_grpo_4subtol.py, accuracy_reward).
bool AnyYes(std::string_view text, const std::vector<std::string>& tags);

// How the answer is read from a turn-2 completion.
enum class AnswerRule {
  kTrain,  // oss_grpo_4subtol.py extract_answer: nested <answer><answer>X</answer></answer> first, then first tag; strip; else ""
  kEval,   // AScripts/ceval1oss/4subtol.py predict: first <answer>(.*?)</answer> incl. tags, newlines removed; "" when absent
  kScore,  // AScripts/cresult/1.py: first tag (case-insensitive) stripped, else the whole text stripped
  kClean,  // ours: the last complete <answer> block (innermost when nested), markdown and quotes removed
};
AnswerRule ParseAnswerRule(std::string_view name);  // train|eval|score|clean; throws on others
std::string_view AnswerRuleName(AnswerRule rule);

struct Answer {
  std::string text;    // the extracted answer ("" when none)
  bool found = false;  // an <answer> block was present (kScore falls back to the whole text: found=false)
};
Answer ExtractAnswer(std::string_view completion, AnswerRule rule);

// Mapping an answer onto the candidate list by LabelKey equality. Never guesses: an answer that matches
// nothing or more than one candidate is reported as such.
struct Mapped {
  std::optional<size_t> index;
  std::string name;     // candidate name when mapped
  std::string status;   // "mapped" | "unmapped" | "ambiguous" | "empty"
};
Mapped MapAnswer(std::string_view answer, const ClassList& candidates);

// The label inside a solution field "<answer>X</answer>" (extract_answer rule); the text itself when
// it carries no tag.
std::string SolutionLabel(std::string_view solution);

}  // namespace vstar::recog
