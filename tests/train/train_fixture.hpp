#pragma once
// Shared by the tests of lib/train: the tiny model, the golden records of tools/golden/sft_goldens.py
// with their frame paths made absolute, the GRPO prompt world with its awk reward, and tensor
// comparisons.
#include <filesystem>
#include <string>
#include <tuple>
#include <vector>

#include <torch/torch.h>

#include "io/record.hpp"
#include "model/safetensors.hpp"
#include "support.hpp"

namespace vstar::test {

inline std::filesystem::path TinyModelDir() { return FixtureDir() / "model" / "tiny" / "model"; }
inline std::filesystem::path TrainFixtures() { return FixtureDir() / "train"; }
// The tiny frames are 84x56: this budget keeps them at their size (no resize), as the goldens do.
inline constexpr int64_t kTinyVideoPixels = 84 * 56;

// Frame paths of a record (relative to the repository root in the fixture) made absolute.
inline io::Json Absolute(io::Json rec) {
  for (auto& m : rec["messages"]) {
    if (!m["content"].is_array()) continue;
    for (auto& it : m["content"]) {
      if (it.value("type", "") == "video")
        for (auto& f : it["frames"]) f = (SourceDir() / f.get<std::string>()).string();
      if (it.value("type", "") == "image") it["path"] = (SourceDir() / it["path"].get<std::string>()).string();
    }
  }
  return rec;
}

inline std::vector<io::Json> GoldenRecords() {
  std::vector<io::Json> out;
  for (const auto& line : Lines(ReadFile(TrainFixtures() / "records.jsonl")))
    if (!line.empty()) out.push_back(Absolute(io::Json::parse(line)));
  return out;
}

// The golden records plus a third (another chain on the first video), one JSON line each.
inline std::filesystem::path WriteRecords(const std::filesystem::path& dir) {
  auto recs = GoldenRecords();
  io::Json c = recs[0];
  c["id"] = "golden-c";
  c["messages"][1]["content"][1]["text"] = "Which action is shown? Answer with one action label.";
  c["messages"][2]["content"][0]["text"] = "<pose>no</pose> <detect>yes</detect>";
  c["messages"][4]["content"][0]["text"] = "[1] The person is jumping.\n<answer>jumping</answer>";
  recs.push_back(c);
  std::string text;
  for (const auto& r : recs) text += r.dump() + "\n";
  const std::filesystem::path file = dir / "records.jsonl";
  WriteFile(file, text);
  return file;
}

// Pays each completion a tenth of its text's length in bytes (the tiny model's padded vocabulary
// rows decode to nothing, so the policy can learn to avoid them): any program that answers
// vs-reward's protocol is a reward (here POSIX awk, no JSON library: the "text" strings after
// "completions").
inline constexpr const char* kLengthReward = R"AWK({
  line = $0
  rest = substr(line, index(line, "\"completions\":["))
  out = ""; n = 0
  while ((p = index(rest, "\"text\":\"")) > 0) {
    rest = substr(rest, p + 8)
    len = 0; i = 1
    while (i <= length(rest)) {
      c = substr(rest, i, 1)
      if (c == "\\") { i += 2; len++; continue }
      if (c == "\"") break
      len++; i++
    }
    rest = substr(rest, i + 1)
    out = out (n++ ? "," : "") "{\"total\":" len / 10 "}"
  }
  sub(/}$/, "", line)
  print line ",\"reward\":{\"completions\":[" out "]}}"
})AWK";

struct World {
  std::filesystem::path dir, prompts, candidates, reward;
};

// Two prompt records over the tiny fixture's frames, a candidate list and the awk reward.
inline World MakeWorld(const std::string& tag) {
  World w;
  w.dir = TempDir(tag);
  const std::filesystem::path media = FixtureDir() / "model" / "tiny" / "media";
  std::string lines;
  for (const auto& [id, label, first] : {std::tuple{"a", "run", 0}, std::tuple{"b", "jump", 1}}) {
    io::Json paths = io::Json::array();
    for (int f = 0; f < 4; ++f) paths.push_back((media / ("vid4_" + std::to_string((first + f) % 4) + ".png")).string());
    lines += io::Json{{"id", id}, {"label", label}, {"frames", {{"paths", paths}, {"sample_fps", 2.0}}}}.dump() + "\n";
  }
  w.prompts = w.dir / "prompts.jsonl";
  WriteFile(w.prompts, lines);
  w.candidates = w.dir / "classes.txt";
  WriteFile(w.candidates, "run\njump\n");
  w.reward = w.dir / "length.awk";
  WriteFile(w.reward, kLengthReward);
  return w;
}

inline std::vector<int64_t> ToVector(const torch::Tensor& t) {
  auto c = t.to(torch::kCPU, torch::kInt64).contiguous();
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

// ||a - b|| / ||b|| in float64.
inline double RelErr(const torch::Tensor& a, const torch::Tensor& b) {
  auto a64 = a.detach().to(torch::kCPU, torch::kFloat64), b64 = b.detach().to(torch::kCPU, torch::kFloat64);
  REQUIRE(a64.sizes() == b64.sizes());
  const double den = b64.norm().item<double>();
  return (a64 - b64).norm().item<double>() / (den > 0 ? den : 1.0);
}

}  // namespace vstar::test
