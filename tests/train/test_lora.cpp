// LoRA (lib/train/lora, vs-sft --lora-rank): the forward, loss and adapter gradients equal peft's on
// the same adapter (tools/golden/lora_goldens.py), merging equals peft's merge_and_unload, the adapter
// vs-sft writes loads in peft with equal logits, --merge output loads in transformers with the
// adapter's logits, and LoRA training lowers the loss, touches nothing but the adapters and resumes
// exactly.
#include <set>
#include <sstream>

#include "model/config.hpp"
#include "model/qwen_vl.hpp"
#include "train/checkpoint.hpp"
#include "train/lora.hpp"
#include "train/sft.hpp"
#include "train_fixture.hpp"

using namespace vstar;
using vstar::io::Json;
namespace fs = std::filesystem;

namespace {

fs::path LoraFixtures() { return test::TrainFixtures() / "lora"; }

std::shared_ptr<model::SafetensorsFile> Golden() {
  static auto g = model::SafetensorsFile::Open(LoraFixtures() / "golden.safetensors");
  return g;
}

train::LoraOptions FixtureOptions() {
  const Json c = Json::parse(test::ReadFile(LoraFixtures() / "adapter_config.json"));
  train::LoraOptions o;
  o.rank = c["r"];
  o.alpha = c["lora_alpha"];
  return o;  // the default targets: the fixture adapts the same seven projections of each layer
}

std::set<std::string> Strings(const Json& a) {
  std::set<std::string> s;
  for (const auto& x : a) s.insert(x.get<std::string>());
  return s;
}

// The golden records plus one more chain, as the SFT tests train on.
fs::path WriteRecords(const fs::path& dir) {
  std::string text;
  for (const auto& r : test::GoldenRecords()) text += r.dump() + "\n";
  const fs::path file = dir / "records.jsonl";
  test::WriteFile(file, text);
  return file;
}

std::vector<std::string> SftArgs(const fs::path& out, const fs::path& records, std::vector<std::string> more) {
  std::vector<std::string> a = {"vs-sft", "--model", test::TinyModelDir().string(), "--output", out.string(), "-i",
                                records.string(), "--video-max-pixels", std::to_string(test::kTinyVideoPixels),
                                "--log-level", "warn"};
  a.insert(a.end(), more.begin(), more.end());
  return a;
}

std::vector<std::string> IdArgs(const torch::Tensor& ids) {
  std::vector<std::string> out;
  for (int64_t b = 0; b < ids.size(0); ++b) {
    std::string seq;
    for (int64_t i = 0; i < ids.size(1); ++i) seq += (i ? "," : "") + std::to_string(ids[b][i].item<int64_t>());
    out.push_back(seq);
  }
  return out;
}

torch::Tensor Logits(const model::QwenVL& m, const torch::Tensor& ids) {
  torch::NoGradGuard ng;
  model::ModelInputs in;
  in.input_ids = ids;
  return m.Forward(in).logits;
}

}  // namespace

