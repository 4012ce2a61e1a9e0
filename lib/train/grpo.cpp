#include "train/grpo.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <sstream>

#include <CLI/CLI.hpp>

#include "eval/plot.hpp"
#include "io/log.hpp"
#include "io/progress.hpp"
#include "io/stream.hpp"
#include "model/safetensors.hpp"
#include "reward/reward.hpp"
#include "reward/stage.hpp"
#include "train/checkpoint.hpp"
#include "train/memory_plan.hpp"
#include "train/run_dir.hpp"

namespace vstar::train {
namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;
using policy::PolicyEngine;
using policy::Response;

void GrpoOptions::Register(CLI::App& app) {
  policy.Register(app);
  // vs-policy's single-turn template and stream batch have no meaning here; --dtype is the
  // training's (vs-sft's: fp32 master weights under bf16).
  for (const char* flag : {"--template", "--dtype", "--batch"})
    app.remove_option(app.get_option(flag));
  RegisterDtype(app, dtype);
  two_turn.Register(app);
  app.remove_option(app.get_option("--keep-prompts"));
  app.add_option("--output", output_dir,
                 "Run directory: final model, checkpoint-STEP/, metrics plot")
      ->required()
      ->type_name("DIR");
  app.add_option("-i,--input", inputs,
                 "Prompt records (JSONL as vs-decode and the tool stages write them, with "
                 "\"label\"; - = stdin); "
                 "repeatable")
      ->type_name("FILE");
  device.Register(app);
  app.add_option("--num-generations,-G", num_generations,
                 "Completions sampled per prompt (the group size)")
      ->check(CLI::Range(int64_t{2}, int64_t{4096}))
      ->capture_default_str();
  app.add_option("--batch", batch, "Prompts (groups) per step")
      ->check(CLI::Range(int64_t{1}, int64_t{4096}))
      ->capture_default_str();
  app.add_option("--max-steps", max_steps,
                 "Rollout steps to take (each takes --updates optimizer steps)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40))
      ->capture_default_str();
  app.add_option("--updates", updates,
                 "Optimizer steps per rollout batch, with the PPO-style clipped ratio when > 1")
      ->check(CLI::Range(int64_t{1}, int64_t{1024}))
      ->capture_default_str();
  app.add_option("--scale", scale,
                 "Advantage scaling: group (divide by the group std), batch, none (Dr. GRPO)")
      ->check(CLI::IsMember({"group", "batch", "none"}))
      ->capture_default_str();
  app.add_option("--variant", variant,
                 "In-process reward: paper or official (default: the profile's)")
      ->check(CLI::IsMember({"paper", "official"}));
  app.add_option("--tool-cost", tool_cost,
                 "paper reward: share of R_tool lost when every tool is used")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_flag("--temporal,!--no-temporal", temporal,
               "official reward: +0.3 temporal bonus, from G extra completions on frame-shuffled "
               "video (on)");
  app.add_flag("--len-control,!--no-len-control", len_control,
               "official reward: +0.2 length bonus (on)");
  app.add_option("--resume", resume_from,
                 "Continue from the newest checkpoint in --output, or from PATH")
      ->expected(0, 1)
      ->type_name("PATH");
  app.add_option("--save-steps", save_steps,
                 "Write a checkpoint every N steps (0 = only at the end)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40))
      ->capture_default_str();
  app.add_option("--keep-last", keep_last, "Keep only the newest K checkpoints (0 = all)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 20))
      ->capture_default_str();
  app.add_option("--metrics", metrics_file,
                 "Append one JSON line per step to FILE instead of stderr")
      ->type_name("FILE");
  app.add_option("--log-level", log_level, "debug, info, warn, error or quiet")
      ->check(CLI::IsMember({"debug", "info", "warn", "error", "quiet"}))
      ->capture_default_str();
  app.add_flag("--dry-run", dry_run,
               "Print the memory plan per rank (weights, reference, gradients, optimizer state, "
               "activations) "
               "computed from --model's config.json and exit without training");
  loss.Register(app);
  optim.Register(app);
  external.Register(app);
  dist.Register(app);
}

void GrpoOptions::Finish(const CLI::App& app) {
  resume = app.count("--resume") > 0;
  loss.Finish();
  given_loss = app.count("--loss") > 0;
  given_beta = app.count("--beta") > 0;
  given_kl_clamp = app.count("--kl-clamp") > 0;
  given_sampling = policy::PolicyOptions::GivenSampling(app);
}

namespace {

// One group: a prompt record's rollouts and what training needs of them.
struct Group {
  io::Json record;                 // the prompt record (tool stages may have added keys)
  PolicyEngine::Encoded turn1;     // G rows (clean: sampled per rollout) or 1 (official: shared)
  PolicyEngine::Encoded turn2;     // G rows
  std::vector<Response> answers1;  // one per turn-1 row
  std::vector<Response> answers2;  // G
  std::vector<Response>
      shuffled;  // official temporal bonus: G on frame-shuffled video (not trained)
  std::vector<recog::ToolChoice> choices;  // one per turn-1 row
  torch::Tensor ids1, mask1, old1, ids2, mask2,
      old2;           // right-padded completions, rollout log-probs
  torch::Tensor ref;  // [G, T1 + T2] (or [G, T2]) reference log-probs when beta > 0
  // Clean: both turns' training forward as one batch (turn-1 rows, then turn-2 rows), so what their
  // prompts share (the video, when turn 2 shows the original frames) runs once per update;
  // undefined when the turns sample at different temperatures.
  model::ModelInputs joint;
  torch::Tensor joint_ids, joint_mask;  // [2G, max(T1, T2)]
  Json reward;                          // the scorer's "reward" object
};

// Completions right-padded into [B, T] with their mask and the log-probs collected while sampling.
struct Padded {
  torch::Tensor ids, mask, logps;
};
Padded Pad(const std::vector<Response>& rs, int64_t pad_id) {
  const int64_t B = static_cast<int64_t>(rs.size());
  int64_t T = 1;
  for (const auto& r : rs) T = std::max<int64_t>(T, static_cast<int64_t>(r.tokens.size()));
  Padded p{torch::full({B, T}, pad_id, torch::kLong), torch::zeros({B, T}, torch::kLong),
           torch::zeros({B, T})};
  for (int64_t b = 0; b < B; ++b) {
    const auto& r = rs[b];
    const int64_t n = static_cast<int64_t>(r.tokens.size());
    if (n == 0) continue;
    p.ids[b].narrow(0, 0, n).copy_(torch::tensor(r.tokens, torch::kLong));
    p.mask[b].narrow(0, 0, n).fill_(1);
    p.logps[b].narrow(0, 0, n).copy_(torch::tensor(r.logprobs, torch::kFloat));
  }
  return p;
}

// A sampled vision placeholder (<|vision_start|>, <|image_pad|>, <|video_pad|>, <|vision_pad|>)
// ends the completion there: no vision features exist for it, so the training forward over prompt +
// completion could not be run (transformers' placeholder check refuses it as ours does), and a
// random or young policy does sample them. The text is decoded again from the kept tokens.
void CutAtVisionTokens(std::vector<Response>& rs, const PolicyEngine& engine) {
  const model::QwenVLConfig& cfg = engine.model().config();
  const int64_t ids[] = {cfg.vision_start_token_id, cfg.image_token_id, cfg.video_token_id,
                         cfg.vision_token_id};
  for (auto& r : rs) {
    auto it = std::find_first_of(r.tokens.begin(), r.tokens.end(), std::begin(ids), std::end(ids));
    if (it == r.tokens.end()) continue;
    const auto n = static_cast<size_t>(it - r.tokens.begin());
    r.tokens.resize(n);
    r.logprobs.resize(n);
    r.finish_reason = "vision_token";
    r.text = engine.Text(r.tokens);
  }
}

// Deterministic seeds for every sampling call (splitmix64 over the run seed, step, group and turn):
// a resumed run draws what the uninterrupted one drew, with no generator state to carry.
uint64_t RolloutSeed(uint64_t seed, int64_t step, int64_t group, int turn) {
  uint64_t z = seed;
  for (uint64_t v :
       {static_cast<uint64_t>(step), static_cast<uint64_t>(group), static_cast<uint64_t>(turn)}) {
    z += 0x9e3779b97f4a7c15ull + v;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
  }
  return z;
}

// Each distinct frame list is read and processed once per step (vision inputs are shared by the
// rollouts that show the same video).
class VideoCache {
 public:
  explicit VideoCache(const PolicyEngine& engine) : engine_(engine) {}
  policy::Conversation Conversation(const policy::Turn& turn) {
    policy::Conversation c;
    c.messages = turn.messages;
    for (const auto& v : turn.videos) {
      const std::string key = v.dump();
      auto it = cache_.find(key);
      if (it == cache_.end()) it = cache_.emplace(key, engine_.VideoFromFrames(v)).first;
      c.videos.push_back(it->second);
    }
    return c;
  }

 private:
  const PolicyEngine& engine_;
  std::map<std::string, model::VisionInput> cache_;
};

// Sampling settings for a turn: the profile's, the command line's where given; a greedy profile
// (clean evaluates greedily) samples at T = 1, TRL's default, since equal completions have no
// advantage.
model::SamplingOptions RolloutSampling(const policy::EngineResponder& responder,
                                       const recog::Sampling& s) {
  model::SamplingOptions so = responder.Effective(s);
  if (!so.do_sample) {
    so.do_sample = true;
    so.temperature = 1.0;
  }
  return so;
}

std::string Fingerprint(const std::vector<std::string>& lines) {
  uint64_t h = 1469598103934665603ull;
  for (const auto& l : lines)
    for (unsigned char c : l + "\n") {
      h ^= c;
      h *= 1099511628211ull;
    }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

// "batch" is the step's whole batch (per rank x ranks): a run may resume on another number of ranks
// that keeps it.
Json RunIdentity(const GrpoOptions& o, const recog::Profile& profile, const GrpoLossOptions& lo,
                 const std::string& variant, int64_t total, const std::string& data,
                 int64_t world_size) {
  return Json{{"total_steps", total},
              {"num_generations", o.num_generations},
              {"batch", o.batch * world_size},
              {"updates", o.updates},
              {"seed", o.policy.seed},
              {"profile", profile.name},
              {"tools", o.two_turn.tools},
              {"variant", variant},
              {"reward_cmd", o.external.command},
              {"scale", o.scale},
              {"loss", Name(lo.loss)},
              {"beta", lo.beta},
              {"epsilon", {lo.epsilon_low, lo.epsilon_high}},
              {"kl_clamp", lo.kl_clamp},
              {"lr", o.optim.lr},
              {"schedule", o.optim.schedule},
              {"warmup", o.optim.Warmup(total * o.updates)},
              {"weight_decay", o.optim.weight_decay},
              {"max_grad_norm", o.optim.max_grad_norm},
              {"data", data}};
}

// Frames of `video` (vs-decode's object) in the order of a seeded shuffle: the temporal bonus's
// negative rollouts (Video-R1 trainer/grpo_trainer.py shuffles the video frames).
io::Json Shuffled(io::Json video, uint64_t seed) {
  const auto& paths = video["paths"];
  const auto order = reward::ShuffledOrder(paths.size(), seed);
  io::Json out = io::Json::array();
  for (size_t i : order) out.push_back(paths[i]);
  video["paths"] = out;
  return video;
}

void WritePlot(const fs::path& file, const Json& history, const recog::Profile& profile) {
  eval::Series reward{"mean reward", {}, {}}, kl{"KL", {}, {}}, len{"turn-2 tokens", {}, {}};
  std::vector<eval::Series> rates;
  for (const auto& t : profile.tools) rates.push_back({t.name, {}, {}});
  for (const auto& h : history) {
    const double s = h["step"].get<double>();
    reward.x.push_back(s);
    reward.y.push_back(h["reward"].get<double>());
    kl.x.push_back(s);
    kl.y.push_back(h["kl"].is_number() ? h["kl"].get<double>() : std::nan(""));
    len.x.push_back(s);
    len.y.push_back(h["completion_length"].get<double>());
    for (auto& r : rates) {
      r.x.push_back(s);
      r.y.push_back(h["tool_rate"][r.name].get<double>());
    }
  }
  eval::WriteLineCharts(file, {{"reward", "step", {reward}},
                               {"tool-call rate in turn 1", "step", rates},
                               {"KL to the reference", "step", {kl}},
                               {"completion length", "step", {len}}});
}

}  // namespace

std::vector<UpdateLog> PolicyUpdates(const std::vector<RolloutGroup>& groups,
                                     const std::function<torch::Tensor(size_t)>& logps,
                                     const GrpoLossOptions& loss, int64_t updates,
                                     const std::function<double(int64_t)>& lr, double max_grad_norm,
                                     const NamedParams& params, AdamW& optimizer, const Dist* dist,
                                     const NamedParams* compute) {
  const NamedParams& live = compute ? *compute : params;
  auto sum = [&](double v) { return dist ? dist->Sum(v) : v; };
  double num_items = 0;
  int64_t max_len = 0;
  for (const auto& g : groups) {
    num_items += g.mask.sum().item<double>();
    max_len = std::max<int64_t>(max_len, g.mask.size(1));
  }
  // The whole rollout batch's: TRL's num_items_in_batch is gathered over the processes as well.
  num_items = sum(num_items);
  if (dist) max_len = static_cast<int64_t>(dist->Max(static_cast<double>(max_len)));
  const double n_groups = sum(static_cast<double>(groups.size()));
  std::vector<UpdateLog> out;
  for (int64_t u = 0; u < updates; ++u) {
    UpdateLog log;
    log.lr = lr(u);
    double kl = 0, ratio_min = INFINITY, ratio_max = -INFINITY;
    for (size_t k = 0; k < groups.size(); ++k) {
      const RolloutGroup& g = groups[k];
      GrpoBatch b;
      b.logps = logps(k);
      if (updates > 1) b.old_logps = g.old_logps;
      b.ref_logps = g.ref_logps;
      b.advantages = g.advantages;
      b.mask = g.mask;
      b.accumulation_steps = static_cast<int64_t>(n_groups);
      b.num_items_in_batch = num_items;
      b.max_completion_length = max_len;
      GrpoLossResult r = GrpoLoss(b, loss);
      r.loss.backward();
      AccumulateIntoMasters(live, params);
      log.loss += r.loss.item<double>();
      kl += r.stats.kl / n_groups;
      log.clip_ratio += r.stats.clip_region_mean / n_groups;
      if (b.old_logps.defined() && g.mask.sum().item<double>() > 0) {
        auto ratio = torch::exp(b.logps.detach() - b.old_logps).masked_select(g.mask > 0);
        ratio_min = std::min(ratio_min, ratio.min().item<double>());
        ratio_max = std::max(ratio_max, ratio.max().item<double>());
      }
    }
    log.loss = sum(log.loss);
    kl = sum(kl);
    log.clip_ratio = sum(log.clip_ratio);
    if (dist) {
      ratio_min = dist->Min(ratio_min);
      ratio_max = dist->Max(ratio_max);
      dist->AllReduceGradients(params);
    }
    log.kl = kl;                     // NaN when beta is 0 (GrpoStats logs no KL then)
    if (std::isfinite(ratio_min)) {  // else the ratio is 1 by construction (one update)
      log.ratio_min = ratio_min;
      log.ratio_max = ratio_max;
    }
    log.grad_norm = ClipGradNorm(params, max_grad_norm);
    optimizer.Step(log.lr);
    optimizer.ZeroGrad();
    CopyMastersToLive(live, params);
    out.push_back(log);
  }
  return out;
}

GrpoResult RunGrpo(const GrpoOptions& o) {
  GrpoResult result;
  const fs::path out_dir = o.output_dir;
  if (o.dry_run) {
    // From the options alone (no profile files, no candidates): one group's training forward is G
    // rows (clean: both turns, 2G) of prompt + completion; the official profile's beta unless
    // given.
    const bool official = o.two_turn.profile.profile.rfind("official", 0) == 0;
    const double beta = official && !o.given_beta ? GrpoLossOptions::Official().beta : o.loss.beta;
    MemoryPlanInputs in;
    in.config = model::LoadConfig(o.policy.model_dir);
    in.world_size = DistEnv::FromEnvironment().world_size;
    in.batch = official ? o.num_generations : 2 * o.num_generations;
    in.reference = beta != 0;
    in.bf16 = o.dtype == "bf16";
    in.bucket_mb = o.dist.bucket_mb;
    const MemoryPlan plan = PlanMemory(in);
    std::cerr << FormatMemoryPlan(plan);
    std::cout << io::Dump(Json{{"memory_plan", plan.ToJson()}}) << "\n";
    return result;
  }

  // 1. The profile, the candidates, the loss and reward settings.
  recog::ProfileOptions po = o.two_turn.profile;
  if (po.profile == "official") po.profile = "official-grpo";  // the authors' GRPO rollouts
  const recog::Profile profile = po.Load();
  const bool shared_turn1 = profile.name.rfind("official", 0) == 0;
  const recog::ClassList candidates = policy::LoadCandidates(o.two_turn.candidates);
  const recog::ToolMode mode = recog::ParseToolMode(o.two_turn.tools);
  GrpoLossOptions lopt = o.loss;
  if (shared_turn1) {
    const GrpoLossOptions off = GrpoLossOptions::Official();
    if (!o.given_loss) lopt.loss = off.loss;
    if (!o.given_beta) lopt.beta = off.beta;
    if (!o.given_kl_clamp) lopt.kl_clamp = off.kl_clamp;
  }
  const AdvantageScale scale = ParseAdvantageScale(o.scale);
  const std::string variant = o.variant.empty() ? profile.reward_variant : o.variant;
  const int64_t G = o.num_generations;
  const DistEnv env = DistEnv::FromEnvironment();
  const torch::Device device = o.device.Resolve(env);
  const Dist dist(o.dist, device);
  if (!dist.main() && log::GetLevel() < log::Level::kError) log::SetLevel(log::Level::kError);
  const int64_t W = dist.world_size(), rank = dist.rank();
  if (dist.main()) PrepareOutputDir(out_dir);
  dist.Barrier("output directory");

  // 2. Prompt records: all read and checked before any rollout.
  std::vector<std::string> lines;
  for (const auto& src : o.inputs.empty() ? std::vector<std::string>{"-"} : o.inputs) {
    std::ifstream file;
    if (src != "-") {
      file.open(src, std::ios::binary);
      if (!file) throw std::runtime_error("cannot open input " + src);
    }
    std::istream& in = src == "-" ? std::cin : file;
    std::string line;
    size_t n = 0;
    while (std::getline(in, line)) {
      ++n;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      Json j;
      try {
        j = Json::parse(line);
      } catch (const std::exception& e) {
        throw std::runtime_error(src + ":" + std::to_string(n) + ": not valid JSON: " + e.what());
      }
      if (!j.is_object() || !j.contains("frames") || !j["frames"].is_object())
        throw std::runtime_error(src + ":" + std::to_string(n) +
                                 ": no \"frames\" (run vs-decode first)");
      if (!j.contains("label") && !j.contains("solution"))
        throw std::runtime_error(src + ":" + std::to_string(n) +
                                 ": no \"label\" (the ground truth the reward needs)");
      lines.push_back(j.dump());
    }
  }
  if (lines.empty()) throw std::runtime_error("no prompt record in the input");
  result.records = lines.size();
  const int64_t N = static_cast<int64_t>(lines.size());
  const int64_t total = o.max_steps;
  const int64_t total_updates = total * o.updates;
  const int64_t warmup = o.optim.Warmup(total_updates);
  Json identity = RunIdentity(o, profile, lopt, variant, total, Fingerprint(lines), W);
  if (o.dtype != "fp32")
    identity["dtype"] = o.dtype;  // fp32 runs keep the identity they always had

  // 3. Where to start: the base model, or a checkpoint of this very run.
  const ResumePoint resume =
      FindResumePoint(out_dir, o.policy.model_dir, o.resume, o.resume_from, identity);
  const fs::path weights_dir = resume.weights_dir;
  const Json state = resume.state;
  const int64_t start = resume.step();
  Json history = resume.history();

  torch::manual_seed(o.policy.seed);
  policy::PolicyOptions popt = o.policy;
  popt.model_dir = weights_dir.string();
  popt.dtype = o.dtype;  // the rollouts sample from the compute weights
  const auto engine = PolicyEngine::Load(popt, device);
  const model::QwenVL& model = engine->model();
  const policy::EngineResponder responder(*engine, o.given_sampling);
  const model::SamplingOptions sampling1 = RolloutSampling(responder, profile.turn1_sampling);
  const model::SamplingOptions sampling2 = RolloutSampling(responder, profile.turn2_sampling);
  tools::ToolRunner runner(o.two_turn.runner, device.str());

  // The frozen reference is the base model (TRL's ref_model); beta 0 loads none.
  std::unique_ptr<model::QwenVL> reference;
  if (lopt.beta != 0) {
    model::LoadOptions lo;
    lo.device = device;
    lo.dtype = model.dtype();
    lo.temporal_index_mode = model::ParseTemporalIndexMode(o.policy.temporal_index_mode);
    reference = std::make_unique<model::QwenVL>(model::QwenVL::Load(o.policy.model_dir, lo));
    reference->SetRequiresGrad(false);
  }

  // The compute weights (the model's) and the optimizer's fp32 masters: the same tensors in fp32;
  // under bf16, fp32 copies read from the checkpoint (so a resumed run continues from the exact
  // masters, not from their bf16 rounding).
  NamedParams live = model.NamedParameters(), params;
  const bool separate_masters = model.dtype() != torch::kFloat32;
  {
    const model::Checkpoint ckpt = model::Checkpoint::Open(weights_dir);
    for (auto& [n, t] : live) {
      t.set_requires_grad(true);
      params.emplace_back(
          n, separate_masters ? ckpt.Get(n).to(device, torch::kFloat32, false, true) : t);
    }
  }
  dist.BroadcastParameters(params);  // every rank starts from rank 0's weights
  if (separate_masters) CopyMastersToLive(live, params);
  AdamW optimizer(params, o.optim);
  if (!state.is_null()) {
    optimizer.LoadState(ReadOptimizerState(weights_dir));
    RestoreRng(weights_dir, device);
  }

  // Rewards: the reward program, or the vs-reward library in process. Either scores one record per
  // group (the prompt record plus "completions" [{"text", "tokens", "turn1"}] and, for the official
  // temporal bonus, "shuffled_completions") and answers with vs-reward's "reward" object.
  std::function<io::Json(const io::Json&)> score;
  std::unique_ptr<reward::ExternalReward> external;
  std::unique_ptr<reward::RewardStage> stage;
  if (!o.external.command.empty()) {
    external = std::make_unique<reward::ExternalReward>(o.external);
    score = [&](const io::Json& r) { return external->Score({r}).at(0); };  // one process per group
  } else {
    reward::RewardOptions ro;
    ro.variant = variant;
    ro.templates = profile.template_dir.string();
    ro.classes = o.two_turn.candidates;
    ro.tool_cost = o.tool_cost;
    ro.temporal = o.temporal;
    ro.len_control = o.len_control;
    stage = std::make_unique<reward::RewardStage>(ro);
    score = [&](const io::Json& r) {
      io::Record rec(r.dump(), "vs-grpo", 0);
      stage->Score(rec);
      return rec.get("reward");
    };
  }
  const bool want_shuffled = variant == "official" && o.temporal;

  std::ofstream metrics_file;
  if (!o.metrics_file.empty() && dist.main()) {
    metrics_file.open(o.metrics_file, std::ios::app);
    if (!metrics_file) throw std::runtime_error("cannot open --metrics " + o.metrics_file);
  }
  std::ostringstream quiet_metrics;
  std::ostream& metrics = !dist.main()             ? quiet_metrics
                          : o.metrics_file.empty() ? std::cerr
                                                   : metrics_file;

  auto weights_for_save = [&]() {
    NamedParams w;
    for (const auto& [name, t] : params)
      w.emplace_back(name, t.detach().to(torch::kCPU, torch::kFloat32));
    return w;
  };
  // Rank 0 writes; the others wait for it.
  auto save_checkpoint = [&](int64_t step) {
    if (!dist.main()) {
      dist.Barrier("checkpoint " + std::to_string(step));
      return;
    }
    CheckpointContent c;
    c.config = &model.config();
    c.weights = weights_for_save();
    c.tokenizer_dir = o.policy.model_dir;
    c.optimizer = optimizer.State();
    c.rng_device = device;
    c.trainer_state = Json{{"step", step}, {"identity", identity}, {"history", history}};
    const fs::path dir = out_dir / ("checkpoint-" + std::to_string(step));
    WriteCheckpointDir(c, dir);
    PruneCheckpoints(out_dir, o.keep_last);
    log::Info("checkpoint ", dir.string());
    dist.Barrier("checkpoint " + std::to_string(step));
  };

  log::Info("GRPO on ", N, " prompts, profile ", profile.name, ", ", G, " generations, ", total,
            " steps of ", o.batch, " prompts",
            W > 1 ? " on each of " + std::to_string(W) + " ranks" : "", " x ", o.updates,
            " updates; loss ", Name(lopt.loss), ", beta ", lopt.beta, "; reward ",
            external ? "from " + o.external.command : variant + " (in process)");

  // 4. The loop: step s rolls out prompts [s*B, (s+1)*B) of the endless shuffled stream, B = batch
  // x
  //    ranks; rank r the groups [r*batch, (r+1)*batch) of them.
  io::ProgressBar bar("vs-grpo steps", static_cast<size_t>(total - start),
                      dist.main() && ::isatty(2) != 0);
  for (int64_t step = start; step < total; ++step) {
    const auto t0 = std::chrono::steady_clock::now();
    // Where the step's time goes (--log-level debug): seconds per phase since the previous lap.
    std::vector<std::pair<std::string, double>> phases;
    auto last = t0;
    auto lap = [&](const char* phase) {
      const auto now = std::chrono::steady_clock::now();
      const double sec = std::chrono::duration<double>(now - last).count();
      last = now;
      auto it = std::find_if(phases.begin(), phases.end(),
                             [&](const auto& p) { return p.first == phase; });
      if (it == phases.end())
        phases.emplace_back(phase, sec);
      else
        it->second += sec;
    };
    std::vector<Group> groups;
    {
      torch::NoGradGuard no_grad;
      VideoCache videos(*engine);
      for (int64_t local = 0; local < o.batch; ++local) {
        const int64_t k = rank * o.batch + local;  // the group's index in the step's whole batch
        const int64_t g = step * o.batch * W + k;
        const auto order = EpochOrder(lines.size(), o.policy.seed, g / N);
        Group grp;
        io::Record rec(lines[order[g % N]], "vs-grpo", 0);
        const recog::ClassList rec_candidates =
            policy::RecordCandidates(rec, candidates);  // its own, if any
        // Turn 1: G samples (clean, each trained with its turn 2) or one shared, untrained
        // (official).
        const policy::Turn turn1 = policy::BuildTurn1(profile, rec);
        const int64_t turn1_rows = shared_turn1 ? 1 : G;
        grp.turn1 = engine->Encode(
            std::vector<policy::Conversation>(turn1_rows, videos.Conversation(turn1)));
        lap("encode");
        model::SamplingOptions s1 = sampling1;
        s1.seed = RolloutSeed(o.policy.seed, step, k, 1);
        grp.answers1 = engine->Generate(grp.turn1, s1);
        CutAtVisionTokens(grp.answers1, *engine);
        lap("turn1");
        // The tools each turn-1 sample chose, run once per record (their outputs are kept in it),
        // and the turn 2 they lead to.
        std::vector<policy::Conversation> convs2, shuffled2;
        for (int64_t i = 0; i < G; ++i) {
          const Response& a1 = grp.answers1[shared_turn1 ? 0 : i];
          if (i < turn1_rows) {
            const policy::ToolStep ts =
                policy::RunTools(profile, mode, a1.text, rec, rec_candidates, runner);
            grp.choices.push_back(ts.choice);
            policy::Turn2 t2 = policy::BuildTurn2(profile, rec, turn1, a1.text, ts, rec_candidates);
            convs2.push_back(videos.Conversation(t2.turn));
            if (want_shuffled) {
              t2.turn.videos.back() =
                  Shuffled(t2.turn.videos.back(), RolloutSeed(o.policy.seed, step, k, 3));
              shuffled2.push_back(videos.Conversation(t2.turn));
            }
          } else {
            convs2.push_back(convs2.front());
            if (want_shuffled) shuffled2.push_back(shuffled2.front());
          }
        }
        grp.turn2 = engine->Encode(convs2);
        lap("tools+encode");
        model::SamplingOptions s2 = sampling2;
        s2.seed = RolloutSeed(o.policy.seed, step, k, 2);
        grp.answers2 = engine->Generate(grp.turn2, s2);
        CutAtVisionTokens(grp.answers2, *engine);
        lap("turn2");
        if (want_shuffled) {
          s2.seed = RolloutSeed(o.policy.seed, step, k, 4);
          grp.shuffled = engine->Generate(engine->Encode(shuffled2), s2);
          lap("shuffled");
        }
        Padded p2 = Pad(grp.answers2, engine->pad_id());
        grp.ids2 = p2.ids;
        grp.mask2 = p2.mask;
        grp.old2 = p2.logps;
        if (!shared_turn1) {
          Padded p1 = Pad(grp.answers1, engine->pad_id());
          grp.ids1 = p1.ids;
          grp.mask1 = p1.mask;
          grp.old1 = p1.logps;
          if (sampling1.temperature == sampling2.temperature) {
            const int64_t T = std::max(grp.ids1.size(1), grp.ids2.size(1));
            auto right_pad = [&](const torch::Tensor& t, int64_t value) {
              return torch::constant_pad_nd(t, {0, T - t.size(1)}, value);
            };
            grp.joint = model::JoinBatches(grp.turn1.inputs, grp.turn2.inputs, engine->pad_id());
            grp.joint_ids = torch::cat(
                {right_pad(grp.ids1, engine->pad_id()), right_pad(grp.ids2, engine->pad_id())});
            grp.joint_mask = torch::cat({right_pad(grp.mask1, 0), right_pad(grp.mask2, 0)});
          }
        }
        grp.record = io::Json::parse(rec.text());
        groups.push_back(std::move(grp));
      }
    }

    // Rewards: one scorer record per group.
    std::vector<io::Json> inputs;
    for (const auto& grp : groups) {
      io::Json r = grp.record;
      io::Json comps = io::Json::array(), shuf = io::Json::array();
      for (int64_t i = 0; i < G; ++i)
        comps.push_back({{"text", grp.answers2[i].text},
                         {"tokens", grp.answers2[i].tokens.size()},
                         {"turn1", grp.answers1[shared_turn1 ? 0 : i].text}});
      for (const auto& s : grp.shuffled)
        shuf.push_back({{"text", s.text}, {"tokens", s.tokens.size()}});
      r["completions"] = comps;
      if (!grp.shuffled.empty()) r["shuffled_completions"] = shuf;
      inputs.push_back(std::move(r));
    }
    std::vector<io::Json> rewards;
    for (const auto& r : inputs) rewards.push_back(score(r));
    // What the advantages and the metrics need of every group of the step, gathered from all ranks
    // in group order: its reward object, its completions' lengths and its turn-1 tool choices.
    io::Json mine = io::Json::array();
    for (size_t k = 0; k < groups.size(); ++k) {
      const auto& rw = rewards[k];
      if (!rw.is_object() || !rw.contains("completions") || !rw["completions"].is_array() ||
          static_cast<int64_t>(rw["completions"].size()) != G)
        throw std::runtime_error(
            "reward of group " + std::to_string(rank * o.batch + static_cast<int64_t>(k)) +
            " does not hold " + std::to_string(G) + " completions: " + rw.dump());
      groups[k].reward = rw;
      io::Json len1 = io::Json::array(), len2 = io::Json::array(), tools = io::Json::object();
      for (const auto& a : groups[k].answers1) len1.push_back(a.tokens.size());
      for (const auto& a : groups[k].answers2) len2.push_back(a.tokens.size());
      for (const auto& t : profile.tools) {
        int64_t yes = 0;
        for (const auto& c : groups[k].choices) yes += c.on(t.name) ? 1 : 0;
        tools[t.name] = yes;
      }
      mine.push_back({{"reward", rw}, {"len1", len1}, {"len2", len2}, {"tools", tools}});
    }
    std::vector<io::Json> batch_groups;
    for (const auto& text : dist.AllGather(mine.dump()))
      for (auto& g : io::Json::parse(text)) batch_groups.push_back(std::move(g));
    std::vector<float> totals;
    std::map<std::string, double> component_sums;
    for (const auto& bg : batch_groups)
      for (const auto& c : bg["reward"]["completions"]) {
        if (!c.contains("total") || !c["total"].is_number() ||
            !std::isfinite(c["total"].get<double>()))
          throw std::runtime_error("reward without a finite \"total\": " + c.dump());
        totals.push_back(c["total"].get<float>());
        for (const auto& [name, v] : c.items())
          if (name != "total" && v.is_number()) component_sums[name] += v.get<double>();
      }
    lap("reward");
    const torch::Tensor reward_t = torch::tensor(totals);
    const GroupAdvantages adv = ComputeAdvantages(reward_t, G, scale);

    // Training inputs per group: the joint trajectory (clean: turn-1 then turn-2 tokens) or turn 2.
    auto joined = [&](const torch::Tensor& a, const torch::Tensor& b) {
      return shared_turn1 ? b : torch::cat({a, b}, 1);
    };
    auto policy_logps = [&](const model::QwenVL& m, const Group& g) {
      if (g.joint.input_ids.defined()) {
        torch::Tensor lp =
            CompletionLogProbs(m, g.joint, g.joint_ids, g.joint_mask, sampling1.temperature);
        return torch::cat({lp.narrow(0, 0, G).narrow(1, 0, g.ids1.size(1)),
                           lp.narrow(0, G, G).narrow(1, 0, g.ids2.size(1))},
                          1);
      }
      torch::Tensor lp2 =
          CompletionLogProbs(m, g.turn2.inputs, g.ids2, g.mask2, sampling2.temperature);
      if (shared_turn1) return lp2;
      torch::Tensor lp1 =
          CompletionLogProbs(m, g.turn1.inputs, g.ids1, g.mask1, sampling1.temperature);
      return torch::cat({lp1, lp2}, 1);
    };
    if (reference) {
      torch::NoGradGuard no_grad;
      for (auto& g : groups) g.ref = policy_logps(*reference, g);
      lap("reference");
    }

    std::vector<RolloutGroup> batch;
    for (size_t k = 0; k < groups.size(); ++k) {
      const Group& g = groups[k];
      const int64_t global_k = rank * o.batch + static_cast<int64_t>(k);
      // On the device of the training log-probs (rollouts are padded on the host).
      batch.push_back({joined(g.old1, g.old2).to(device), g.ref,
                       adv.advantages.narrow(0, global_k * G, G).to(device),
                       joined(g.mask1, g.mask2).to(device)});
    }
    const std::vector<UpdateLog> updates = PolicyUpdates(
        batch, [&](size_t k) { return policy_logps(model, groups[k]); }, lopt, o.updates,
        [&](int64_t u) {
          return o.optim.lr *
                 ScheduleFactor(o.optim.schedule, step * o.updates + u, warmup, total_updates);
        },
        o.optim.max_grad_norm, params, optimizer, &dist, separate_masters ? &live : nullptr);
    lap("updates");
    std::string times;
    for (const auto& [phase, sec] : phases) times += " " + phase + " " + std::to_string(sec);
    log::Debug("step ", step + 1, " seconds:", times);

    // Metrics of the step.
    const double n_comp = static_cast<double>(totals.size());
    Json m;
    m["step"] = step + 1;
    m["reward"] = reward_t.mean().item<double>();
    m["reward_std"] = adv.std.mean().item<double>();  // TRL logs the mean of the group stds
    Json comps = Json::object();
    for (const auto& [name, s] : component_sums) comps[name] = s / n_comp;
    m["rewards"] = comps;
    double clip = 0, trained = 0;
    for (const auto& u : updates) clip += u.clip_ratio / static_cast<double>(updates.size());
    for (const auto& g : batch) trained += g.mask.sum().item<double>();
    m["trained_tokens"] = dist.Sum(trained);  // clean: both turns' tokens; official: turn 2's only
    m["loss"] = updates.front().loss;
    m["kl"] = std::isnan(updates.front().kl) ? Json(nullptr) : Json(updates.front().kl);
    m["clip_ratio"] = clip;
    m["grad_norm"] = updates.front().grad_norm;
    m["lr"] = updates.back().lr;
    if (updates.size() > 1) {
      Json each = Json::array();
      for (const auto& u : updates)
        each.push_back({{"loss", u.loss},
                        {"clip_ratio", u.clip_ratio},
                        {"ratio_min", u.ratio_min},
                        {"ratio_max", u.ratio_max},
                        {"grad_norm", u.grad_norm},
                        {"lr", u.lr}});
      m["updates"] = each;
    }
    double len2 = 0, len1 = 0, min2 = 1e18, max2 = 0, rows1 = 0;
    Json rates = Json::object();
    std::map<std::string, double> yes;
    for (const auto& bg : batch_groups) {
      for (const auto& a : bg["len2"]) {
        const double n = a.get<double>();
        len2 += n;
        min2 = std::min(min2, n);
        max2 = std::max(max2, n);
      }
      for (const auto& a : bg["len1"]) len1 += a.get<double>();
      rows1 += static_cast<double>(bg["len1"].size());
      for (const auto& t : profile.tools) yes[t.name] += bg["tools"][t.name].get<double>();
    }
    m["completion_length"] = len2 / n_comp;
    m["completion_length_min"] = min2;
    m["completion_length_max"] = max2;
    m["turn1_length"] = len1 / rows1;
    for (const auto& t : profile.tools) rates[t.name] = yes[t.name] / rows1;
    m["tool_rate"] = rates;
    m["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    history.push_back(m);
    metrics << io::Dump(m) << "\n";
    metrics.flush();
    bar.Tick();
    GrpoStepMetrics sm{step + 1, m};
    result.metrics.push_back(sm);
    ++result.steps_run;
    if (o.save_steps > 0 && (step + 1) % o.save_steps == 0 && step + 1 < total)
      save_checkpoint(step + 1);
  }
  bar.Finish();

  // 5. The end: a last checkpoint and the final model in --output, written by rank 0 (which alone
  //    decides whether the last checkpoint is missing).
  const bool last_missing = dist.main() && (ListCheckpoints(out_dir).empty() ||
                                            ListCheckpoints(out_dir).back().first != total);
  if (dist.Max(last_missing ? 1.0 : 0.0) > 0) save_checkpoint(total);
  if (dist.main()) {
    PublishFinalModel(out_dir, model.config(), weights_for_save(), o.policy.model_dir);
    WritePlot(out_dir / "training.png", history, profile);
    log::Info("model written to ", out_dir.string(), " after ", total, " steps; final mean reward ",
              history.empty() ? 0.0 : history.back()["reward"].get<double>());
  }
  dist.Barrier("final model");
  result.exit_code = io::kExitOk;
  return result;
}

}  // namespace vstar::train
