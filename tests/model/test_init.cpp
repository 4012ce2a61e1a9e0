// vs-init: a fresh checkpoint with a tokenizer trained on a corpus. The tokenizer is checked against the
// `tokenizers` package (same ids for the same text) and the checkpoint against transformers (loads with
// no missing or unexpected keys); the weight statistics against transformers' initialisation rule.
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "model/config.hpp"
#include "model/qwen_vl.hpp"
#include "model/safetensors.hpp"
#include "model/tokenizer.hpp"
#include "support.hpp"

namespace fs = std::filesystem;
using namespace vstar::model;

namespace {

const std::vector<std::string>& Corpus() {
  static const std::vector<std::string> lines = {
      "[1] Right forearm: raised, oscillates side to side, 3 cycles; Legs: still.",
      "[2] Candidates: wave, clap, arms cross.",
      "[3] Scores: wave 0.9, clap 0.1, arms cross 0.0.",
      "<answer>wave</answer>",
      "Both arms: abduct to overhead and return; Legs: abduct and return in time with the arms.",
      "[1] Legs: bend at the knees, hips lower; Torso: stays upright; Arms: reach forward.",
      "<answer>squat</answer>",
      "The person raises the right forearm and waves it side to side while the legs stay still.",
  };
  return lines;
}

fs::path MakeCheckpoint(const std::string& tag, const std::string& seed = "7") {
  fs::path dir = vstar::test::TempDir("init-" + tag);
  std::string corpus;
  for (int rep = 0; rep < 5; ++rep)
    for (const auto& l : Corpus()) corpus += l + "\n";
  vstar::test::WriteFile(dir / "corpus.txt", corpus);
  auto r = vstar::test::Run({"vs-init", "--out", (dir / "model").string(), "--config",
                             (vstar::test::FixtureDir() / "model/tiny/model/config.json").string(), "--corpus",
                             (dir / "corpus.txt").string(), "--vocab-size", "400", "--seed", seed});
  INFO(r.err);
  REQUIRE(r.status == 0);
  return dir / "model";
}

}  // namespace

TEST_CASE("init: vs-init trains a tokenizer that round-trips and merges frequent words", "[init]") {
  VSTAR_REQUIRE_BINARY("vs-init");
  const fs::path dir = MakeCheckpoint("tok");
  const Tokenizer tok = Tokenizer::Load(dir);
  CHECK(tok.size() == tok.added_tokens().size() + tok.merges_size() + 256);
  CHECK(tok.merges_size() > 50);
  size_t chars = 0, tokens = 0;
  for (const auto& line : Corpus()) {
    INFO(line);
    auto ids = tok.Encode(line);
    CHECK(tok.Decode(ids) == line);
    chars += line.size();
    tokens += ids.size();
  }
  // Merges compress the text they were trained on (digits stay single: the Qwen2 split isolates them).
  CHECK(tokens * 3 < chars);
  // Specials are single ids; text never seen still encodes (byte alphabet) and decodes.
  CHECK(tok.Encode("<|im_start|>assistant\n").size() >= 2);
  CHECK(tok.Encode("<|im_start|>")[0] == *tok.TokenToId("<|im_start|>"));
  const std::string unseen = "Zebra — 42 ünïcödé";
  CHECK(tok.Decode(tok.Encode(unseen)) == unseen);
}

TEST_CASE("init: weights follow the initialisation rule, the config matches the tokenizer, seeds repeat",
          "[init]") {
  VSTAR_REQUIRE_BINARY("vs-init");
  const fs::path a = MakeCheckpoint("a");
  const Tokenizer tok = Tokenizer::Load(a);
  const QwenVLConfig cfg = LoadConfig(a);
  CHECK(cfg.vocab_size % 64 == 0);
  CHECK(cfg.vocab_size >= static_cast<int64_t>(tok.size()));
  CHECK(cfg.video_token_id == *tok.TokenToId("<|video_pad|>"));
  CHECK(cfg.eos_token_id == *tok.TokenToId("<|im_end|>"));
  QwenVL model = QwenVL::Load(a);
  for (const auto& [name, t] : model.NamedParameters()) {
    INFO(name);
    if (name.size() > 5 && name.compare(name.size() - 5, 5, ".bias") == 0) {
      CHECK(t.abs().max().item<float>() == 0.0f);
    } else if (t.dim() == 1) {
      CHECK(t.eq(1.0f).all().item<bool>());
    } else if (t.numel() > 1000) {
      CHECK(t.std().item<double>() == Approx(0.02).epsilon(0.1));
      CHECK(std::abs(t.mean().item<double>()) < 0.002);
    }
  }
  auto ids = torch::tensor(tok.Encode(Corpus()[0]), torch::kLong).unsqueeze(0);
  ModelInputs in;
  in.input_ids = ids;
  auto out = model.Forward(in);
  CHECK(torch::isfinite(out.logits).all().item<bool>());

  const fs::path b = MakeCheckpoint("b");
  const fs::path c = MakeCheckpoint("c", "8");
  auto weights = [](const fs::path& d) { return vstar::test::ReadFile(d / "model.safetensors"); };
  CHECK(weights(a) == weights(b));
  CHECK(weights(a) != weights(c));
  CHECK(vstar::test::ReadFile(a / "tokenizer.json") == vstar::test::ReadFile(c / "tokenizer.json"));
}

