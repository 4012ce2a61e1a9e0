#include "recog/policy_record.hpp"

#include <stdexcept>

namespace vstar::recog {
namespace {

using OJson = nlohmann::ordered_json;

[[noreturn]] void Bad(const std::string& key, const char* want) {
  throw std::runtime_error("policy." + key + " is not " + want);
}

std::string Str(const OJson& j, const char* key, const std::string& path) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return {};
  if (!it->is_string()) Bad(path + key, "a string");
  return it->get<std::string>();
}

template <typename T>
T Num(const OJson& j, const char* key, const std::string& path, T fallback) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if (!it->is_number()) Bad(path + key, "a number");
  return it->get<T>();
}

bool Flag(const OJson& j, const char* key, const std::string& path) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return false;
  if (!it->is_boolean()) Bad(path + key, "true or false");
  return it->get<bool>();
}

OJson TurnJson(const PolicyTurn& t) {
  OJson j;
  j["text"] = t.text;
  j["tokens"] = t.tokens;
  j["prompt_tokens"] = t.prompt_tokens;
  j["finish_reason"] = t.finish_reason;
  j["seconds"] = t.seconds;
  if (t.prompt) j["prompt"] = *t.prompt;
  return j;
}

// A turn object, or a bare string (the text alone).
PolicyTurn TurnFrom(const OJson& j, const std::string& path) {
  PolicyTurn t;
  if (j.is_string()) {
    t.text = j.get<std::string>();
    return t;
  }
  if (!j.is_object()) Bad(path, "an object or a string");
  t.text = Str(j, "text", path + ".");
  t.tokens = Num<int64_t>(j, "tokens", path + ".", 0);
  t.prompt_tokens = Num<int64_t>(j, "prompt_tokens", path + ".", 0);
  t.finish_reason = Str(j, "finish_reason", path + ".");
  t.seconds = Num<double>(j, "seconds", path + ".", 0);
  if (j.contains("prompt") && j["prompt"].is_string()) t.prompt = j["prompt"].get<std::string>();
  return t;
}

}  // namespace

const ToolUse* PolicyRecord::Tool(const std::string& name) const {
  for (const auto& [n, t] : tools)
    if (n == name) return &t;
  return nullptr;
}

OJson PolicyRecord::ToJson() const {
  OJson j;
  if (single_turn) {
    j["response"] = turn2.text;
    j["tokens"] = turn2.tokens;
    j["prompt_tokens"] = turn2.prompt_tokens;
    j["finish_reason"] = turn2.finish_reason;
    j["timing"] = timing;
    j["model"] = model;
    return j;
  }
  j["profile"] = profile;
  j["tools_mode"] = tools_mode;
  if (turn1) j["turn1"] = TurnJson(*turn1);
  OJson d = OJson::object();
  for (const auto& [name, dec] : decisions)
    d[name] = {{"tag", dec.tag}, {"answer", dec.answer ? OJson(*dec.answer ? "yes" : "no") : OJson(nullptr)}};
  j["decisions"] = d;
  OJson t = OJson::object();
  for (const auto& [name, use] : tools) {
    OJson u;
    u["chosen"] = use.chosen;
    for (const auto& [k, v] : use.details.items())
      if (k != "chosen" && k != "used") u[k] = v;
    u["used"] = use.used;
    t[name] = u;
  }
  j["tools"] = t;
  j["turn2_frames"] = turn2_frames;
  j["turn2"] = TurnJson(turn2);
  j["answer"] = answer ? OJson(*answer) : OJson(nullptr);
  j["answer_found"] = answer_found;
  j["answer_rule"] = answer_rule;
  j["answer_text"] = j["answer"];
  j["mapped"] = mapped ? OJson(*mapped) : OJson(nullptr);
  j["unmapped"] = !mapped.has_value();
  j["map_status"] = map_status;
  j["timing"] = timing;
  return j;
}

PolicyRecord PolicyRecord::FromJson(const OJson& j) {
  if (!j.is_object()) throw std::runtime_error("policy is not an object");
  PolicyRecord r;
  if (j.contains("response")) {
    r.single_turn = true;
    r.turn2.text = Str(j, "response", "");
    r.turn2.tokens = Num<int64_t>(j, "tokens", "", 0);
    r.turn2.prompt_tokens = Num<int64_t>(j, "prompt_tokens", "", 0);
    r.turn2.finish_reason = Str(j, "finish_reason", "");
    if (j.contains("timing") && j["timing"].is_object()) r.timing = j["timing"];
    r.model = Str(j, "model", "");
    return r;
  }
  r.profile = Str(j, "profile", "");
  r.tools_mode = Str(j, "tools_mode", "");
  if (j.contains("turn1") && !j["turn1"].is_null()) r.turn1 = TurnFrom(j["turn1"], "turn1");
  if (j.contains("decisions") && j["decisions"].is_object())
    for (const auto& [name, d] : j["decisions"].items()) {
      if (!d.is_object()) Bad("decisions." + name, "an object");
      ToolDecision dec;
      dec.tag = Str(d, "tag", "decisions." + name + ".");
      std::string a = Str(d, "answer", "decisions." + name + ".");
      if (a == "yes" || a == "no") dec.answer = a == "yes";
      r.decisions.emplace_back(name, std::move(dec));
    }
  if (j.contains("tools") && j["tools"].is_object())
    for (const auto& [name, t] : j["tools"].items()) {
      if (!t.is_object()) Bad("tools." + name, "an object");
      ToolUse use;
      use.chosen = Flag(t, "chosen", "tools." + name + ".");
      use.used = Flag(t, "used", "tools." + name + ".");
      for (const auto& [k, v] : t.items())
        if (k != "chosen" && k != "used") use.details[k] = v;
      r.tools.emplace_back(name, std::move(use));
    }
  r.turn2_frames = Str(j, "turn2_frames", "");
  if (j.contains("turn2") && !j["turn2"].is_null()) r.turn2 = TurnFrom(j["turn2"], "turn2");
  for (const char* key : {"answer_text", "answer"})
    if (j.contains(key) && j[key].is_string()) {
      r.answer = j[key].get<std::string>();
      break;
    }
  r.answer_found = Flag(j, "answer_found", "");
  r.answer_rule = Str(j, "answer_rule", "");
  if (j.contains("mapped")) {
    if (j["mapped"].is_string()) r.mapped = j["mapped"].get<std::string>();
    else if (!j["mapped"].is_null()) Bad("mapped", "a string or null");
    r.map_status = Str(j, "map_status", "");
    if (r.map_status.empty()) r.map_status = r.mapped ? "mapped" : "unmapped";
  }
  if (j.contains("timing") && j["timing"].is_object()) r.timing = j["timing"];
  return r;
}

}  // namespace vstar::recog
