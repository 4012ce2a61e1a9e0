#pragma once
// vs-reward's record logic: options, and scoring one record's completions (man vs-reward).
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "io/record.hpp"
#include "recog/classlist.hpp"
#include "reward/reward.hpp"

namespace vstar::reward {

struct RewardOptions {
  std::string variant = "paper";  // paper | official
  std::string templates;          // official: the authors' template dir (section titles)
  std::string template_stage = "grpo";  // which <stage>.turn2.txt the titles are read from
  std::string classes;            // candidate list file (else the record's "candidates")
  double tool_cost = 0.5;
  std::string terms = "all";      // paper: all | acc-format
  bool temporal = true, len_control = true;
  void Register(CLI::App& app);
};

class RewardStage {
 public:
  // Throws std::invalid_argument for unusable options (exit code 2 in the binary).
  explicit RewardStage(const RewardOptions& opt);
  // Adds "reward" to the record; throws std::runtime_error for a record that cannot be scored.
  void Score(io::Record& rec) const;

 private:
  RewardOptions opt_;
  OfficialConfig official_;
  PaperConfig paper_;
  GroupConfig group_;
  std::unique_ptr<recog::ClassList> classes_;
};

}  // namespace vstar::reward
