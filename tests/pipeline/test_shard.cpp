// Sharded evaluation without a scheduler: a miniature world (vs-synth) through vs-decode --shard I/4
// -> vs-policy (the tiny test model, greedy) -> vs-reward, four times, and the four outputs
// concatenated into vs-eval give the report of one unsharded run, records and markdown alike.
#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "support.hpp"

namespace test = vstar::test;
namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

namespace {

// Drops what is measured rather than computed (timings), recursively.
Json Unmeasured(Json j) {
  if (j.is_object()) {
    Json out = Json::object();
    for (auto& [k, v] : j.items())
      if (k != "timing" && k != "seconds" && k != "seconds_per_video") out[k] = Unmeasured(v);
    return out;
  }
  if (j.is_array())
    for (auto& v : j) v = Unmeasured(v);
  return j;
}

std::string Stage(const std::vector<std::string>& argv, const std::string& input) {
  auto r = test::Run(argv, input);
  INFO(argv[0] << " stderr:\n" << r.err);
  REQUIRE(r.status == 0);
  return r.out;
}

std::vector<std::string> Ids(const std::string& jsonl) {
  std::vector<std::string> ids;
  for (const auto& l : test::Lines(jsonl)) ids.push_back(Json::parse(l)["id"].get<std::string>());
  return ids;
}

}  // namespace

TEST_CASE("shard: 4 shards of decode -> policy -> reward, concatenated into vs-eval, equal one run",
          "[pipeline][shard]") {
  for (const char* b : {"vs-synth", "vs-decode", "vs-policy", "vs-reward", "vs-eval"}) VSTAR_REQUIRE_BINARY(b);
  const fs::path dir = test::TempDir("shard-pipeline");
  const fs::path world = dir / "world";
  Stage({"vs-synth", "--out", world.string(), "--split", "base", "--per-class", "2", "--seed", "5", "--seconds",
         "1", "--classes", "wave,sit_down,jumping_jack", "--progress", "never"},
        "");
  const std::string manifest = test::ReadFile(world / "manifest.jsonl");
  const size_t total = test::Lines(manifest).size();
  REQUIRE(total == 6);
  const std::string classes = (world / "classes.txt").string();
  const std::string model = (test::FixtureDir() / "model" / "tiny" / "model").string();

  auto chain = [&](std::vector<std::string> shard) {
    std::vector<std::string> decode = {"vs-decode", "--root", world.string(), "--sample", "uniform:4",
                                       "--progress", "never"};
    decode.insert(decode.end(), shard.begin(), shard.end());
    std::string frames = Stage(decode, manifest);
    std::string policy = Stage({"vs-policy", "--model", model, "--dtype", "fp32", "--device", "cpu",
                                "--candidates", classes, "--max-new-tokens", "8", "--video-max-pixels",
                                "25088", "--tools", "none", "--batch", "1", "--progress", "never"},
                               frames);
    return Stage({"vs-reward", "--classes", classes, "--progress", "never"}, policy);
  };
  auto report = [&](const std::string& preds, const fs::path& json) {
    return Stage({"vs-eval", "--classes", classes, "--json", json.string()}, preds);
  };

  const std::string single = chain({});
  REQUIRE(Ids(single) == Ids(manifest));
  std::string merged;
  std::multiset<std::string> seen;
  for (int i = 0; i < 4; ++i) {
    std::string part = chain({"--shard", std::to_string(i) + "/4"});
    for (const auto& id : Ids(part)) seen.insert(id);
    merged += part;
  }
  auto ids = Ids(manifest);
  CHECK(seen == std::multiset<std::string>(ids.begin(), ids.end()));  // each record in exactly one shard

  // The same records, field for field (apart from timings), whichever shard computed them.
  std::map<std::string, Json> one, many;
  for (const auto& l : test::Lines(single)) one[Json::parse(l)["id"].get<std::string>()] = Unmeasured(Json::parse(l));
  for (const auto& l : test::Lines(merged)) many[Json::parse(l)["id"].get<std::string>()] = Unmeasured(Json::parse(l));
  CHECK(one == many);

  const std::string md_one = report(single, dir / "one.json");
  const std::string md_many = report(merged, dir / "many.json");
  CHECK(md_one.find("| run") != std::string::npos);
  CHECK(md_one == md_many);
  CHECK(Unmeasured(Json::parse(test::ReadFile(dir / "one.json"))) ==
        Unmeasured(Json::parse(test::ReadFile(dir / "many.json"))));
}

TEST_CASE("shard: --shard-by order splits a stage's input by position, each record once", "[pipeline][shard]") {
  VSTAR_REQUIRE_BINARY("vs-explain");
  const fs::path dir = test::TempDir("shard-order");
  test::WriteFile(dir / "classes.txt", "wave\nsit_down\njumping_jack\nclap\nrun\n");
  std::vector<std::string> all;
  for (int i = 0; i < 2; ++i) {
    auto out = Stage({"vs-explain", "--what", "classes", "--classes", (dir / "classes.txt").string(), "--shard",
                      std::to_string(i) + "/2", "--shard-by", "order", "--progress", "never"},
                     "");
    for (const auto& l : test::Lines(out)) all.push_back(Json::parse(l)["class"].get<std::string>());
  }
  CHECK(all == std::vector<std::string>{"wave", "jumping_jack", "run", "sit_down", "clap"});
}
