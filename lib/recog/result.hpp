#pragma once
// The "policy" key vs-policy writes, built from the two turns so every reader (vs-reward, vs-eval,
// vs-audit) sees the same layout:
//   {"profile", "tools_mode",
//    "turn1": {"text", "tokens", "seconds"},
//    "decisions": {"<tag>": {"yes", "found"}, ...},
//    "tools": {"<tool>": true|false, ...},   // what turn 2 got
//    "turn2": {"text", "tokens", "seconds"},
//    "answer": {"text", "found", "rule"},
//    "mapped": {"name", "index", "status"},  // status: mapped | unmapped | ambiguous | empty
//    "timings": {"<stage>": seconds, ...}}
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "recog/classlist.hpp"
#include "recog/profile.hpp"
#include "recog/prompt.hpp"

namespace vstar::recog {

struct TurnText {
  std::string text;
  int tokens = -1;       // generated tokens incl. EOS; -1 unknown
  double seconds = -1;   // wall time of the generate call; -1 unknown
};

struct PolicyResult {
  std::string profile, tools_mode;
  TurnText turn1, turn2;
  ToolChoice tools;
  Answer answer;
  Mapped mapped;
  AnswerRule rule = AnswerRule::kClean;
  std::map<std::string, double> timings;
  nlohmann::ordered_json ToJson() const;
};

// Reads the answer with the profile's rule and maps it onto `candidates` (never guessing).
PolicyResult MakeResult(const Profile& p, std::string_view tools_mode, const ClassList& candidates, TurnText turn1,
                        ToolChoice tools, TurnText turn2);

}  // namespace vstar::recog
