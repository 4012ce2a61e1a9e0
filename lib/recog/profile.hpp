#pragma once
// A profile = prompt template files + the settings that decide how the two turns are built, parsed,
// sampled and rewarded. Profiles live in share/vstar/profiles/<name>/profile.json; the
// `clean` profile ships our own template text beside it, the `official` ones read the authors' text
// from a directory the user gives (--templates), because we do not redistribute it.
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "recog/parse.hpp"

namespace vstar::recog {

struct ToolSpec {
  std::string name;  // pose | detect | explain | describe (the vs-* stage / plugin kind)
  std::string tag;   // decision tag in turn 1, e.g. pose_estimation
  std::string kind;  // frames (overlay drawn on the turn-2 frames) | candidates (explanations in
                     // the candidate list) | text (a description paragraph in turn 2)
};

struct Sampling {
  double temperature = 0.0;  // 0 = greedy
  double top_p = 1.0;
  int top_k = 0;  // 0 = off
  int max_new_tokens = 1024;
  double repetition_penalty = 1.0;
};

struct Profile {
  std::string name;
  std::filesystem::path dir;           // where profile.json was read
  std::filesystem::path template_dir;  // where the template text was read
  std::string turn1_template, turn2_template;
  std::optional<std::string>
      description_block;                     // template of the {VIDEO_EXPLANATION_TEXT} expansion;
                                             // its own {TEXT} placeholder takes the description
  std::optional<std::string> system_prompt;  // nullopt: the chat template's default system prompt
  std::vector<ToolSpec> tools;
  // Candidate lines: "authors" = the dict line verbatim when explained, split(':')[0].strip()
  // otherwise; "ours" = "name: explanation" when explained (name alone if there is no explanation);
  // "definition-first" = "explanation -> name" when explained (name alone otherwise).
  std::string candidate_style = "ours";
  std::string candidate_join = "\n";
  std::map<std::string, std::string>
      frame_notes;                            // tool name -> sentence inserted for {FRAME_NOTES}
  std::optional<std::string> annotated_root;  // set: {ANNOTATED_VIDEO_PATH} = join(root, path)
  std::string turn2_frames = "selected";      // selected | original
  std::string turn2_context = "fresh";        // fresh | continued (turn-1 text, no video: the
                                              // authors' GRPO) | continued-video (turn-1 message
                                              // with its video: their SFT samples, two videos)
  Sampling turn1_sampling, turn2_sampling;
  AnswerRule answer_rule = AnswerRule::kClean;
  std::string reward_variant = "paper";  // paper | official

  std::vector<std::string> DecisionTags() const;
  const ToolSpec* Tool(std::string_view name) const;
  // The section titles of the turn-2 output format ("[1] <title>:" lines), read from the template:
  // the official reward searches for them literally (oss_grpo_4subtol.py, the sub-motion term).
  std::string SectionTitle(int number) const;
};

// `name_or_dir`: a profile name under share/vstar/profiles, or a directory holding profile.json.
// `templates`: the directory with the template text for profiles whose profile.json says
// "dir": "user" (the official ones). Throws std::runtime_error with a clear message.
Profile LoadProfile(const std::string& name_or_dir, const std::filesystem::path& templates = {});

struct ProfileOptions {
  std::string profile = "clean";
  std::string templates;  // --templates
  std::string
      annotated_root;  // --annotated-root (official: what {ANNOTATED_VIDEO_PATH} is joined to)
  void Register(CLI::App& app);
  Profile Load() const;
};

// Python os.path.join(a, b) for two POSIX components.
std::string PathJoin(std::string_view a, std::string_view b);

}  // namespace vstar::recog
