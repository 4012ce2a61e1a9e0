// vs-sft end to end on the tiny model: it learns (greedy decoding then reproduces the chains token for
// token), its output loads in transformers with equal logits, a resumed run equals an uninterrupted
// one bit for bit, SIGKILL (mid-run and during a checkpoint write) loses nothing, and bad input gets
// clear messages and the documented exit codes.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <sstream>
#include <thread>

#include "model/chat_template.hpp"
#include "model/qwen_vl.hpp"
#include "policy/engine.hpp"
#include "train/checkpoint.hpp"
#include "train/sft.hpp"
#include "train_fixture.hpp"

extern char** environ;

using namespace vstar;
using vstar::io::Json;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> BaseArgs(const fs::path& out, const fs::path& records) {
  return {"vs-sft", "--model", test::TinyModelDir().string(), "--output", out.string(), "-i", records.string(),
          "--video-max-pixels", std::to_string(test::kTinyVideoPixels), "--log-level", "warn"};
}

std::vector<std::string> Plus(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::vector<Json> JsonLines(const std::string& text) {
  std::vector<Json> out;
  for (const auto& l : test::Lines(text))
    if (!l.empty()) out.push_back(Json::parse(l));
  return out;
}

// Starts a binary of build/bin without waiting (stdout/stderr to /dev/null).
pid_t Spawn(const std::vector<std::string>& argv) {
  std::vector<std::string> args = argv;
  args[0] = (test::BinDir() / argv[0]).string();
  std::vector<char*> cargv;
  for (auto& a : args) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, cargv[0], &fa, nullptr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  REQUIRE(rc == 0);
  return pid;
}

// Kills `pid` with SIGKILL as soon as `path` exists; false when the process ended first.
bool KillWhenExists(pid_t pid, const fs::path& path) {
  int status = 0;
  while (true) {
    if (fs::exists(path)) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return WIFSIGNALED(status);
    }
    if (::waitpid(pid, &status, WNOHANG) == pid) return false;
  }
}

void CheckCompleteCheckpoints(const fs::path& dir) {
  for (const auto& [step, path] : train::ListCheckpoints(dir)) {
    INFO(path);
    CHECK(fs::exists(path / "trainer_state.json"));
    CHECK(fs::exists(path / "optimizer.safetensors"));
    CHECK(train::ReadTrainerState(path)["step"].get<int64_t>() == step);
    CHECK(model::Checkpoint::Open(path).Has("model.embed_tokens.weight"));
  }
}

}  // namespace