TEST_CASE("lora golden: logits, loss and adapter gradients equal peft's on the same adapter (fp32 relative 1e-5)",
          "[train][lora][golden]") {
  torch::set_num_threads(1);
  auto m = model::QwenVL::Load(test::TinyModelDir());
  auto lora = train::Lora::Attach(m, FixtureOptions());
  lora.Load(LoraFixtures());
  lora.SetTraining(false);

  // vs-sft's adapter files name what peft names: the same target modules and tensor keys.
  const Json conf = Json::parse(test::ReadFile(LoraFixtures() / "adapter_config.json"));
  CHECK(Strings(lora.PeftConfig(test::TinyModelDir())["target_modules"]) == Strings(conf["target_modules"]));
  std::set<std::string> mine, theirs;
  for (const auto& [k, t] : lora.PeftTensors()) mine.insert(k);
  const auto file = model::SafetensorsFile::Open(LoraFixtures() / "adapter_model.safetensors");
  for (const auto& [k, info] : file->tensors()) theirs.insert(k);
  CHECK(mine == theirs);
  CHECK(mine.count("base_model.model.model.language_model.layers.0.self_attn.q_proj.lora_A.weight") == 1);

  const auto ids = Golden()->Get("ids").clone();
  model::ModelInputs in;
  in.input_ids = ids;
  auto logits = m.Forward(in).logits;
  CHECK(test::RelErr(logits, Golden()->Get("logits")) <= 1e-5);
  auto loss = model::CausalLmLoss(logits, ids);
  const double want = Golden()->Get("loss").item<double>();
  CHECK(std::abs(loss.item<double>() - want) <= 1e-5 * want);
  loss.backward();
  for (const auto& [name, t] : lora.Parameters()) {
    INFO(name);
    REQUIRE(t.grad().defined());
    CHECK(test::RelErr(t.grad(), Golden()->Get("grad." + train::PeftKey(name))) <= 1e-5);
  }
  for (const auto& [name, t] : m.NamedParameters()) CHECK(!t.grad().defined());  // the base stays frozen

  // Merged weights (W + scaling B A) give merge_and_unload's logits.
  const model::Checkpoint base = model::Checkpoint::Open(test::TinyModelDir());
  train::NamedParams w;
  for (const auto& [name, t] : m.NamedParameters()) w.emplace_back(name, base.Get(name).to(torch::kFloat32));
  lora.MergeInto(w);
  const fs::path dir = test::TempDir("lora-merged");
  model::SaveCheckpoint(w, dir);
  model::SaveConfig(m.config(), dir / "config.json");
  CHECK(test::RelErr(Logits(model::QwenVL::Load(dir), ids), Golden()->Get("merged_logits")) <= 1e-5);
}

TEST_CASE("lora: --lora-targets selects decoder layers by name or dotted suffix, never the vision tower",
          "[train][lora]") {
  auto m = model::QwenVL::Load(test::TinyModelDir());
  train::LoraOptions o;
  o.rank = 2;
  o.targets = {"layers.1.mlp.up_proj", "self_attn.v_proj"};
  auto lora = train::Lora::Attach(m, o);
  CHECK(Strings(lora.PeftConfig(test::TinyModelDir())["target_modules"]) ==
        std::set<std::string>{"layers.0.self_attn.v_proj", "layers.1.self_attn.v_proj", "layers.1.mlp.up_proj"});
  // A fresh adapter leaves the output as it was (B = 0) and A is kaiming-uniform: |A| <= 1/sqrt(in).
  for (const auto& [name, t] : lora.Parameters()) {
    INFO(name);
    if (name.ends_with("lora_B.weight")) CHECK(t.abs().max().item<double>() == 0.0);
    else CHECK(t.abs().max().item<double>() <= 1.0 / std::sqrt(static_cast<double>(t.size(1))));
  }
  auto plain = model::QwenVL::Load(test::TinyModelDir());
  auto ids = Golden()->Get("ids").clone();
  CHECK(torch::equal(Logits(m, ids), Logits(plain, ids)));

  auto other = model::QwenVL::Load(test::TinyModelDir());
  o.targets = {"merger.mlp.0"};  // a vision layer: not a decoder layer
  CHECK_THROWS_WITH(train::Lora::Attach(other, o), Catch::Contains("matches no Linear layer"));
}

