#pragma once
// The teacher's first section ([1]: the clip's sub-motions, most telling first): given a clip's
// ground truth, its sub-motions ranked by how few of the other candidate classes share them. A
// sub-motion no other candidate has singles the class out; one every candidate has says nothing.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace vstar::synth {

struct RankedSubMotion {
  std::string key;     // "part: movement"
  std::string side;    // "left" / "right" for one-sided movements in this clip, else ""
  size_t shared = 0;   // other candidates that contain this sub-motion too
  size_t others = 0;   // other candidates considered
  double score = 0;    // 1 - shared / others (1 when there are no others)
};

// Generic form: `clip` keys in timeline order (repeats ignored), `others` the other candidates' keys.
// Sorted by score, highest first; ties keep timeline order.
std::vector<RankedSubMotion> RankSubMotions(const std::vector<std::string>& clip,
                                            const std::vector<std::vector<std::string>>& others);

// One truth.jsonl record and the candidate class names (the true class among them or not; it is never
// counted as an "other"). Candidates are looked up in the synthetic catalogue; throws
// std::invalid_argument for a name it does not know or a record without a timeline.
std::vector<RankedSubMotion> RankTruthSubMotions(const nlohmann::ordered_json& truth,
                                                 const std::vector<std::string>& candidates);

}  // namespace vstar::synth
