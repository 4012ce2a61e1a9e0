// Label aliasing (vs-decompose --alias-labels): made-up names from the conversation's words,
// renamed whole-word and in one pass through every text of the conversation, chosen per record and
// seed.
#include <algorithm>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "policy/label_alias.hpp"
#include "support.hpp"

using namespace vstar;
using Json = nlohmann::ordered_json;

TEST_CASE(
    "label aliases: as many words as the name, from the pool, distinct and free of every name",
    "[policy][alias]") {
  const std::vector<std::string> names = {"Wave", "Raise both arms", "Sit down", "Jumping jack"};
  const std::vector<std::string> pool = {"forearm", "sways", "side", "knees",
                                         "bend",    "wave",  "lift", "arms"};
  auto a = policy::LabelAliases(names, pool, "clip1", 7);
  REQUIRE(a.size() == names.size());
  std::set<std::string> distinct;
  for (const auto& n : names) {
    const std::string& alias = a.at(n);
    INFO(n << " -> " << alias);
    distinct.insert(alias);
    CHECK(std::isupper(static_cast<unsigned char>(alias[0])));
    CHECK(std::count(alias.begin(), alias.end(), ' ') == std::count(n.begin(), n.end(), ' '));
    for (const auto& other : names) CHECK(policy::RenameLabels(alias, {{other, "#"}}) == alias);
    std::string lower = alias;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    std::istringstream words(lower);
    for (std::string w; words >> w;) CHECK(std::find(pool.begin(), pool.end(), w) != pool.end());
  }
  CHECK(distinct.size() == names.size());
  CHECK(policy::LabelAliases(names, pool, "clip1", 7) == a);  // deterministic
  CHECK(policy::LabelAliases(names, pool, "clip2", 7) != a);  // and new for another record
  CHECK_THROWS_AS(policy::LabelAliases(names, {"one", "two"}, "x", 0), std::invalid_argument);
}

TEST_CASE("label renaming is whole-word, longest name first, and never renames an alias again",
          "[policy][alias]") {
  const std::map<std::string, std::string> aliases = {
      {"Sit", "Lift"}, {"Sit down", "Bend side"}, {"Lift", "Knees"}};
  CHECK(policy::RenameLabels("- Sit down: 9\n- Sit: 3\n<answer>Sit down</answer>", aliases) ==
        "- Bend side: 9\n- Lift: 3\n<answer>Bend side</answer>");
  // "Lift" the name is renamed, "Lift" the alias written for "Sit" is not; parts of words stay.
  CHECK(policy::RenameLabels("Sit, Lift, Sitting, unSit", aliases) ==
        "Lift, Knees, Sitting, unSit");
}

TEST_CASE(
    "label renaming covers every text item of a conversation, and the record choice follows the "
    "fraction",
    "[policy][alias]") {
  Json conv = Json::array(
      {{{"role", "user"},
        {"content",
         Json::array({{{"type", "video"}, {"frames", {"Wave.png"}}},
                      {{"type", "text"},
                       {"text", "Candidates:\nWave: forearm sways\nClap: hands meet"}}})}},
       {{"role", "assistant"}, {"content", "<answer>Wave</answer>"}}});
  auto words = policy::ConversationWords({&conv});
  CHECK(words == std::vector<std::string>{"candidates", "wave", "forearm", "sways", "clap", "hands",
                                          "meet", "answer"});
  policy::RenameLabelsInConversation(conv, {{"Wave", "Meet sways"}, {"Clap", "Hands"}});
  CHECK(conv[0]["content"][0]["frames"][0] == "Wave.png");  // paths are not text
  CHECK(conv[0]["content"][1]["text"] ==
        "Candidates:\nMeet sways: forearm sways\nHands: hands meet");
  CHECK(conv[1]["content"] == "<answer>Meet sways</answer>");

  int chosen = 0;
  for (int i = 0; i < 1000; ++i) chosen += policy::AliasedRecord("r" + std::to_string(i), 0.3, 5);
  CHECK(chosen > 250);
  CHECK(chosen < 350);
  CHECK(policy::AliasedRecord("r1", 0.3, 5) == policy::AliasedRecord("r1", 0.3, 5));
  CHECK_FALSE(policy::AliasedRecord("r1", 0.0, 5));
  CHECK(policy::AliasedRecord("r1", 1.0, 5));
}