TEST_CASE("init: a corpus of conversation records trains on their message texts, not their JSON", "[init]") {
  VSTAR_REQUIRE_BINARY("vs-init");
  const fs::path plain = MakeCheckpoint("plain");
  // The same texts, packed two per record as vs-decompose writes them (a string content counts too).
  const fs::path dir = vstar::test::TempDir("init-records");
  std::string records;
  for (int rep = 0; rep < 5; ++rep) {
    const auto& c = Corpus();
    for (size_t i = 0; i + 1 < c.size(); i += 2) {
      nlohmann::json rec = {{"id", "r"}, {"messages", nlohmann::json::array({
                                              {{"role", "user"}, {"content", {{{"type", "video"}, {"frames", {"a.png"}}},
                                                                              {{"type", "text"}, {"text", c[i]}}}}},
                                              {{"role", "assistant"}, {"content", c[i + 1]}}})}};
      records += rec.dump() + "\n";
    }
  }
  vstar::test::WriteFile(dir / "chains.jsonl", records);
  auto r = vstar::test::Run({"vs-init", "--out", (dir / "model").string(), "--config",
                             (vstar::test::FixtureDir() / "model/tiny/model/config.json").string(), "--corpus",
                             (dir / "chains.jsonl").string(), "--vocab-size", "400", "--seed", "7"});
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK(vstar::test::ReadFile(dir / "model/tokenizer.json") == vstar::test::ReadFile(plain / "tokenizer.json"));
}

TEST_CASE("init: vs-init refuses to overwrite and needs exactly one tokenizer source", "[init]") {
  VSTAR_REQUIRE_BINARY("vs-init");
  const fs::path dir = MakeCheckpoint("refuse");
  const std::string config = (vstar::test::FixtureDir() / "model/tiny/model/config.json").string();
  auto again = vstar::test::Run({"vs-init", "--out", dir.string(), "--config", config, "--tokenizer", dir.string()});
  CHECK(again.status == 2);
  CHECK(again.err.find("--force") != std::string::npos);
  auto both = vstar::test::Run({"vs-init", "--out", (dir.parent_path() / "x").string(), "--config", config,
                                "--tokenizer", dir.string(), "--corpus", (dir.parent_path() / "corpus.txt").string()});
  CHECK(both.status == 2);
  CHECK(!fs::exists(dir.parent_path() / "x"));
  auto copy = vstar::test::Run({"vs-init", "--out", (dir.parent_path() / "copy").string(), "--config", config,
                                "--tokenizer", dir.string()});
  INFO(copy.err);
  CHECK(copy.status == 0);
  CHECK(vstar::test::ReadFile(dir.parent_path() / "copy/tokenizer.json") == vstar::test::ReadFile(dir / "tokenizer.json"));
}

TEST_CASE("init: vs-init --tokenizer gives added tokens above a small vocabulary their rows",
          "[init]") {
  VSTAR_REQUIRE_BINARY("vs-init");
  // The tiny fixture's tokenizer: 443 byte-level symbols, Qwen's special tokens kept at 1000-1007.
  const fs::path tiny = vstar::test::FixtureDir() / "model/tiny/model";
  const fs::path out = vstar::test::TempDir("init-sparse") / "model";
  auto r = vstar::test::Run({"vs-init", "--out", out.string(), "--config",
                             (tiny / "config.json").string(), "--tokenizer", tiny.string()});
  INFO(r.err);
  REQUIRE(r.status == 0);
  const auto config = nlohmann::json::parse(vstar::test::ReadFile(out / "config.json"));
  const auto& text = config.contains("text_config") ? config["text_config"] : config;
  CHECK(text["vocab_size"] == 1024);  // 1008 ids, rounded up to a multiple of 64
  CHECK(config["video_token_id"] == 1007);
}

TEST_CASE("init: the tokenizers package encodes like ours, transformers loads the checkpoint",
          "[init][python]") {
  VSTAR_REQUIRE_BINARY("vs-init");
  VSTAR_REQUIRE_VENV();
  const fs::path dir = MakeCheckpoint("hf");
  const Tokenizer tok = Tokenizer::Load(dir);
  std::vector<std::string> texts = Corpus();
  texts.push_back("<|im_start|>user\n<|vision_start|><|video_pad|><|vision_end|>What is shown?<|im_end|>\n");
  texts.push_back("Zebra — 42 ünïcödé\r\n\ttabs  and   spaces");
  nlohmann::json j = texts;
  vstar::test::WriteFile(dir.parent_path() / "texts.json", j.dump());
  const std::string script =
      "import json,sys\n"
      "from tokenizers import Tokenizer\n"
      "t=Tokenizer.from_file(sys.argv[1]+'/tokenizer.json')\n"
      "texts=json.load(open(sys.argv[2]))\n"
      "print(json.dumps([t.encode(s).ids for s in texts]))\n";
  auto r = vstar::test::Run({vstar::test::VenvPython().string(), "-c", script, dir.string(),
                             (dir.parent_path() / "texts.json").string()});
  INFO(r.err);
  REQUIRE(r.status == 0);
  auto theirs = nlohmann::json::parse(r.out);
  REQUIRE(theirs.size() == texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    INFO(texts[i]);
    CHECK(theirs[i].get<std::vector<int64_t>>() == tok.Encode(texts[i]));
  }
  auto hf = vstar::test::Run({vstar::test::VenvPython().string(),
                              (vstar::test::SourceDir() / "tools/golden/safetensors_check.py").string(), dir.string()});
  INFO(hf.err);
  REQUIRE(hf.status == 0);
  auto report = nlohmann::json::parse(hf.out);
  CHECK(report["missing_keys"].empty());
  CHECK(report["unexpected_keys"].empty());
  CHECK(report["mismatched_keys"].empty());
}