TEST_CASE("vs-sft --lora-rank: the adapter loads in peft with equal logits", "[train][lora][python]") {
  VSTAR_REQUIRE_BINARY("vs-sft");
  VSTAR_REQUIRE_VENV();
  const fs::path dir = test::TempDir("lora-peft");
  const fs::path out = dir / "run";
  auto r = test::Run(SftArgs(out, WriteRecords(dir),
                             {"--max-steps", "3", "--lr", "1e-2", "--lora-rank", "4", "--lora-alpha", "8"}));
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK(!fs::exists(out / "model.safetensors"));
  CHECK(!fs::exists(out / "config.json"));
  CHECK(fs::exists(out / "tokenizer.json"));
  CHECK(fs::exists(out / "checkpoint-3" / "adapter_model.safetensors"));
  CHECK(fs::exists(out / "checkpoint-3" / "optimizer.safetensors"));
  const Json conf = Json::parse(test::ReadFile(out / "adapter_config.json"));
  CHECK(conf["peft_type"] == "LORA");
  CHECK(conf["task_type"] == "CAUSAL_LM");
  CHECK(conf["bias"] == "none");
  CHECK(conf["r"] == 4);
  CHECK(conf["lora_alpha"] == 8.0);
  CHECK(fs::path(conf["base_model_name_or_path"].get<std::string>()) == fs::absolute(test::TinyModelDir()).lexically_normal());

  const auto ids = Golden()->Get("ids").clone();
  std::vector<std::string> argv = {test::VenvPython().string(), (test::SourceDir() / "tools/golden/lora_check.py").string(),
                                   test::TinyModelDir().string(), out.string(), (dir / "logits.safetensors").string()};
  for (auto& s : IdArgs(ids)) argv.push_back(s);
  auto py = test::Run(argv);
  INFO(py.err);
  REQUIRE(py.status == 0);
  const Json report = Json::parse(py.out);
  CHECK(report["adapted"].size() == 14);  // 7 projections x 2 layers
  CHECK(report["missing"].empty());
  CHECK(report["unexpected"].empty());
  auto theirs = model::SafetensorsFile::Open(dir / "logits.safetensors")->Get("logits");

  auto m = model::QwenVL::Load(test::TinyModelDir());
  train::LoraOptions o;
  o.rank = 4;
  o.alpha = 8;
  auto lora = train::Lora::Attach(m, o);
  lora.Load(out);
  lora.SetTraining(false);
  CHECK(test::RelErr(Logits(m, ids), theirs) <= 1e-5);
  // Training moved the adapter away from its zero start.
  auto base = model::QwenVL::Load(test::TinyModelDir());
  CHECK(test::RelErr(Logits(base, ids), theirs) > 1e-4);
}

TEST_CASE("vs-sft --lora-rank --merge: the merged model loads in transformers with the adapter's logits",
          "[train][lora][python]") {
  VSTAR_REQUIRE_BINARY("vs-sft");
  VSTAR_REQUIRE_VENV();
  const fs::path dir = test::TempDir("lora-merge");
  const fs::path out = dir / "run";
  auto r = test::Run(SftArgs(out, WriteRecords(dir),
                             {"--max-steps", "3", "--lr", "1e-2", "--lora-rank", "4", "--lora-targets",
                              "q_proj,v_proj,down_proj", "--merge"}));
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK(!fs::exists(out / "adapter_config.json"));  // transformers would load base + adapter instead
  CHECK(fs::exists(out / "adapter" / "adapter_model.safetensors"));
  const auto ids = Golden()->Get("ids").clone();
  std::vector<std::string> argv = {test::VenvPython().string(), (test::SourceDir() / "tools/golden/sft_check.py").string(),
                                   out.string(), (dir / "logits.safetensors").string()};
  for (auto& s : IdArgs(ids)) argv.push_back(s);
  auto py = test::Run(argv);
  INFO(py.err);
  REQUIRE(py.status == 0);
  const Json report = Json::parse(py.out);
  CHECK(report["missing_keys"].empty());
  CHECK(report["unexpected_keys"].empty());
  CHECK(report["mismatched_keys"].empty());
  auto theirs = model::SafetensorsFile::Open(dir / "logits.safetensors")->Get("logits");

  auto m = model::QwenVL::Load(test::TinyModelDir());
  train::LoraOptions o;
  o.rank = 4;
  o.targets = {"q_proj", "v_proj", "down_proj"};
  auto lora = train::Lora::Attach(m, o);
  lora.Load(out / "adapter");
  lora.SetTraining(false);
  auto adapter_logits = Logits(m, ids);
  CHECK(test::RelErr(adapter_logits, theirs) <= 1e-5);
  CHECK(test::RelErr(Logits(model::QwenVL::Load(test::TinyModelDir()), ids), theirs) > 1e-4);
  // vs-policy loads the merged model the same way.
  CHECK(test::RelErr(Logits(model::QwenVL::Load(out), ids), adapter_logits) <= 1e-5);
}