TEST_CASE("vs-sft learns the chains: loss near zero and greedy decoding reproduces both turns", "[train][sft][pipeline]") {
  VSTAR_REQUIRE_BINARY("vs-sft");
  const fs::path dir = test::TempDir("sft-learn");
  const fs::path records = test::WriteRecords(dir);
  const fs::path out = dir / "run";
  auto r = test::Run(Plus(BaseArgs(out, records), {"--max-steps", "60", "--lr", "1e-2", "--schedule", "constant",
                                                   "--batch", "3", "--metrics", (dir / "m.jsonl").string()}));
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK(r.out.empty());  // no error records
  auto metrics = JsonLines(test::ReadFile(dir / "m.jsonl"));
  REQUIRE(metrics.size() == 60);
  for (const char* key : {"step", "epoch", "loss", "lr", "grad_norm", "tokens_per_s", "trained_tokens", "tokens"})
    CHECK(metrics.back().contains(key));
  CHECK(metrics.front()["loss"].get<double>() > 3.0);
  CHECK(metrics.back()["loss"].get<double>() < 0.02);
  CHECK(fs::exists(out / "training.png"));
  CHECK(fs::exists(out / "tokenizer.json"));
  CHECK(fs::exists(out / "checkpoint-60" / "optimizer.safetensors"));

  policy::PolicyOptions po;
  po.model_dir = out.string();
  po.dtype = "fp32";
  po.video_max_pixels = test::kTinyVideoPixels;
  po.max_new_tokens = 64;
  auto engine = policy::PolicyEngine::Load(po, torch::kCPU);
  for (const auto& line : test::Lines(test::ReadFile(records))) {
    if (line.empty()) continue;
    const Json rec = Json::parse(line);
    INFO(rec["id"]);
    const Json& msgs = rec["messages"];
    Json frames;
    for (const auto& m : msgs)
      if (m["content"].is_array())
        for (const auto& it : m["content"])
          if (it["type"] == "video") frames = Json{{"paths", it["frames"]}, {"sample_fps", it["sample_fps"]}};
    std::vector<policy::Conversation> convs;
    std::vector<std::string> want;
    for (size_t k = 0; k < msgs.size(); ++k) {
      if (msgs[k]["role"] != "assistant") continue;
      policy::Conversation c;
      c.messages = model::ChatMessagesFromJson(Json(msgs.begin(), msgs.begin() + static_cast<long>(k)));
      c.videos.push_back(engine->VideoFromFrames(frames));
      convs.push_back(std::move(c));
      const Json& content = msgs[k]["content"];
      want.push_back(content.is_string() ? content.get<std::string>() : content[0]["text"].get<std::string>());
    }
    auto responses = engine->Respond(convs);
    REQUIRE(responses.size() == want.size());
    for (size_t t = 0; t < want.size(); ++t) {
      INFO("turn " << t + 1);
      CHECK(responses[t].text == want[t]);
      CHECK(responses[t].finish_reason == "stop");
      auto ids = engine->tokenizer().Encode(want[t] + "<|im_end|>");
      CHECK(responses[t].tokens == ids);
    }
  }
}

TEST_CASE("vs-sft output loads in transformers with equal logits", "[train][sft][python]") {
  VSTAR_REQUIRE_BINARY("vs-sft");
  VSTAR_REQUIRE_VENV();
  const fs::path dir = test::TempDir("sft-hf");
  const fs::path out = dir / "run";
  auto r = test::Run(Plus(BaseArgs(out, test::WriteRecords(dir)), {"--max-steps", "3", "--lr", "1e-2"}));
  INFO(r.err);
  REQUIRE(r.status == 0);
  torch::manual_seed(5);
  auto ids = torch::randint(0, 440, {2, 24}, torch::kInt64);
  std::vector<std::string> argv = {test::VenvPython().string(),
                                   (test::SourceDir() / "tools/golden/sft_check.py").string(), out.string(),
                                   (dir / "logits.safetensors").string()};
  for (int64_t b = 0; b < 2; ++b) {
    std::string seq;
    for (int64_t i = 0; i < 24; ++i) seq += (i ? "," : "") + std::to_string(ids[b][i].item<int64_t>());
    argv.push_back(seq);
  }
  auto py = test::Run(argv);
  INFO(py.err);
  REQUIRE(py.status == 0);
  auto report = Json::parse(py.out);
  CHECK(report["missing_keys"].empty());
  CHECK(report["unexpected_keys"].empty());
  CHECK(report["mismatched_keys"].empty());
  auto theirs = model::SafetensorsFile::Open(dir / "logits.safetensors")->Get("logits");
  auto m = model::QwenVL::Load(out);
  torch::NoGradGuard ng;
  model::ModelInputs in;
  in.input_ids = ids;
  auto mine = m.Forward(in).logits;
  CHECK(test::RelErr(mine, theirs) <= 1e-5);
  CHECK(torch::equal(mine.argmax(-1), theirs.argmax(-1)));
  // The weights moved away from the base model's (training happened).
  auto base = model::QwenVL::Load(test::TinyModelDir());
  CHECK(test::RelErr(base.Forward(in).logits, theirs) > 1e-4);
}

