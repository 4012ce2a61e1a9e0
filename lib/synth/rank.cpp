#include "synth/rank.hpp"

#include <algorithm>
#include <stdexcept>

#include "synth/actions.hpp"

namespace vstar::synth {

std::vector<RankedSubMotion> RankSubMotions(const std::vector<std::string>& clip,
                                            const std::vector<std::vector<std::string>>& others) {
  std::vector<RankedSubMotion> out;
  for (const auto& key : clip) {
    if (std::any_of(out.begin(), out.end(), [&](const RankedSubMotion& r) { return r.key == key; })) continue;
    RankedSubMotion r;
    r.key = key;
    r.others = others.size();
    for (const auto& o : others)
      if (std::find(o.begin(), o.end(), key) != o.end()) ++r.shared;
    r.score = others.empty() ? 1.0 : 1.0 - static_cast<double>(r.shared) / static_cast<double>(others.size());
    out.push_back(std::move(r));
  }
  std::stable_sort(out.begin(), out.end(), [](const RankedSubMotion& a, const RankedSubMotion& b) {
    return a.score > b.score;
  });
  return out;
}

std::vector<RankedSubMotion> RankTruthSubMotions(const nlohmann::ordered_json& truth,
                                                 const std::vector<std::string>& candidates) {
  if (!truth.is_object() || !truth.contains("timeline") || !truth["timeline"].is_array() ||
      !truth.contains("label") || !truth["label"].is_string())
    throw std::invalid_argument("truth record needs \"label\" and a \"timeline\" array");
  const ActionClass* self = FindClass(truth["label"].get<std::string>());
  std::vector<std::string> keys, sides;
  for (const auto& e : truth["timeline"]) {
    if (!e.is_object() || !e.contains("key") || !e["key"].is_string())
      throw std::invalid_argument("truth timeline entry without a \"key\"");
    keys.push_back(e["key"].get<std::string>());
    sides.push_back(e.contains("side") && e["side"].is_string() ? e["side"].get<std::string>() : "");
  }
  std::vector<std::vector<std::string>> others;
  for (const auto& name : candidates) {
    const ActionClass* c = FindClass(name);
    if (!c) throw std::invalid_argument("candidate '" + name + "' is no class of the synthetic world");
    if (c != self) others.push_back(SubMotionKeys(*c));
  }
  auto ranked = RankSubMotions(keys, others);
  for (auto& r : ranked)
    for (size_t i = 0; i < keys.size(); ++i)
      if (keys[i] == r.key && !sides[i].empty()) r.side = sides[i];
  return ranked;
}

}  // namespace vstar::synth
