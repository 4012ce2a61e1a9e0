#include "recog/result.hpp"

namespace vstar::recog {

namespace {
nlohmann::ordered_json Turn(const TurnText& t) {
  nlohmann::ordered_json j;
  j["text"] = t.text;
  if (t.tokens >= 0) j["tokens"] = t.tokens;
  if (t.seconds >= 0) j["seconds"] = t.seconds;
  return j;
}
}  // namespace

nlohmann::ordered_json PolicyResult::ToJson() const {
  nlohmann::ordered_json j;
  j["profile"] = profile;
  j["tools_mode"] = tools_mode;
  j["turn1"] = Turn(turn1);
  j["decisions"] = nlohmann::ordered_json::object();
  for (const auto& d : tools.decisions) j["decisions"][d.tag] = {{"yes", d.yes}, {"found", d.found}};
  j["tools"] = nlohmann::ordered_json::object();
  for (const auto& [name, on] : tools.use) j["tools"][name] = on;
  j["turn2"] = Turn(turn2);
  j["answer"] = {{"text", answer.text}, {"found", answer.found}, {"rule", std::string(AnswerRuleName(rule))}};
  j["mapped"] = {{"name", mapped.index ? nlohmann::ordered_json(mapped.name) : nlohmann::ordered_json()},
                 {"index", mapped.index ? nlohmann::ordered_json(*mapped.index) : nlohmann::ordered_json()},
                 {"status", mapped.status}};
  j["timings"] = nlohmann::ordered_json::object();
  for (const auto& [k, v] : timings) j["timings"][k] = v;
  return j;
}

PolicyResult MakeResult(const Profile& p, std::string_view tools_mode, const ClassList& candidates, TurnText turn1,
                        ToolChoice tools, TurnText turn2) {
  PolicyResult r;
  r.profile = p.name;
  r.tools_mode = std::string(tools_mode);
  r.turn1 = std::move(turn1);
  r.turn2 = std::move(turn2);
  r.tools = std::move(tools);
  r.rule = p.answer_rule;
  r.answer = ExtractAnswer(r.turn2.text, p.answer_rule);
  // The official eval rule keeps the tags in "predict"; map the text inside them.
  std::string inner = p.answer_rule == AnswerRule::kEval ? ExtractAnswer(r.turn2.text, AnswerRule::kTrain).text
                                                         : r.answer.text;
  r.mapped = MapAnswer(inner, candidates);
  return r;
}

}  // namespace vstar::recog