TEST_CASE("vs-sft resume continues exactly: losses and final weights equal an uninterrupted run's", "[train][sft][resume]") {
  const fs::path dir = test::TempDir("sft-resume");
  const fs::path records = test::WriteRecords(dir);
  train::SftOptions o;
  o.model_dir = test::TinyModelDir().string();
  o.inputs = {records.string()};
  o.max_steps = 6;
  o.batch = 1;
  o.grad_accum = 2;  // 3 records, 2 per step: steps straddle epochs
  o.optim.lr = 1e-3;
  o.optim.schedule = "cosine";
  o.optim.warmup_steps = 2;
  o.optim.weight_decay = 0.01;
  o.save_steps = 2;
  o.data.video_max_pixels = test::kTinyVideoPixels;
  std::ostringstream errors;

  o.output_dir = (dir / "a").string();
  o.metrics_file = (dir / "a.jsonl").string();
  auto a = train::RunSft(o, errors);
  REQUIRE(a.exit_code == 0);
  REQUIRE(a.metrics.size() == 6);

  o.output_dir = (dir / "b").string();
  o.metrics_file = (dir / "b.jsonl").string();
  train::SftHooks stop;
  stop.after_step = [](const train::StepMetrics& m) { return m.step < 3; };  // interrupted after step 3
  auto b1 = train::RunSft(o, errors, stop);
  CHECK(b1.steps_run == 3);
  CHECK(!fs::exists(dir / "b" / "model.safetensors"));
  REQUIRE(train::LatestCheckpoint(dir / "b") == dir / "b" / "checkpoint-2");
  o.resume = true;
  auto b2 = train::RunSft(o, errors);
  REQUIRE(b2.exit_code == 0);
  REQUIRE(b2.metrics.size() == 4);  // steps 3..6
  for (size_t i = 0; i < 4; ++i) {
    const auto& x = a.metrics[i + 2];
    const auto& y = b2.metrics[i];
    INFO("step " << x.step);
    CHECK(y.step == x.step);
    CHECK(y.loss == x.loss);
    CHECK(y.grad_norm == x.grad_norm);
    CHECK(y.lr == x.lr);
    CHECK(y.trained_tokens == x.trained_tokens);
  }
  CHECK(test::ReadFile(dir / "a" / "model.safetensors") == test::ReadFile(dir / "b" / "model.safetensors"));
  CHECK(test::ReadFile(dir / "a" / "checkpoint-6" / "optimizer.safetensors") ==
        test::ReadFile(dir / "b" / "checkpoint-6" / "optimizer.safetensors"));

  // Another run's checkpoint is refused.
  o.optim.lr = 2e-3;
  CHECK_THROWS_WITH(train::RunSft(o, errors), Catch::Contains("different run"));
  CHECK(errors.str().empty());
}

TEST_CASE("vs-sft survives SIGKILL mid-run and during a checkpoint write", "[train][sft][fault]") {
  VSTAR_REQUIRE_BINARY("vs-sft");
  const fs::path dir = test::TempDir("sft-fault");
  const fs::path records = test::WriteRecords(dir);
  const std::vector<std::string> opts = {"--max-steps", "8", "--save-steps", "2", "--keep-last", "2", "--batch", "1",
                                         "--grad-accum", "2", "--lr", "1e-3", "--weight-decay", "0.01"};
  const fs::path ref = dir / "ref";
  auto r = test::Run(Plus(Plus(BaseArgs(ref, records), opts), {"--metrics", (dir / "ref.jsonl").string()}));
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK(train::ListCheckpoints(ref).size() == 2);  // --keep-last 2: checkpoint-6, checkpoint-8
  const std::string want = test::ReadFile(ref / "model.safetensors");

  SECTION("mid-run") {
    const fs::path out = dir / "mid";
    pid_t pid = Spawn(Plus(BaseArgs(out, records), opts));
    REQUIRE(KillWhenExists(pid, out / "checkpoint-4"));
    CHECK(!fs::exists(out / "model.safetensors"));
    CheckCompleteCheckpoints(out);
    auto resumed = test::Run(Plus(Plus(BaseArgs(out, records), opts), {"--resume"}));
    INFO(resumed.err);
    REQUIRE(resumed.status == 0);
    CHECK(test::ReadFile(out / "model.safetensors") == want);
  }
  SECTION("during a checkpoint write") {
    bool caught = false;
    fs::path out;
    for (int attempt = 0; attempt < 5 && !caught; ++attempt) {
      out = dir / ("write" + std::to_string(attempt));
      pid_t pid = Spawn(Plus(BaseArgs(out, records), opts));
      caught = KillWhenExists(pid, out / (".checkpoint-4.tmp-" + std::to_string(pid)));
    }
    REQUIRE(caught);
    CHECK(!fs::exists(out / "checkpoint-4"));  // the interrupted write left no checkpoint-4
    CheckCompleteCheckpoints(out);
    auto resumed = test::Run(Plus(Plus(BaseArgs(out, records), opts), {"--resume"}));
    INFO(resumed.err);
    REQUIRE(resumed.status == 0);
    CHECK(test::ReadFile(out / "model.safetensors") == want);
    for (const auto& e : fs::directory_iterator(out)) CHECK(e.path().filename().string().find(".tmp-") == std::string::npos);
  }
}

