#include "policy/engine.hpp"

#include <algorithm>

#include <CLI/CLI.hpp>

#include "io/log.hpp"
#include "model/chat_template.hpp"
#include "recog/policy_record.hpp"

namespace vstar::policy {

void PolicyOptions::Register(CLI::App& app) {
  app.add_option("--model", model_dir, "Qwen2.5-VL checkpoint directory (Hugging Face layout)")
      ->required()
      ->type_name("DIR");
  app.add_option("--template", template_file, "Prompt template file ({{field}} placeholders, {{video}})")
      ->required()
      ->type_name("FILE");
  app.add_option("--max-new-tokens", max_new_tokens, "Largest number of generated tokens per record")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20))
      ->capture_default_str();
  app.add_option("--temperature", temperature, "Sampling temperature; 0 = greedy")
      ->check(CLI::Range(0.0, 100.0))
      ->capture_default_str();
  app.add_option("--top-p", top_p, "Nucleus sampling mass (1 = off)")->check(CLI::Range(0.0, 1.0))->capture_default_str();
  app.add_option("--top-k", top_k, "Keep the k most likely tokens (0 = off)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 30))
      ->capture_default_str();
  app.add_option("--repetition-penalty", repetition_penalty, "HF repetition penalty (1 = off)")
      ->check(CLI::Range(0.01, 100.0))
      ->capture_default_str();
  app.add_option("--seed", seed, "Seed of the sampler")->capture_default_str();
  app.add_option("--batch", batch, "Records generated together (left-padded batch)")
      ->check(CLI::Range(size_t{1}, size_t{4096}))
      ->capture_default_str();
  app.add_option("--dtype", dtype, "Weights and activations: fp32 or bf16")
      ->check(CLI::IsMember({"fp32", "bf16"}))
      ->capture_default_str();
  app.add_option("--temporal-index-mode", temporal_index_mode,
                 "Video temporal rope positions: float_then_trunc (reference) or int_spg (transformers 4.53-4.57)")
      ->check(CLI::IsMember({"float_then_trunc", "int_spg"}))
      ->capture_default_str();
  app.add_option("--fps", default_fps, "Frame rate of a record's frames when frames.sample_fps is absent")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--video-max-pixels", video_max_pixels, "Largest frame area fed to the vision tower")
      ->check(CLI::Range(int64_t{3136}, int64_t{1} << 40))
      ->capture_default_str();
}

model::SamplingOptions PolicyOptions::Sampling() const {
  model::SamplingOptions s;
  s.max_new_tokens = max_new_tokens;
  s.do_sample = temperature > 0;
  s.temperature = temperature > 0 ? temperature : 1.0;
  s.top_k = top_k;
  s.top_p = top_p;
  s.repetition_penalty = repetition_penalty;
  s.seed = seed;
  return s;
}

std::vector<std::string> PolicyOptions::GivenSampling(const CLI::App& app) {
  std::vector<std::string> given;
  const std::pair<const char*, const char*> flags[] = {{"--temperature", "temperature"},
                                                       {"--top-p", "top_p"},
                                                       {"--top-k", "top_k"},
                                                       {"--max-new-tokens", "max_new_tokens"},
                                                       {"--repetition-penalty", "repetition_penalty"}};
  for (auto [flag, name] : flags)
    if (app.count(flag) > 0) given.emplace_back(name);
  return given;
}

torch::Device ResolveDevice(const std::string& device) {
  if (device == "auto") return torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
  torch::Device d(device);
  if (d.is_cuda() && !torch::cuda::is_available())
    throw std::runtime_error("--device " + device + " requested but CUDA is not available");
  return d;
}

