#include "model/qwen_vl.hpp"

#include <sstream>

namespace vstar::model {
namespace {

std::string ShapeString(c10::IntArrayRef s) {
  std::ostringstream o;
  o << "[";
  for (size_t i = 0; i < s.size(); ++i) o << (i ? ", " : "") << s[i];
  o << "]";
  return o.str();
}

torch::Tensor ScatterFeatures(const torch::Tensor& embeds, const torch::Tensor& ids, int64_t token,
                              const torch::Tensor& features, const char* what) {
  auto mask = ids == token;
  const int64_t n = mask.sum().item<int64_t>();
  const int64_t m = features.defined() ? features.size(0) : 0;
  if (n != m)
    throw std::invalid_argument(std::string(what) + " features and " + what + " tokens do not match: tokens: " +
                                std::to_string(n) + ", features " + std::to_string(m));
  if (n == 0) return embeds;
  return embeds.masked_scatter(mask.unsqueeze(-1).expand_as(embeds), features.to(embeds.scalar_type()));
}

}  // namespace

ParamRefs QwenVL::Refs() const {
  auto* self = const_cast<QwenVL*>(this);
  ParamRefs refs;
  self->vision_.Collect(refs, "visual.");
  self->text_.Collect(refs);
  if (!tied_) refs.push_back({"lm_head.weight", {cfg_.vocab_size, cfg_.hidden_size}, &self->lm_head_});
  return refs;
}

QwenVL QwenVL::Load(const std::filesystem::path& dir, const LoadOptions& options) {
  if (!std::filesystem::exists(dir / "config.json"))
    throw std::runtime_error("no config.json in model directory " + dir.string());
  const QwenVLConfig cfg = LoadConfig(dir);
  const Checkpoint ckpt = Checkpoint::Open(dir);
  return Load(cfg, ckpt, options);
}

QwenVL QwenVL::Load(const QwenVLConfig& config, const Checkpoint& ckpt, const LoadOptions& options) {
  config.Validate();
  if (options.dtype != torch::kFloat32 && options.dtype != torch::kBFloat16 && options.dtype != torch::kHalf)
    throw std::invalid_argument("model dtype must be float32, bfloat16 or float16");
  QwenVL m;
  m.cfg_ = config;
  m.opt_ = options;
  m.vision_ = VisionTower(config.vision);
  m.text_ = TextModel(config);
  m.tied_ = config.tie_word_embeddings || !ckpt.Has("lm_head.weight");
  for (const auto& ref : m.Refs()) {
    if (!ckpt.Has(ref.name))
      throw std::runtime_error("checkpoint " + ckpt.path().string() + " has no tensor " + ref.name);
    auto t = ckpt.Get(ref.name);
    if (t.sizes() != c10::IntArrayRef(ref.shape))
      throw std::runtime_error("tensor " + ref.name + " in " + ckpt.FileOf(ref.name).string() + " has shape " +
                               ShapeString(t.sizes()) + ", the config implies " + ShapeString(ref.shape));
    *ref.slot = t.to(options.device, options.dtype, /*non_blocking=*/false, /*copy=*/true);
  }
  m.lm_head_ = m.tied_ ? m.text_.embed_tokens() : m.lm_head_;
  return m;
}

RopeIndexParams QwenVL::rope_params() const {
  RopeIndexParams p;
  p.image_token_id = cfg_.image_token_id;
  p.video_token_id = cfg_.video_token_id;
  p.vision_start_token_id = cfg_.vision_start_token_id;
  p.spatial_merge_size = cfg_.vision.spatial_merge_size;
  p.tokens_per_second = cfg_.vision.tokens_per_second;
  p.temporal_index_mode = opt_.temporal_index_mode;
  return p;
}

torch::Tensor QwenVL::EmbedInputs(const ModelInputs& in) const {
  auto ids = in.input_ids.to(opt_.device, torch::kInt64);
  auto e = text_.Embed(ids);
  torch::Tensor img, vid;
  if (in.images.rows() > 0) img = vision_.Forward(in.images.pixel_values, in.images.grid_thw);
  if (in.videos.rows() > 0) vid = vision_.Forward(in.videos.pixel_values, in.videos.grid_thw);
  e = ScatterFeatures(e, ids, cfg_.image_token_id, img, "Image");
  e = ScatterFeatures(e, ids, cfg_.video_token_id, vid, "Video");
  return e;
}

ForwardOutput QwenVL::Forward(const ModelInputs& in, const ForwardOptions& options) const {
  if (!in.input_ids.defined() || in.input_ids.dim() != 2) throw std::invalid_argument("input_ids must be [B, L]");
  const int64_t B = in.input_ids.size(0), L = in.input_ids.size(1);
  KVCache* cache = options.cache;
  ForwardOutput out;
  if (cache && !cache->empty()) {
    if (!cache->rope_deltas.defined() || cache->rope_deltas.size(0) != B)
      throw std::invalid_argument("KV cache batch does not match input_ids");
    out.inputs_embeds = text_.Embed(in.input_ids.to(opt_.device, torch::kInt64));
    auto ar = torch::arange(cache->length(), cache->length() + L, torch::kInt64).view({1, L});
    out.rope_deltas = cache->rope_deltas;
    out.position_ids = (ar + cache->rope_deltas.to(torch::kCPU)).unsqueeze(0).expand({3, B, L});
  } else {
    out.inputs_embeds = EmbedInputs(in);
    if (in.position_ids.defined()) {
      out.position_ids = in.position_ids.to(torch::kCPU, torch::kInt64);
      out.rope_deltas = std::get<0>(out.position_ids.amax(0).max(1, /*keepdim=*/true)) + 1 - L;
    } else {
      auto ri = GetRopeIndex(in.input_ids, in.attention_mask, in.images.grid_thw, in.videos.grid_thw,
                             in.videos.second_per_grid_ts, rope_params());
      out.position_ids = ri.position_ids;
      out.rope_deltas = ri.rope_deltas;
    }
    if (cache) cache->rope_deltas = out.rope_deltas;
  }
  out.hidden = text_.Forward(out.inputs_embeds, out.position_ids, in.attention_mask, cache,
                             options.output_hidden_states ? &out.hidden_states : nullptr);
  out.logits = LmHead(options.last_logits_only ? out.hidden.narrow(1, L - 1, 1) : out.hidden);
  return out;
}

std::vector<std::pair<std::string, torch::Tensor>> QwenVL::NamedParameters() const {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& r : Refs()) out.emplace_back(r.name, *r.slot);
  return out;
}