TEST_CASE("vs-sft bad input: clear messages and documented exit codes with nothing half-written", "[train][sft][errors]") {
  VSTAR_REQUIRE_BINARY("vs-sft");
  const fs::path dir = test::TempDir("sft-bad");
  const fs::path records = test::WriteRecords(dir);

  auto control = test::Run(Plus(BaseArgs(dir / "m", records), {"--max-steps", "1"}));
  INFO(control.err);
  CHECK(control.status == 0);  // the good records train
  auto no_model = test::Run({"vs-sft", "--model", (dir / "nope").string(), "--output", (dir / "o1").string(), "-i",
                             records.string()});
  CHECK(no_model.status == 1);
  CHECK(no_model.err.find("does not exist") != std::string::npos);
  CHECK(!fs::exists(dir / "o1"));
  auto unwritable = test::Run(Plus(BaseArgs("/proc/vs-sft-test-output", records), {"--max-steps", "1"}));
  CHECK(unwritable.status == 1);
  CHECK(unwritable.err.find("output directory") != std::string::npos);

  // Bad records among good ones: error records on stdout, exit 3, the good ones trained.
  auto good = test::Lines(test::ReadFile(records))[0];
  Json no_assistant = Json::parse(good);
  no_assistant["id"] = "bad-1";
  no_assistant["messages"] = Json::array({no_assistant["messages"][1]});
  Json bad_frame = Json::parse(good);
  bad_frame["id"] = "bad-2";
  bad_frame["messages"][1]["content"][0]["frames"][0] = (dir / "missing.png").string();
  const fs::path mixed = dir / "mixed.jsonl";
  test::WriteFile(mixed, good + "\n" + no_assistant.dump() + "\nnot json\n" + bad_frame.dump() + "\n");
  auto r = test::Run(Plus(BaseArgs(dir / "o2", mixed), {"--max-steps", "1"}));
  CHECK(r.status == 3);
  auto errs = JsonLines(r.out);
  REQUIRE(errs.size() == 3);
  for (const auto& e : errs) CHECK(e["error"]["stage"] == "vs-sft");
  CHECK(errs[0]["id"] == "bad-1");
  CHECK(errs[0]["error"]["message"].get<std::string>().find("no assistant turn") != std::string::npos);
  CHECK(errs[1]["line"] == 3);
  CHECK(errs[1]["error"]["message"].get<std::string>().find("not valid JSON") != std::string::npos);
  CHECK(errs[2]["id"] == "bad-2");
  CHECK(errs[2]["error"]["message"].get<std::string>().find("messages[1].content[0].frames: ") == 0);
  CHECK(fs::exists(dir / "o2" / "model.safetensors"));

  // --strict stops before training: nothing in --output.
  auto strict = test::Run(Plus(BaseArgs(dir / "o3", mixed), {"--max-steps", "1", "--strict"}));
  CHECK(strict.status == 1);
  CHECK(strict.err.find("--strict") != std::string::npos);
  CHECK(!fs::exists(dir / "o3" / "model.safetensors"));
  CHECK(train::ListCheckpoints(dir / "o3").empty());

  // Over --max-length: dropped (error records); nothing left to train is fatal.
  auto over = test::Run(Plus(BaseArgs(dir / "o4", records), {"--max-steps", "1", "--max-length", "40"}));
  CHECK(over.status == 1);
  CHECK(over.err.find("no usable SFT record") != std::string::npos);
  for (const auto& e : JsonLines(over.out))
    CHECK(e["error"]["message"].get<std::string>().find("dropped: ") == 0);
  CHECK(JsonLines(over.out).size() == 3);
  auto truncated = test::Run(Plus(BaseArgs(dir / "o5", records),
                                  {"--max-steps", "1", "--max-length", "150", "--over-length", "truncate"}));
  CHECK(truncated.status == 0);

  auto usage = test::Run(Plus(BaseArgs(dir / "o6", records), {"--max-steps", "1", "--epochs", "2"}));
  CHECK(usage.status == 2);
}