std::unique_ptr<PolicyEngine> PolicyEngine::Load(const PolicyOptions& options, const torch::Device& device) {
  const std::filesystem::path dir = options.model_dir;
  if (!std::filesystem::is_directory(dir)) throw std::runtime_error("model directory " + dir.string() + " does not exist");
  if (!std::filesystem::exists(dir / "config.json"))
    throw std::runtime_error("model directory " + dir.string() + " has no config.json");
  if (!std::filesystem::exists(dir / "model.safetensors") && !std::filesystem::exists(dir / "model.safetensors.index.json"))
    throw std::runtime_error("model directory " + dir.string() +
                             " has no weights (model.safetensors or model.safetensors.index.json)");
  auto e = std::unique_ptr<PolicyEngine>(new PolicyEngine());
  e->opt_ = options;
  e->tokenizer_ = std::make_unique<model::Tokenizer>(model::Tokenizer::Load(dir));
  model::RequireQwenChatTemplate(*e->tokenizer_);
  model::LoadOptions lo;
  lo.dtype = options.dtype == "fp32" ? torch::kFloat32 : torch::kBFloat16;
  lo.device = device;
  lo.temporal_index_mode = model::ParseTemporalIndexMode(options.temporal_index_mode);
  e->model_ = std::make_unique<model::QwenVL>(model::QwenVL::Load(dir, lo));
  const auto& cfg = e->model_->config();
  e->proc_.patch_size = cfg.vision.patch_size;
  e->proc_.merge_size = cfg.vision.spatial_merge_size;
  e->proc_.temporal_patch_size = cfg.vision.temporal_patch_size;
  e->proc_.video_max_pixels = options.video_max_pixels;
  e->proc_.video_min_pixels = std::min(e->proc_.video_min_pixels, options.video_max_pixels);
  for (const char* s : {"<|im_end|>", "<|endoftext|>"}) {
    if (auto id = e->tokenizer_->TokenToId(s)) e->stop_ids_.push_back(*id);
  }
  if (auto eos = e->tokenizer_->eos_token_id();
      eos && std::find(e->stop_ids_.begin(), e->stop_ids_.end(), *eos) == e->stop_ids_.end())
    e->stop_ids_.push_back(*eos);
  if (e->stop_ids_.empty()) throw std::runtime_error("tokenizer in " + dir.string() + " defines no stop token");
  e->pad_id_ = e->tokenizer_->pad_token_id().value_or(e->stop_ids_.back());
  log::Info("policy model ", dir.string(), ": ", cfg.num_hidden_layers, " layers, hidden ", cfg.hidden_size, ", ",
            options.dtype, " on ", device.str());
  return e;
}

std::string PolicyEngine::Text(std::vector<int64_t> toks) const {
  if (!toks.empty() && std::find(stop_ids_.begin(), stop_ids_.end(), toks.back()) != stop_ids_.end()) toks.pop_back();
  // Ids of padded embedding rows (vocab_size > len(tokenizer)) have no text: HF's decode drops
  // them, so do we.
  std::vector<model::TokenId> known;
  known.reserve(toks.size());
  for (auto id : toks) {
    try {
      tokenizer_->IdToToken(id);
      known.push_back(id);
    } catch (const std::exception&) {
    }
  }
  return tokenizer_->Decode(known, /*skip_special_tokens=*/true);
}

model::VisionInput PolicyEngine::VideoFromFrames(const io::Json& frames) const {
  if (!frames.is_object() || !frames.contains("paths") || !frames["paths"].is_array() || frames["paths"].empty())
    throw std::runtime_error("record has no frames.paths (run vs-decode first)");
  std::vector<std::filesystem::path> files;
  for (const auto& p : frames["paths"]) {
    if (!p.is_string()) throw std::runtime_error("frames.paths must hold strings");
    files.emplace_back(p.get<std::string>());
  }
  double fps = opt_.default_fps;
  if (frames.contains("sample_fps") && frames["sample_fps"].is_number() && frames["sample_fps"].get<double>() > 0)
    fps = frames["sample_fps"].get<double>();
  return model::ProcessVideoFiles(files, fps, proc_);
}

std::vector<Response> PolicyEngine::Respond(const std::vector<Conversation>& convs, BatchTiming* timing) const {
  return Respond(convs, opt_.Sampling(), timing);
}

std::vector<Response> PolicyEngine::Respond(const std::vector<Conversation>& convs, model::SamplingOptions so,
                                            BatchTiming* timing) const {
  if (convs.empty()) return {};
  return Generate(Encode(convs), std::move(so), timing);
}

PolicyEngine::Encoded PolicyEngine::Encode(const std::vector<Conversation>& convs) const {
  Encoded out;
  const int64_t merge = model_->config().vision.spatial_merge_size;
  std::vector<std::vector<model::TokenId>> ids(convs.size());
  model::VisionInput videos;
  model::ChatTemplateOptions copt;
  copt.add_generation_prompt = true;
  for (size_t i = 0; i < convs.size(); ++i) {
    std::vector<model::GridTHW> grids;
    for (const auto& v : convs[i].videos) {
      auto g = v.grid_thw.to(torch::kCPU, torch::kInt64);
      for (int64_t r = 0; r < g.size(0); ++r)
        grids.push_back({g[r][0].item<int64_t>(), g[r][1].item<int64_t>(), g[r][2].item<int64_t>()});
      videos.Append(v);
    }
    const std::string prompt = model::ExpandVisionPads(model::RenderChat(convs[i].messages, copt), {}, grids, merge);
    ids[i] = tokenizer_->Encode(prompt);
    out.prompt_tokens.push_back(static_cast<int64_t>(ids[i].size()));
  }
  size_t L = 0;
  for (const auto& v : ids) L = std::max(L, v.size());
  const int64_t B = static_cast<int64_t>(convs.size());
  model::ModelInputs& in = out.inputs;
  in.input_ids = torch::full({B, static_cast<int64_t>(L)}, pad_id_, torch::kInt64);
  in.attention_mask = torch::zeros({B, static_cast<int64_t>(L)}, torch::kInt64);
  for (int64_t b = 0; b < B; ++b) {
    const auto& v = ids[b];
    const int64_t off = static_cast<int64_t>(L - v.size());
    in.input_ids[b].narrow(0, off, static_cast<int64_t>(v.size())).copy_(torch::tensor(v, torch::kInt64));
    in.attention_mask[b].narrow(0, off, static_cast<int64_t>(v.size())).fill_(1);
  }
  in.videos = videos;
  return out;
}