std::vector<std::pair<std::string, Linear*>> QwenVL::Linears() {
  std::vector<std::pair<std::string, Linear*>> out;
  for (const auto& r : Refs())
    if (r.linear) out.emplace_back(r.name.substr(0, r.name.size() - std::string(".weight").size()), r.linear);
  return out;
}

void QwenVL::SetRequiresGrad(bool requires_grad) {
  for (const auto& r : Refs()) r.slot->set_requires_grad(requires_grad);
}

torch::Tensor CausalLmLoss(const torch::Tensor& logits, const torch::Tensor& labels, int64_t num_items_in_batch) {
  const int64_t V = logits.size(-1);
  auto lab = labels.to(logits.device(), torch::kInt64);
  auto shifted = torch::cat({lab.narrow(1, 1, lab.size(1) - 1),
                             torch::full({lab.size(0), 1}, -100, lab.options())}, 1);
  auto lf = logits.to(torch::kFloat32).reshape({-1, V});
  if (num_items_in_batch > 0) {
    auto sum = torch::nn::functional::cross_entropy(
        lf, shifted.reshape({-1}),
        torch::nn::functional::CrossEntropyFuncOptions().ignore_index(-100).reduction(torch::kSum));
    return sum / static_cast<double>(num_items_in_batch);
  }
  return torch::nn::functional::cross_entropy(lf, shifted.reshape({-1}),
                                              torch::nn::functional::CrossEntropyFuncOptions().ignore_index(-100));
}

}  // namespace vstar::model