TEST_CASE(
    "vs-sft --device cpu equals the default bit for bit and a CUDA request without CUDA exits 2",
    "[train][sft][device]") {
  VSTAR_REQUIRE_BINARY("vs-sft");
  const fs::path dir = test::TempDir("sft-device");
  const fs::path records = test::WriteRecords(dir);
  const std::vector<std::string> steps = {"--max-steps", "2", "--batch", "2", "--lr", "1e-3"};
  auto losses = [&](const fs::path& file) {
    std::vector<double> out;
    for (const auto& m : JsonLines(test::ReadFile(file))) out.push_back(m["loss"].get<double>());
    return out;
  };
  auto plain = test::Run(Plus(Plus(BaseArgs(dir / "default", records), steps),
                              {"--metrics", (dir / "d.jsonl").string()}));
  INFO(plain.err);
  REQUIRE(plain.status == 0);
  auto cpu = test::Run(Plus(Plus(BaseArgs(dir / "cpu", records), steps),
                            {"--device", "cpu", "--metrics", (dir / "c.jsonl").string()}));
  INFO(cpu.err);
  REQUIRE(cpu.status == 0);
  REQUIRE(losses(dir / "d.jsonl").size() == 2);
  CHECK(losses(dir / "c.jsonl") == losses(dir / "d.jsonl"));
  CHECK(test::ReadFile(dir / "cpu" / "model.safetensors") ==
        test::ReadFile(dir / "default" / "model.safetensors"));

  auto bad = test::Run(Plus(Plus(BaseArgs(dir / "bad", records), steps), {"--device", "tpu"}));
  CHECK(bad.status == 2);
  CHECK(bad.err.find("--device tpu: expected cpu, cuda, cuda:N or auto") != std::string::npos);
  CHECK(!fs::exists(dir / "bad"));
  if (!torch::cuda::is_available()) {
    for (const std::string dev : {"cuda", "cuda:0"}) {
      INFO(dev);
      auto r = test::Run(Plus(Plus(BaseArgs(dir / "gpu", records), steps), {"--device", dev}));
      CHECK(r.status == 2);
      CHECK(r.err.find("--device " + dev + ": ") != std::string::npos);
      CHECK((r.err.find("no CUDA device is visible") != std::string::npos ||
             r.err.find("LibTorch has no CUDA") != std::string::npos));
      CHECK(!fs::exists(dir / "gpu"));
    }
    return;
  }
  // Where a GPU is visible: the same steps on it, fp32, within 1e-4 relative of the CPU's losses
  // (reduction orders differ between the CPU and CUDA kernels).
  auto gpu = test::Run(Plus(Plus(BaseArgs(dir / "gpu", records), steps),
                            {"--device", "cuda", "--metrics", (dir / "g.jsonl").string()}));
  INFO(gpu.err);
  REQUIRE(gpu.status == 0);
  const auto want = losses(dir / "c.jsonl"), got = losses(dir / "g.jsonl");
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i)
    CHECK(std::abs(got[i] - want[i]) <= 1e-4 * std::abs(want[i]));
}