TEST_CASE("vs-sft LoRA lowers the loss, trains only the adapters and resumes exactly (dropout included)",
          "[train][lora][resume]") {
  const fs::path dir = test::TempDir("lora-train");
  train::SftOptions o;
  o.model_dir = test::TinyModelDir().string();
  o.inputs = {WriteRecords(dir).string()};
  o.data.video_max_pixels = test::kTinyVideoPixels;
  o.lora.rank = 8;
  o.lora.alpha = 16;
  o.lora.dropout = 0.1;
  o.optim.lr = 1e-2;
  o.optim.schedule = "constant";
  std::ostringstream errors;

  o.max_steps = 30;
  o.batch = 2;
  o.output_dir = (dir / "learn").string();
  o.metrics_file = (dir / "learn.jsonl").string();
  auto learn = train::RunSft(o, errors);
  REQUIRE(learn.exit_code == 0);
  INFO("first loss " << learn.metrics.front().loss << ", last " << learn.metrics.back().loss);
  CHECK(learn.metrics.back().loss < 0.5 * learn.metrics.front().loss);
  for (const auto& [name, t] : train::ReadOptimizerState(dir / "learn" / "checkpoint-30"))
    CHECK(name.find(".lora_") != std::string::npos);

  o.max_steps = 6;
  o.batch = 1;
  o.grad_accum = 2;
  o.save_steps = 2;
  o.optim.schedule = "cosine";
  o.optim.warmup_steps = 2;
  o.output_dir = (dir / "a").string();
  o.metrics_file = (dir / "a.jsonl").string();
  auto a = train::RunSft(o, errors);
  REQUIRE(a.metrics.size() == 6);
  o.output_dir = (dir / "b").string();
  o.metrics_file = (dir / "b.jsonl").string();
  train::SftHooks stop;
  stop.after_step = [](const train::StepMetrics& m) { return m.step < 3; };
  train::RunSft(o, errors, stop);
  REQUIRE(train::LatestCheckpoint(dir / "b") == dir / "b" / "checkpoint-2");
  o.resume = true;
  auto b = train::RunSft(o, errors);
  REQUIRE(b.metrics.size() == 4);
  for (size_t i = 0; i < 4; ++i) {
    INFO("step " << a.metrics[i + 2].step);
    CHECK(b.metrics[i].loss == a.metrics[i + 2].loss);
    CHECK(b.metrics[i].grad_norm == a.metrics[i + 2].grad_norm);
  }
  CHECK(test::ReadFile(dir / "a" / "adapter_model.safetensors") == test::ReadFile(dir / "b" / "adapter_model.safetensors"));
  CHECK(test::ReadFile(dir / "a" / "checkpoint-6" / "optimizer.safetensors") ==
        test::ReadFile(dir / "b" / "checkpoint-6" / "optimizer.safetensors"));
  // Another adapter shape is another run.
  o.lora.rank = 4;
  CHECK_THROWS_WITH(train::RunSft(o, errors), Catch::Contains("different run"));
  // Only the adapters train: --freeze has nothing left to decide.
  o.resume = false;
  o.freeze = "vision";
  o.output_dir = (dir / "c").string();
  CHECK_THROWS_WITH(train::RunSft(o, errors), Catch::Contains("only the adapters train"));
  CHECK(errors.str().empty());
}
