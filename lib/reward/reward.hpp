#pragma once
// Rewards for one turn-2 completion and the group-level bonuses, in two variants:
//  - official: what the authors' GRPO code computes (Raymond-Qiancx/Video-STAR,
//    src/r1-v/src/open_r1/oss_grpo_4subtol.py, accuracy_reward and format_reward): accuracy, ungated
//    sub-motion term on the ground-truth candidate, flat tool term, format, and the +0.3
//    temporal / +0.2 length group bonuses;
//  - paper: R = R_acc + R_format + 1[R_acc>0]·(R_tool + R_sub), with R_sub matched against the
//    *predicted* candidate's comparison text and R_tool rewarding efficient tool use (man vs-reward).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "recog/classlist.hpp"
#include "recog/parse.hpp"

namespace vstar::reward {

struct Components {
  double acc = 0, format = 0, tool = 0, sub = 0;
  double temporal = 0, length = 0;  // group bonuses (official only)
  double total = 0;
  std::string answer;  // the answer as the variant's extraction read it
  std::string mapped;  // paper: the candidate it maps to ("" when unmapped)
  std::vector<std::string> sub_motions;  // section [1] names in order (after de-duplication)
  std::string error;   // official: an exception inside the accuracy function zeroes column 0
  double column0() const { return acc + sub + tool; }  // the authors' accuracy_reward column
  nlohmann::ordered_json ToJson() const;
};

// ---- official ----
struct OfficialConfig {
  // Section titles searched literally by the authors' regexes ("[1] <title>:"). They are part of the
  // authors' template text, so they are read from it (recog::Profile::SectionTitle), not shipped.
  std::string section1_title, section3_title;
  std::vector<std::string> tool_tags = {"pose_estimation", "person_detection", "noun_explanation"};
};
// The sub-motion term of accuracy_reward on its own: weighted share of section-[1] body parts found
// in the `answer` candidate's section-[3] text. 0 when a section or the candidate is missing.
double OfficialSubMotion(const std::string& completion, const std::string& answer, const OfficialConfig& cfg,
                         std::vector<std::string>* parts = nullptr);
// format_reward: re.fullmatch(r"<think>.*?</think>\s*<answer>.*?</answer>", completion, DOTALL).
double OfficialFormat(const std::string& completion);
// accuracy_reward and format_reward for one completion: column 0 = acc + sub + tool (0 unless
// problem_type is "action-detection"), plus format. Group bonuses are added by OfficialGroup.
Components Official(const std::string& completion, const std::string& solution, const std::string& turn1,
                    const std::string& problem_type, const OfficialConfig& cfg);

struct GroupConfig {
  bool temporal = true;   // --temporal: needs shuffled-frame completions
  bool length = true;     // --len-control: needs completion token counts
  double temporal_bonus = 0.3, temporal_ratio = 0.8, threshold = 0.1, length_bonus = 0.2;
  int min_tokens = 320, max_tokens = 512;
};
struct GroupResult {
  bool temporal_applied = false;  // mean col0(ordered) >= ratio * mean col0(shuffled)
  bool length_applied = false;    // more than one completion had col0 > threshold
};
// The bonuses Video-STAR inherits from Video-R1 (--temporal, --len_control; trainer/grpo_trainer.py):
// adds the temporal bonus to every ordered completion with column 0 > threshold when the
// condition holds (needs `shuffled`, may be empty: then no temporal bonus), and the length bonus to
// every such completion with min_tokens <= tokens <= max_tokens when more than one completion passed
// the threshold (`tokens[i] < 0` = unknown: no length bonus for it). Sets `total` of every element.
GroupResult OfficialGroup(std::vector<Components>& ordered, const std::vector<Components>& shuffled,
                          const std::vector<int>& tokens, const GroupConfig& cfg);

// Frame permutation for the shuffled-frame rollouts of the temporal bonus: Fisher–Yates driven by
// std::mt19937_64(seed), so a run is reproducible (the authors use torch.randperm, unseeded).
std::vector<size_t> ShuffledOrder(size_t n, uint64_t seed);

// ---- paper ----
struct PaperConfig {
  recog::AnswerRule rule = recog::AnswerRule::kClean;
  std::vector<std::string> tool_tags = {"pose_estimation", "person_detection", "action_explanation",
                                        "video_description"};
  double tool_cost = 0.5;  // share of R_tool lost when every tool is used instead of one
  bool gated_terms = true;  // false: R = accuracy + format (the ablation without R_tool and R_sub)
};
// Number of decision tags answered yes in `turn1`.
int ToolsUsed(const std::string& turn1, const std::vector<std::string>& tags);
// R_tool = 0 with no tool; else 1 - cost * (k - 1) / (m - 1) for k of m tools (1 when m == 1).
double PaperTool(int used, int available, double cost);
// Sections [1]/[3] found by their numbers, whatever their titles; the predicted candidate's entry in
// [3] found by LabelKey equality of its "- <name>:" head.
double PaperSubMotion(const std::string& completion, const std::string& predicted,
                      std::vector<std::string>* parts = nullptr);
// <think>…</think> then <answer>…</answer> and nothing else (surrounding whitespace allowed), with
// [1], [2], [3] in order inside <think>.
double PaperFormat(const std::string& completion);
// `candidates` may be null: then the answer is compared to the label by LabelKey.
Components Paper(const std::string& completion, const std::string& label, const recog::ClassList* candidates,
                 const std::string& turn1, const PaperConfig& cfg);

}  // namespace vstar::reward
