#include "model/text.hpp"

#include <limits>

namespace vstar::model {

std::pair<torch::Tensor, torch::Tensor> KVCache::Append(size_t layer, const torch::Tensor& k,
                                                        const torch::Tensor& v) {
  if (k_.size() <= layer) {
    k_.resize(layer + 1);
    v_.resize(layer + 1);
  }
  const int64_t L = k.size(2), T = length_ + L;
  auto& K = k_[layer];
  auto& V = v_[layer];
  if (torch::GradMode::is_enabled()) {  // functional growth keeps the autograd graph intact
    if (length_ == 0) {
      K = k;
      V = v;
    } else {
      K = torch::cat({K.narrow(2, 0, length_), k}, 2);
      V = torch::cat({V.narrow(2, 0, length_), v}, 2);
    }
    return {K, V};
  }
  if (!K.defined() || K.size(2) < T) {
    const int64_t cap = std::max<int64_t>({T, reserve_, K.defined() ? 2 * K.size(2) : 0});
    auto nk = torch::empty({k.size(0), k.size(1), cap, k.size(3)}, k.options());
    auto nv = torch::empty({v.size(0), v.size(1), cap, v.size(3)}, v.options());
    if (length_ > 0) {
      nk.narrow(2, 0, length_).copy_(K.narrow(2, 0, length_));
      nv.narrow(2, 0, length_).copy_(V.narrow(2, 0, length_));
    }
    K = nk;
    V = nv;
  }
  K.narrow(2, length_, L).copy_(k);
  V.narrow(2, length_, L).copy_(v);
  return {K.narrow(2, 0, T), V.narrow(2, 0, T)};
}

void KVCache::SelectRows(const torch::Tensor& rows) {
  for (auto& t : k_) t = t.index_select(0, rows.to(t.device()));
  for (auto& t : v_) t = t.index_select(0, rows.to(t.device()));
  if (key_mask_.defined()) key_mask_ = key_mask_.index_select(0, rows.to(key_mask_.device()));
  if (rope_deltas.defined()) rope_deltas = rope_deltas.index_select(0, rows.to(rope_deltas.device()));
}

std::pair<torch::Tensor, torch::Tensor> MRopeCosSin(const torch::Tensor& position_ids,
                                                    const std::vector<int64_t>& mrope_section,
                                                    int64_t head_dim, double theta,
                                                    const torch::Device& device) {
  auto inv_freq = 1.0 / torch::pow(theta, torch::arange(0, head_dim, 2, torch::kInt64).to(torch::kFloat32) / head_dim);
  inv_freq = inv_freq.to(device, torch::kFloat32);
  auto ang = position_ids.to(device).to(torch::kFloat32).unsqueeze(-1) * inv_freq;  // [3, B, L, hd/2]
  std::vector<torch::Tensor> parts;
  int64_t start = 0;
  for (size_t s = 0; s < mrope_section.size(); ++s) {
    parts.push_back(ang[static_cast<int64_t>(s % 3)].narrow(-1, start, mrope_section[s]));
    start += mrope_section[s];
  }
  if (start != head_dim / 2) throw std::invalid_argument("mrope_section must sum to head_dim / 2");
  auto a = torch::cat(parts, -1);
  auto emb = torch::cat({a, a}, -1);
  return {emb.cos(), emb.sin()};
}

TextModel::TextModel(const QwenVLConfig& config) : cfg_(config), layers_(config.num_hidden_layers) {}

std::vector<torch::Tensor> TextModel::Layer::tensors() const {
  std::vector<torch::Tensor> t{input_norm, post_norm};
  for (const Linear* lin : {&q, &k, &v, &o, &gate, &up, &down})
    for (auto& w : lin->tensors()) t.push_back(w);
  return t;
}

void TextModel::Collect(ParamRefs& refs) {
  const int64_t H = cfg_.hidden_size, hd = cfg_.head_dim, I = cfg_.intermediate_size;
  const int64_t nh = cfg_.num_attention_heads, nkv = cfg_.num_key_value_heads;
  refs.push_back({"model.embed_tokens.weight", {cfg_.vocab_size, H}, &embed_});
  for (size_t i = 0; i < layers_.size(); ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    auto& l = layers_[i];
    refs.push_back({p + "input_layernorm.weight", {H}, &l.input_norm});
    refs.push_back({p + "post_attention_layernorm.weight", {H}, &l.post_norm});
    l.q.Collect(refs, p + "self_attn.q_proj", H, nh * hd, true);
    l.k.Collect(refs, p + "self_attn.k_proj", H, nkv * hd, true);
    l.v.Collect(refs, p + "self_attn.v_proj", H, nkv * hd, true);
    l.o.Collect(refs, p + "self_attn.o_proj", nh * hd, H, false);
    l.gate.Collect(refs, p + "mlp.gate_proj", H, I, false);
    l.up.Collect(refs, p + "mlp.up_proj", H, I, false);
    l.down.Collect(refs, p + "mlp.down_proj", I, H, false);
  }
  refs.push_back({"model.norm.weight", {H}, &norm_});
}

torch::Tensor TextModel::Forward(const torch::Tensor& inputs_embeds, const torch::Tensor& position_ids,
                                 const torch::Tensor& attention_mask, KVCache* cache,
                                 std::vector<torch::Tensor>* hidden_states) const {
  const int64_t B = inputs_embeds.size(0), L = inputs_embeds.size(1);
  const int64_t nh = cfg_.num_attention_heads, nkv = cfg_.num_key_value_heads, hd = cfg_.head_dim;
  const int64_t rep = nh / nkv;
  const auto dtype = inputs_embeds.scalar_type();
  const auto device = inputs_embeds.device();
  const int64_t past = cache ? cache->length() : 0;
  const int64_t T = past + L;
  auto opts_bool = torch::TensorOptions().dtype(torch::kBool).device(device);

  auto new_keys = attention_mask.defined() ? attention_mask.to(device).to(torch::kBool)
                                           : torch::ones({B, L}, opts_bool);
  auto key_mask = (cache && past > 0) ? torch::cat({cache->key_mask_.to(device), new_keys}, 1) : new_keys;
  // allowed[b, i, j] = key j is real and j <= past + i
  auto qpos = torch::arange(past, T, torch::TensorOptions().dtype(torch::kInt64).device(device)).view({L, 1});
  auto kpos = torch::arange(0, T, torch::TensorOptions().dtype(torch::kInt64).device(device)).view({1, T});
  auto allowed = (kpos <= qpos).unsqueeze(0) & key_mask.view({B, 1, T});
  const double neg = dtype == torch::kBFloat16 ? -3.3895313892515355e38
                     : dtype == torch::kHalf  ? -65504.0
                     : dtype == torch::kFloat64 ? std::numeric_limits<double>::lowest()
                                                : static_cast<double>(std::numeric_limits<float>::lowest());
  auto mask = torch::zeros({B, 1, L, T}, torch::TensorOptions().dtype(dtype).device(device))
                  .masked_fill(allowed.unsqueeze(1).logical_not(), neg);

  auto [cos32, sin32] = MRopeCosSin(position_ids, cfg_.mrope_section, hd, cfg_.rope_theta, device);
  auto cos = cos32.to(dtype).unsqueeze(1), sin = sin32.to(dtype).unsqueeze(1);  // [B, 1, L, hd]
  const double scale = 1.0 / std::sqrt(static_cast<double>(hd));

  // Decoder layer i on hidden states h; `kv` is null when the layer is recomputed in backward.
  auto layer = [=, this](size_t i, const torch::Tensor& h0, KVCache* kv) {
    const auto& l = layers_[i];
    auto h = RmsNorm(h0, l.input_norm, cfg_.rms_norm_eps);
    auto q = l.q(h).view({B, L, nh, hd}).transpose(1, 2);
    auto k = l.k(h).view({B, L, nkv, hd}).transpose(1, 2);
    auto v = l.v(h).view({B, L, nkv, hd}).transpose(1, 2);
    q = q * cos + RotateHalf(q) * sin;
    k = k * cos + RotateHalf(k) * sin;
    torch::Tensor K = k, V = v;
    if (kv) std::tie(K, V) = kv->Append(i, k, v);
    // Grouped-query attention without materialising repeated keys: [B, kv, rep*L, hd] x [B, kv, hd, T].
    auto qg = q.reshape({B, nkv, rep * L, hd});
    auto scores = torch::matmul(qg, K.transpose(2, 3)).view({B, nh, L, T}) * scale + mask;
    auto p = torch::softmax(scores, -1, torch::kFloat32).to(dtype);
    auto a = torch::matmul(p.view({B, nkv, rep * L, T}), V).view({B, nh, L, hd});
    auto x = h0 + l.o(a.transpose(1, 2).reshape({B, L, nh * hd}));
    auto n = RmsNorm(x, l.post_norm, cfg_.rms_norm_eps);
    return x + l.down(torch::silu(l.gate(n)) * l.up(n));
  };
  const bool recompute = checkpointing_ && !cache && torch::GradMode::is_enabled();
  auto x = inputs_embeds;
  for (size_t i = 0; i < layers_.size(); ++i) {
    if (recompute)
      x = Recomputed([layer, i](const torch::Tensor& h) { return layer(i, h, nullptr); }, x, layers_[i].tensors());
    else
      x = layer(i, x, cache);
    if (hidden_states && i + 1 < layers_.size()) hidden_states->push_back(x);
  }
  x = RmsNorm(x, norm_, cfg_.rms_norm_eps);
  if (hidden_states) hidden_states->push_back(x);
  if (cache) {
    cache->key_mask_ = key_mask;
    cache->length_ = T;
  }
  return x;
}

}  // namespace vstar::model