std::vector<Response> PolicyEngine::Generate(const Encoded& batch, model::SamplingOptions so,
                                             BatchTiming* timing) const {
  const int64_t B = batch.inputs.input_ids.size(0);
  std::vector<Response> out(static_cast<size_t>(B));
  for (int64_t b = 0; b < B; ++b) out[b].prompt_tokens = batch.prompt_tokens[b];
  so.stop_ids = stop_ids_;
  so.pad_token_id = pad_id_;
  auto r = model::Generate(*model_, batch.inputs, so);
  for (int64_t b = 0; b < B; ++b) {
    out[b].tokens = r.tokens[b];
    out[b].logprobs = r.logprobs[b];
    out[b].finish_reason = r.finish_reasons[b];
    out[b].text = Text(r.tokens[b]);
  }
  if (timing) {
    timing->prefill_seconds = r.prefill_seconds;
    timing->decode_seconds = r.decode_seconds;
    timing->batch = B;
    timing->decode_steps = r.decode_steps;
  }
  return out;
}

model::SamplingOptions EngineResponder::Effective(const recog::Sampling& s) const {
  const PolicyOptions& o = engine_.options();
  auto given = [&](const char* name) { return std::find(given_.begin(), given_.end(), name) != given_.end(); };
  model::SamplingOptions so = o.Sampling();
  double temperature = given("temperature") ? o.temperature : s.temperature;
  so.do_sample = temperature > 0;
  so.temperature = temperature > 0 ? temperature : 1.0;
  so.top_p = given("top_p") ? o.top_p : s.top_p;
  so.top_k = given("top_k") ? o.top_k : s.top_k;
  so.max_new_tokens = given("max_new_tokens") ? o.max_new_tokens : s.max_new_tokens;
  so.repetition_penalty = given("repetition_penalty") ? o.repetition_penalty : s.repetition_penalty;
  return so;
}

std::vector<Response> EngineResponder::Respond(const std::vector<Turn>& turns, const recog::Sampling& sampling) {
  std::vector<Conversation> convs;
  convs.reserve(turns.size());
  for (const auto& t : turns) {
    Conversation c;
    c.messages = t.messages;
    for (const auto& v : t.videos) c.videos.push_back(engine_.VideoFromFrames(v));
    convs.push_back(std::move(c));
  }
  return engine_.Respond(convs, Effective(sampling));
}

void TemplatePolicy::Run(std::span<io::Record*> batch) const {
  std::vector<Conversation> convs;
  std::vector<io::Record*> ready;
  for (auto* rec : batch) {
    try {
      auto frames = rec->get("frames");
      if (frames.is_null()) throw std::runtime_error("record has no frames (run vs-decode first)");
      Conversation c;
      c.messages = prompt_.Render(io::Json::parse(rec->text()));
      c.videos.push_back(engine_.VideoFromFrames(frames));
      convs.push_back(std::move(c));
      ready.push_back(rec);
    } catch (const std::exception& e) {
      rec->set_error("vs-policy", e.what());
    }
  }
  if (ready.empty()) return;
  BatchTiming t;
  auto responses = engine_.Respond(convs, &t);
  for (size_t i = 0; i < ready.size(); ++i) {
    const auto& r = responses[i];
    recog::PolicyRecord p;
    p.single_turn = true;
    p.turn2.text = r.text;
    p.turn2.tokens = static_cast<int64_t>(r.tokens.size());
    p.turn2.prompt_tokens = r.prompt_tokens;
    p.turn2.finish_reason = r.finish_reason;
    p.timing = {{"prefill_s", t.prefill_seconds},
                {"decode_s", t.decode_seconds},
                {"batch", t.batch},
                {"decode_tok_s", t.decode_seconds > 0 ? static_cast<double>(t.decode_steps * t.batch) / t.decode_seconds : 0.0}};
    p.model = engine_.options().model_dir;
    ready[i]->set("policy", p.ToJson());
  }
}

}  // namespace vstar::policy
