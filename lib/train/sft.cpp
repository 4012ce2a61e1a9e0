#include "train/sft.hpp"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>

#include <CLI/CLI.hpp>

#include "eval/plot.hpp"
#include "io/log.hpp"
#include "io/progress.hpp"
#include "io/record.hpp"
#include "io/stream.hpp"
#include "model/qwen_vl.hpp"
#include "model/safetensors.hpp"
#include "train/checkpoint.hpp"
#include "train/lora.hpp"
#include "train/memory_plan.hpp"
#include "train/tensorboard.hpp"
#include "train/run_dir.hpp"

namespace vstar::train {
namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

void SftOptions::Register(CLI::App& app) {
  app.add_option("--model", model_dir, "Base Qwen2.5-VL checkpoint (Hugging Face layout, tokenizer files included)")
      ->required()
      ->type_name("DIR");
  app.add_option("--output", output_dir, "Run directory: final model, checkpoint-STEP/, metrics, plot")
      ->required()
      ->type_name("DIR");
  app.add_option("-i,--input", inputs, "SFT records (JSONL, one conversation per line; - = stdin); repeatable")
      ->type_name("FILE");
  auto* steps = app.add_option("--max-steps", max_steps, "Optimizer steps to take (overrides --epochs)")
                    ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  app.add_option("--epochs", epochs, "Passes over the data when --max-steps is not given")
      ->check(CLI::PositiveNumber)
      ->excludes(steps)
      ->capture_default_str();
  app.add_option("--batch", batch, "Conversations per micro-batch (right-padded)")
      ->check(CLI::Range(int64_t{1}, int64_t{4096}))
      ->capture_default_str();
  app.add_option("--grad-accum", grad_accum, "Micro-batches accumulated per optimizer step")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20))
      ->capture_default_str();
  app.add_option("--seed", seed, "Seed of the data order and of the torch generator")->capture_default_str();
  RegisterDtype(app, dtype);
  app.add_option("--resume", resume_from, "Continue from the newest checkpoint in --output, or from PATH")
      ->expected(0, 1)
      ->type_name("PATH");
  app.add_option("--save-steps", save_steps, "Write a checkpoint every N steps (0 = only at the end)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40))
      ->capture_default_str();
  app.add_option("--keep-last", keep_last, "Keep only the newest K checkpoints (0 = all)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 20))
      ->capture_default_str();
  app.add_option("--metrics", metrics_file, "Append one JSON line per step to FILE instead of stderr")
      ->type_name("FILE");
  app.add_option("--freeze", freeze,
                 "Frozen parameters: none, vision (patch embed and blocks; the merger trains) or merger "
                 "(the whole vision tower, merger included)")
      ->check(CLI::IsMember({"none", "vision", "merger"}))
      ->capture_default_str();
  app.add_flag("--gradient-checkpointing", gradient_checkpointing,
               "Keep only each decoder layer's and vision block's input and recompute the block in backward "
               "(less memory for about one more forward pass)");
  app.add_flag("--strict", strict, "Stop at the first bad record instead of reporting it and going on");
  app.add_flag("--dry-run", dry_run,
               "Print the memory plan per rank (weights, gradients, optimizer state, activations) computed "
               "from --model's config.json and exit without training");
  app.add_option("--log-level", log_level, "debug, info, warn, error or quiet")
      ->check(CLI::IsMember({"debug", "info", "warn", "error", "quiet"}))
      ->capture_default_str();
  data.Register(app);
  optim.Register(app);
  lora.Register(app);
  device.Register(app);
  dist.Register(app);
}

namespace {

struct Item {
  SftRecord record;
  Example example;
};

// A line that cannot be used goes out as an error record (the input plus "error"), like any stage's.
void WriteErrorRecord(std::ostream& out, const std::string& line, const std::string& source, size_t n,
                      const std::string& message) {
  io::Record rec;
  try {
    auto parsed = Json::parse(line);
    if (!parsed.is_object()) throw std::runtime_error("not an object");
    rec = io::Record(line, source, n);
  } catch (const std::exception&) {
    rec = io::Record(io::Dump(Json{{"source", source}, {"line", n}}), source, n);
  }
  rec.set_error("vs-sft", message);
  out << rec.text() << "\n";
  out.flush();
}

// FNV-1a over every example's tokens and labels: a resumed run must see the same data.
std::string Fingerprint(const std::vector<Item>& items) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&](int64_t v) {
    for (int i = 0; i < 8; ++i) {
      h ^= static_cast<uint64_t>(v >> (8 * i)) & 0xff;
      h *= 1099511628211ull;
    }
  };
  for (const auto& it : items) {
    mix(static_cast<int64_t>(it.example.input_ids.size()));
    for (auto t : it.example.input_ids) mix(t);
    for (auto t : it.example.labels) mix(t);
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

bool Frozen(const std::string& name, const std::string& freeze) {
  if (freeze == "merger") return name.rfind("visual.", 0) == 0;
  if (freeze == "vision") return name.rfind("visual.", 0) == 0 && name.rfind("visual.merger.", 0) != 0;
  return false;
}

void CheckModelDir(const fs::path& dir) {
  if (!fs::is_directory(dir)) throw std::runtime_error("model directory " + dir.string() + " does not exist");
  if (!fs::exists(dir / "config.json")) throw std::runtime_error("model directory " + dir.string() + " has no config.json");
  if (!fs::exists(dir / "model.safetensors") && !fs::exists(dir / "model.safetensors.index.json"))
    throw std::runtime_error("model directory " + dir.string() +
                             " has no weights (model.safetensors or model.safetensors.index.json)");
}

// What must not change between a run and its resumption.
// "batch" is the global micro-batch (per rank x ranks): a run may resume on another number of ranks
// that keeps it, and then takes the same steps.
Json RunIdentity(const SftOptions& o, int64_t total_steps, const std::string& fingerprint, int world_size) {
  Json id = Json{{"total_steps", total_steps}, {"batch", o.batch * world_size},         {"grad_accum", o.grad_accum},
              {"seed", o.seed},             {"dtype", o.dtype},         {"lr", o.optim.lr},
              {"schedule", o.optim.schedule}, {"warmup", o.optim.Warmup(total_steps)},
              {"weight_decay", o.optim.weight_decay}, {"max_grad_norm", o.optim.max_grad_norm},
              {"betas", {o.optim.beta1, o.optim.beta2}}, {"eps", o.optim.eps}, {"freeze", o.freeze},
              {"train_on", o.data.train_on}, {"data", fingerprint}};
  if (o.lora.enabled())
    id["lora"] = Json{{"r", o.lora.rank}, {"alpha", o.lora.alpha}, {"dropout", o.lora.dropout}, {"targets", o.lora.targets}};
  return id;
}

Json MetricsJson(const StepMetrics& m) {
  return Json{{"step", m.step},
              {"epoch", m.epoch},
              {"loss", m.loss},
              {"lr", m.lr},
              {"grad_norm", m.grad_norm},
              {"tokens_per_s", m.tokens_per_s},
              {"trained_tokens", m.trained_tokens},
              {"tokens", m.tokens},
              {"seconds", m.seconds}};
}

void WritePlot(const fs::path& file, const Json& history) {
  eval::Series loss{"loss", {}, {}}, lr{"learning rate", {}, {}};
  for (const auto& h : history) {
    const double s = h["step"].get<double>();
    loss.x.push_back(s);
    loss.y.push_back(h["loss"].get<double>());
    lr.x.push_back(s);
    lr.y.push_back(h["lr"].get<double>());
  }
  eval::WriteLineCharts(file, {{"training loss", "step", {loss}}, {"learning rate", "step", {lr}}});
}

}  // namespace

SftResult RunSft(const SftOptions& o, std::ostream& error_out, const SftHooks& hooks) {
  SftResult result;
  const fs::path out_dir = o.output_dir;
  if (o.lora.enabled() && o.freeze != "none")
    throw std::runtime_error("--freeze " + o.freeze + " with --lora-rank: only the adapters train, everything else is frozen");
  if (o.dry_run) {
    MemoryPlanInputs in;
    in.config = model::LoadConfig(o.model_dir);
    in.world_size = DistEnv::FromEnvironment().world_size;
    in.batch = o.batch;
    in.sequence = o.data.max_length;
    in.bf16 = o.dtype == "bf16";
    in.gradient_checkpointing = o.gradient_checkpointing;
    in.freeze = o.freeze;
    in.lora = o.lora;
    in.bucket_mb = o.dist.bucket_mb;
    const MemoryPlan plan = PlanMemory(in);
    std::cerr << FormatMemoryPlan(plan);
    error_out << io::Dump(Json{{"memory_plan", plan.ToJson()}}) << "\n";
    return result;
  }
  CheckModelDir(o.model_dir);
  // The model, the batches, the gradients, the fp32 masters and the optimizer state live on
  // `device`; checkpoints are written from host copies and read back onto it.
  const torch::Device device = o.device.Resolve(DistEnv::FromEnvironment());
  const Dist dist(o.dist, device);
  // Rank 0 speaks for the run; the others only report errors.
  if (!dist.main() && log::GetLevel() < log::Level::kError) log::SetLevel(log::Level::kError);
  std::ostringstream discarded;
  std::ostream& errors_out = dist.main() ? error_out : discarded;
  if (dist.main()) PrepareOutputDir(out_dir);
  dist.Barrier("output directory");

  const auto tokenizer = model::Tokenizer::Load(o.model_dir);
  const model::QwenVLConfig cfg = model::LoadConfig(o.model_dir);
  SftEncoder encoder(tokenizer, cfg, o.data);

  // 1. Records: every line validated, its media read and its conversation tokenised up front, so a
  //    bad record is reported before any step and never in the middle of training.
  std::vector<Item> items;
  std::vector<std::string> inputs = o.inputs.empty() ? std::vector<std::string>{"-"} : o.inputs;
  for (const auto& src : inputs) {
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
      ++result.records;
      std::string reason;
      bool dropped = false;
      try {
        Json j;
        try {
          j = Json::parse(line);
        } catch (const std::exception& e) {
          throw SftRecordError(std::string("not valid JSON: ") + e.what());
        }
        // A line's conversations are used together or not at all: one verdict per record.
        std::vector<Item> line_items;
        for (SftRecord& rec : ParseSftConversations(j)) {
          Encoded enc = encoder.Encode(rec, encoder.LoadMedia(rec));
          if (!enc.example) {
            dropped = true;
            reason = "dropped: " + enc.dropped;
            break;
          }
          line_items.push_back({std::move(rec), std::move(*enc.example)});
        }
        if (!dropped) {
          for (Item& it : line_items) {
            result.truncated += it.example.truncated;
            items.push_back(std::move(it));
          }
          continue;
        }
      } catch (const SftRecordError& e) {
        reason = e.what();
      }
      if (dropped) ++result.dropped;
      else ++result.errors;
      log::Warn(src, ":", n, ": ", reason);
      WriteErrorRecord(errors_out, line, src, n, reason);
      if (o.strict) throw std::runtime_error(src + ":" + std::to_string(n) + ": " + reason + " (--strict)");
    }
  }
  if (items.empty()) throw std::runtime_error("no usable SFT record in the input");
  if (result.truncated) log::Warn(result.truncated, " record(s) truncated to --max-length ", o.data.max_length);

  const int64_t N = static_cast<int64_t>(items.size());
  const int64_t W = dist.world_size(), rank = dist.rank();
  const int64_t global_batch = o.batch * W;
  const int64_t per_epoch = (N + global_batch - 1) / global_batch;  // micro-batches per epoch (last one partial)
  const int64_t total = o.max_steps > 0 ? o.max_steps
                                        : std::max<int64_t>(1, static_cast<int64_t>(std::ceil(
                                                                   o.epochs * static_cast<double>(per_epoch) /
                                                                   static_cast<double>(o.grad_accum))));
  const int64_t warmup = o.optim.Warmup(total);
  const std::string fingerprint = Fingerprint(items);
  const Json identity = RunIdentity(o, total, fingerprint, dist.world_size());

  // 2. Where to start: the base model, or a checkpoint of this very run.
  const ResumePoint resume = FindResumePoint(out_dir, o.model_dir, o.resume, o.resume_from, identity);
  const fs::path weights_dir = resume.weights_dir;
  const Json state = resume.state;
  const int64_t start = resume.step();
  Json history = resume.history();

  model::LoadOptions lo;
  lo.dtype = o.dtype == "bf16" ? torch::kBFloat16 : torch::kFloat32;
  lo.device = device;
  torch::manual_seed(o.seed);
  // A LoRA run's checkpoints hold the adapter only: the model is always the base one.
  model::QwenVL model = model::QwenVL::Load(o.lora.enabled() ? fs::path(o.model_dir) : weights_dir, lo);
  model.SetRequiresGrad(false);
  model.SetGradientCheckpointing(o.gradient_checkpointing);

  // Trainable parameters as the model holds them (compute dtype) and their fp32 master copies (the
  // same tensors in fp32 runs, and for LoRA adapters, which are float32 whatever the model's dtype).
  NamedParams live, master;
  NamedParams all_weights = model.NamedParameters();
  std::optional<Lora> lora;
  if (o.lora.enabled()) {
    lora = Lora::Attach(model, o.lora);
    if (!state.is_null()) lora->Load(weights_dir);
    live = master = lora->Parameters();
  } else {
    const model::Checkpoint ckpt = model::Checkpoint::Open(weights_dir);
    for (auto& [name, t] : all_weights) {
      if (Frozen(name, o.freeze)) continue;
      t.set_requires_grad(true);
      live.emplace_back(name, t);
      master.emplace_back(name, lo.dtype == torch::kFloat32
                                    ? t
                                    : ckpt.Get(name).to(device, torch::kFloat32, false, true));
    }
  }
  const bool separate_masters = lo.dtype != torch::kFloat32 && !lora;
  if (live.empty()) throw std::runtime_error("--freeze leaves nothing to train");
  int64_t trainable = 0;
  for (const auto& [n, t] : live) trainable += t.numel();
  log::Info("training ", trainable, " parameters (", live.size(), " tensors", lora ? ", LoRA adapters of " : "",
            lora ? std::to_string(lora->size()) + " layers" : "", ") on ", N, " conversations, ", total,
            " steps of ", o.batch, "x", o.grad_accum, W > 1 ? " on each of " + std::to_string(W) + " ranks" : "");
  // Every rank starts from rank 0's values (as DistributedDataParallel's constructor broadcasts them).
  dist.BroadcastParameters(master);
  if (separate_masters) dist.BroadcastParameters(live);

  AdamW optimizer(master, o.optim);
  if (!state.is_null()) {
    optimizer.LoadState(ReadOptimizerState(weights_dir));
    RestoreRng(weights_dir, device);
  }

  std::ofstream metrics_file;
  if (!o.metrics_file.empty() && dist.main()) {
    metrics_file.open(o.metrics_file, std::ios::app);
    if (!metrics_file) throw std::runtime_error("cannot open --metrics " + o.metrics_file);
  }
  std::ostringstream quiet_metrics;
  std::ostream& metrics = !dist.main() ? quiet_metrics : o.metrics_file.empty() ? std::cerr : metrics_file;
  std::optional<EventWriter> events;
  if (dist.main()) events.emplace(out_dir);

  auto weights_for_save = [&]() {
    NamedParams w;
    std::map<std::string, torch::Tensor> m(master.begin(), master.end());
    for (const auto& [name, t] : all_weights) {
      auto it = m.find(name);
      w.emplace_back(name,
                     (it != m.end() ? it->second : t).detach().to(torch::kCPU, torch::kFloat32));
    }
    return w;
  };
  // A LoRA run's checkpoints and final output: the adapter in peft's layout (no model weights).
  auto adapter_content = [&]() {
    CheckpointContent c;
    c.tensor_files = {{"adapter_model.safetensors", lora->PeftTensors()}};
    c.extra_files = {{"adapter_config.json", lora->PeftConfig(o.model_dir).dump(2) + "\n"}};
    return c;
  };
  // Rank 0 writes; the others wait for it, so every rank sees the checkpoint once past this point.
  auto save_checkpoint = [&](int64_t step) {
    if (!dist.main()) {
      dist.Barrier("checkpoint " + std::to_string(step));
      return;
    }
    CheckpointContent c;
    if (lora) {
      c = adapter_content();
    } else {
      c.config = &cfg;
      c.weights = weights_for_save();
    }
    c.tokenizer_dir = o.model_dir;
    c.optimizer = optimizer.State();
    c.rng_device = device;
    c.trainer_state = Json{{"step", step}, {"micro_batches", step * o.grad_accum}, {"identity", identity},
                           {"history", history}};
    const fs::path dir = out_dir / ("checkpoint-" + std::to_string(step));
    WriteCheckpointDir(c, dir);
    PruneCheckpoints(out_dir, o.keep_last);
    log::Info("checkpoint ", dir.string());
    dist.Barrier("checkpoint " + std::to_string(step));
  };

  // 3. The loop: step s consumes micro-batches [s*K, (s+1)*K) of the endless shuffled stream; rank r
  //    trains conversations [r*batch, (r+1)*batch) of each (global) micro-batch, so where a rank
  //    stands follows from the step alone and a resumed run finds every rank's shard.
  io::ProgressBar bar("vs-sft steps", static_cast<size_t>(total - start), dist.main() && ::isatty(2) != 0);
  std::vector<size_t> order;
  int64_t order_epoch = -1;
  for (int64_t step = start; step < total; ++step) {
    const auto t0 = std::chrono::steady_clock::now();
    const double lr = o.optim.lr * ScheduleFactor(o.optim.schedule, step, warmup, total);
    std::vector<std::vector<size_t>> micro(o.grad_accum);
    int64_t num_items = 0;
    for (int64_t k = 0; k < o.grad_accum; ++k) {
      const int64_t g = step * o.grad_accum + k;
      const int64_t epoch = g / per_epoch, j = g % per_epoch;
      if (epoch != order_epoch) {
        order = EpochOrder(items.size(), o.seed, epoch);
        order_epoch = epoch;
      }
      const int64_t first = j * global_batch + rank * o.batch;
      for (int64_t i = first; i < std::min<int64_t>(first + o.batch, N); ++i) {
        micro[k].push_back(order[i]);
        num_items += items[order[i]].example.trained_tokens();
      }
    }
    // transformers' num_items_in_batch: every micro-batch's loss is its token-loss sum over the
    // trained tokens of the whole step (all ranks' micro-batches), so the accumulated and all-reduced
    // gradient is that of the step's mean.
    num_items = static_cast<int64_t>(dist.Sum(static_cast<double>(num_items)));
    double loss_sum = 0;
    int64_t tokens = 0;
    for (const auto& idx : micro) {
      if (idx.empty()) continue;  // this rank's slice of the epoch's last, partial micro-batch
      std::vector<Media> media;
      media.reserve(idx.size());
      std::vector<const Example*> exs;
      for (size_t i : idx) {
        media.push_back(encoder.LoadMedia(items[i].record));
        exs.push_back(&items[i].example);
      }
      std::vector<const Media*> mp;
      for (const auto& m : media) mp.push_back(&m);
      Batch b = ToDevice(Collate(exs, mp, encoder.pad_id()), device);
      tokens += b.tokens;
      auto outp = model.Forward(b.inputs);
      auto loss = model::CausalLmLoss(outp.logits, b.labels, num_items);
      loss.backward();
      loss_sum += loss.item<double>();
      AccumulateIntoMasters(live, master);  // bf16: gradients accumulate in fp32 on the masters
    }
    dist.AllReduceGradients(master);
    loss_sum = dist.Sum(loss_sum);
    tokens = static_cast<int64_t>(dist.Sum(static_cast<double>(tokens)));
    StepMetrics m;
    m.step = step + 1;
    m.total_steps = total;
    m.epoch = static_cast<double>((step + 1) * o.grad_accum) / static_cast<double>(per_epoch);
    m.loss = loss_sum;
    m.lr = lr;
    m.grad_norm = ClipGradNorm(master, o.optim.max_grad_norm);
    optimizer.Step(lr);
    optimizer.ZeroGrad();
    for (auto& [n, t] : live) t.mutable_grad() = torch::Tensor();
    CopyMastersToLive(live, master);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    m.tokens = tokens;
    m.trained_tokens = num_items;
    m.tokens_per_s = secs > 0 ? static_cast<double>(tokens) / secs : 0.0;
    m.seconds = secs;
    history.push_back(Json{{"step", m.step}, {"loss", m.loss}, {"lr", m.lr}, {"grad_norm", m.grad_norm}});
    metrics << io::Dump(MetricsJson(m)) << "\n";
    metrics.flush();
    if (events) events->Scalars(m.step, {{"train/loss", m.loss},
                            {"train/learning_rate", m.lr},
                            {"train/grad_norm", m.grad_norm},
                            {"train/tokens_per_s", m.tokens_per_s},
                            {"train/trained_tokens", static_cast<double>(m.trained_tokens)}});
    char note[64];
    std::snprintf(note, sizeof note, "loss %.4f", m.loss);
    bar.SetNote(note);
    bar.Tick();
    result.metrics.push_back(m);
    ++result.steps_run;
    if (hooks.after_step && !hooks.after_step(m)) {
      bar.Finish();
      return result;
    }
    if (o.save_steps > 0 && m.step % o.save_steps == 0 && m.step < total) save_checkpoint(m.step);
  }
  bar.Finish();

  // 4. The end: a last checkpoint (resumable, e.g. to train further) and the final model in --output,
  //    written by rank 0 (which alone decides whether the last checkpoint is missing).
  const bool last_missing = dist.main() && (ListCheckpoints(out_dir).empty() || ListCheckpoints(out_dir).back().first != total);
  if (dist.Max(last_missing ? 1.0 : 0.0) > 0) save_checkpoint(total);
  if (!dist.main()) {
    dist.Barrier("final model");
    result.exit_code = (result.errors + result.dropped) > 0 ? io::kExitRecordErrors : io::kExitOk;
    return result;
  }
  if (!lora) {
    PublishFinalModel(out_dir, cfg, weights_for_save(), o.model_dir);
  } else if (!o.lora.merge) {
    CheckpointContent c = adapter_content();
    c.tokenizer_dir = o.model_dir;
    c.rng = false;
    const fs::path tmp = out_dir / (".final.tmp-" + std::to_string(::getpid()));
    WriteCheckpointDir(c, tmp);
    PublishFiles(tmp, out_dir);
  } else {
    // --merge: the merged model is what transformers and vs-policy load from --output (a top-level
    // adapter_config.json would make transformers load the base model plus the adapter instead).
    CheckpointContent c = adapter_content();
    c.rng = false;
    WriteCheckpointDir(c, out_dir / "adapter");
    const model::Checkpoint base = model::Checkpoint::Open(o.model_dir);
    NamedParams merged;
    for (const auto& [name, t] : all_weights) merged.emplace_back(name, base.Get(name).to(torch::kFloat32));
    lora->MergeInto(merged);
    PublishFinalModel(out_dir, cfg, std::move(merged), o.model_dir);
  }
  WritePlot(out_dir / "training.png", history);
  log::Info("model written to ", out_dir.string(), " after ", total, " steps; final loss ",
            history.empty() ? 0.0 : history.back()["loss"].get<double>());
  dist.Barrier("final model");
  result.exit_code = (result.errors + result.dropped) > 0 ? io::kExitRecordErrors : io::kExitOk;
  return result;
}

}  // namespace vstar::train
