#pragma once
// The `policy` key of a record: what vs-policy writes and vs-reward, vs-eval (and later training)
// read. One struct, one JSON layout (documented in vs-policy(1)):
//
// two turns (--profile):
//   {"profile", "tools_mode",
//    "turn1": {"text", "tokens", "prompt_tokens", "finish_reason", "seconds"[, "prompt"]},
//    "decisions": {"<tool>": {"tag", "answer": "yes"|"no"|null}, ...},
//    "tools": {"<tool>": {"chosen", ["source", "plugin", "reason", ...,] "used"}, ...},
//    "turn2_frames": "pose"|"po"|"bound"|"original",
//    "turn2": {... as turn1},
//    "answer", "answer_found", "answer_rule", "answer_text",
//    "mapped": name|null, "unmapped", "map_status": "mapped"|"unmapped"|"ambiguous"|"empty",
//    "timing": {"turn1_s", "tools_s", "turn2_s", "total_s", "batch"}}
// one turn (--template):
//   {"response", "tokens", "prompt_tokens", "finish_reason",
//    "timing": {"prefill_s", "decode_s", "batch", "decode_tok_s"}, "model"}
// Readers see a one-turn record as its answer turn (turn2 = the response, no turn1).
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace vstar::recog {

struct PolicyTurn {
  std::string text;  // the response only (no prompt)
  int64_t tokens = 0;
  int64_t prompt_tokens = 0;
  std::string finish_reason;
  double seconds = 0;
  std::optional<std::string> prompt;  // --keep-prompts: the user text of the turn
};

struct ToolDecision {
  std::string tag;
  std::optional<bool> answer;  // nullopt: the tag never appeared with yes/no
};

// What one tool did for a record. `details` holds the source ("record" | "ran" | "candidates" |
// "unavailable"), the plugin, a reason when unused, and counts a tool reports.
struct ToolUse {
  bool chosen = false;
  bool used = false;
  nlohmann::ordered_json details = nlohmann::ordered_json::object();
};

struct PolicyRecord {
  bool single_turn = false;  // --template mode

  // Two turns.
  std::string profile, tools_mode;
  std::optional<PolicyTurn> turn1;
  std::vector<std::pair<std::string, ToolDecision>> decisions;  // in the profile's tool order
  std::vector<std::pair<std::string, ToolUse>> tools;
  std::string turn2_frames;
  PolicyTurn turn2;  // one turn: the response
  std::optional<std::string> answer;  // read with the profile's rule; nullopt: not read (one turn)
  bool answer_found = false;
  std::string answer_rule;
  std::optional<std::string> mapped;  // the candidate the answer maps onto
  std::string map_status;             // empty: the record carries no mapping (one turn, or foreign)
  nlohmann::ordered_json timing = nlohmann::ordered_json::object();
  std::string model;  // one turn: the checkpoint directory

  const ToolUse* Tool(const std::string& name) const;
  nlohmann::ordered_json ToJson() const;
  // Accepts both layouts; the keys readers need (turn texts) are checked, the rest default. Throws
  // std::runtime_error naming the key on a wrong type.
  static PolicyRecord FromJson(const nlohmann::ordered_json& j);
};

}  // namespace vstar::recog