TEST_CASE("vs-sft TensorBoard event files read back with the tensorboard package", "[train][sft][python]") {
  VSTAR_REQUIRE_BINARY("vs-sft");
  VSTAR_REQUIRE_VENV();
  const fs::path dir = test::TempDir("sft-tb");
  const fs::path out = dir / "run";
  auto r = test::Run(Plus(BaseArgs(out, test::WriteRecords(dir)),
                          {"--max-steps", "4", "--lr", "1e-3", "--metrics", (dir / "m.jsonl").string()}));
  INFO(r.err);
  REQUIRE(r.status == 0);
  auto py = test::Run({test::VenvPython().string(), (test::SourceDir() / "tools/golden/sft_events.py").string(),
                       out.string()});
  INFO(py.err);
  REQUIRE(py.status == 0);
  const Json tb = Json::parse(py.out);
  const auto metrics = JsonLines(test::ReadFile(dir / "m.jsonl"));
  REQUIRE(metrics.size() == 4);
  for (auto [tag, key] : {std::pair{"train/loss", "loss"}, {"train/learning_rate", "lr"}, {"train/grad_norm", "grad_norm"},
                          {"train/trained_tokens", "trained_tokens"}}) {
    INFO(tag);
    REQUIRE(tb.contains(tag));
    REQUIRE(tb[tag].size() == 4);
    for (size_t i = 0; i < 4; ++i) {
      CHECK(tb[tag][i][0] == metrics[i]["step"]);
      // Stored as float32 (Value.simple_value).
      CHECK(tb[tag][i][1].get<double>() == static_cast<double>(static_cast<float>(metrics[i][key].get<double>())));
    }
  }
  CHECK(tb.contains("train/tokens_per_s"));
}

TEST_CASE("vs-sft --freeze leaves the frozen weights untouched and --dtype bf16 keeps fp32 masters", "[train][sft]") {
  const fs::path dir = test::TempDir("sft-freeze");
  train::SftOptions o;
  o.model_dir = test::TinyModelDir().string();
  o.inputs = {test::WriteRecords(dir).string()};
  o.max_steps = 3;
  o.optim.lr = 1e-3;
  o.data.video_max_pixels = test::kTinyVideoPixels;
  o.metrics_file = (dir / "m.jsonl").string();
  std::ostringstream errors;
  const model::Checkpoint base = model::Checkpoint::Open(test::TinyModelDir());
  auto changed = [&](const fs::path& out, const std::string& name) {
    auto mine = model::Checkpoint::Open(out).Get(name);
    CHECK(mine.scalar_type() == torch::kFloat32);  // fp32 weights (masters in bf16 runs)
    return !torch::equal(mine, base.Get(name).to(torch::kFloat32));
  };
  for (const std::string freeze : {"vision", "merger"}) {
    INFO(freeze);
    o.freeze = freeze;
    o.output_dir = (dir / freeze).string();
    REQUIRE(train::RunSft(o, errors).exit_code == 0);
    CHECK(!changed(o.output_dir, "visual.blocks.0.attn.qkv.weight"));
    CHECK(!changed(o.output_dir, "visual.patch_embed.proj.weight"));
    CHECK(changed(o.output_dir, "visual.merger.mlp.2.weight") == (freeze == "vision"));
    CHECK(changed(o.output_dir, "model.layers.0.self_attn.q_proj.weight"));
  }
  o.freeze = "none";
  o.dtype = "bf16";
  o.max_steps = 8;
  o.optim.lr = 1e-2;
  o.output_dir = (dir / "bf16").string();
  auto r = train::RunSft(o, errors);
  REQUIRE(r.exit_code == 0);
  CHECK(changed(o.output_dir, "visual.blocks.0.attn.qkv.weight"));
  CHECK(r.metrics.back().loss < 0.8 * r.metrics.front().loss);
  // fp32 masters: the saved weights are not all representable in bf16.
  auto w = model::Checkpoint::Open(o.output_dir).Get("model.layers.0.mlp.up_proj.weight");
  CHECK(!torch::equal(w, w.to(torch::kBFloat16).to(torch::kFloat32)));
}
