#include "model/vision.hpp"

#include <algorithm>

namespace vstar::model {

torch::Tensor SegmentAttention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                               const torch::Tensor& cu_seqlens, double scale) {
  const int64_t S = q.size(0);
  auto cu = cu_seqlens.to(torch::kCPU, torch::kInt64).contiguous();
  const int64_t* c = cu.data_ptr<int64_t>();
  const int64_t n = cu.numel() - 1;
  if (n < 1 || c[0] != 0 || c[n] != S)
    throw std::invalid_argument("cu_seqlens must run from 0 to the sequence length");
  std::vector<torch::Tensor> parts;
  parts.reserve(n);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t a = c[i], len = c[i + 1] - c[i];
    if (len <= 0) throw std::invalid_argument("cu_seqlens must be strictly increasing");
    auto qs = q.narrow(0, a, len).transpose(0, 1);  // [h, len, d]
    auto ks = k.narrow(0, a, len).transpose(0, 1);
    auto vs = v.narrow(0, a, len).transpose(0, 1);
    auto scores = torch::matmul(qs, ks.transpose(1, 2)) * scale;
    auto p = torch::softmax(scores, -1, torch::kFloat32).to(q.scalar_type());
    parts.push_back(torch::matmul(p, vs).transpose(0, 1));  // [len, h, d]
  }
  auto out = n == 1 ? parts[0] : torch::cat(parts, 0);
  return out.reshape({S, -1});
}

VisionTower::VisionTower(const QwenVisionConfig& config) : cfg_(config), blocks_(config.depth) {}

std::vector<torch::Tensor> VisionTower::Block::tensors() const {
  std::vector<torch::Tensor> t{norm1, norm2};
  for (const Linear* lin : {&qkv, &proj, &gate, &up, &down})
    for (auto& w : lin->tensors()) t.push_back(w);
  return t;
}

void VisionTower::Collect(ParamRefs& refs, const std::string& prefix) {
  const int64_t D = cfg_.hidden_size, I = cfg_.intermediate_size;
  refs.push_back({prefix + "patch_embed.proj.weight",
                  {D, cfg_.in_channels, cfg_.temporal_patch_size, cfg_.patch_size, cfg_.patch_size},
                  &patch_embed_});
  for (size_t j = 0; j < blocks_.size(); ++j) {
    const std::string b = prefix + "blocks." + std::to_string(j) + ".";
    auto& blk = blocks_[j];
    refs.push_back({b + "norm1.weight", {D}, &blk.norm1});
    refs.push_back({b + "norm2.weight", {D}, &blk.norm2});
    blk.qkv.Collect(refs, b + "attn.qkv", D, 3 * D, true);
    blk.proj.Collect(refs, b + "attn.proj", D, D, true);
    blk.gate.Collect(refs, b + "mlp.gate_proj", D, I, true);
    blk.up.Collect(refs, b + "mlp.up_proj", D, I, true);
    blk.down.Collect(refs, b + "mlp.down_proj", I, D, true);
  }
  refs.push_back({prefix + "merger.ln_q.weight", {D}, &ln_q_});
  mlp0_.Collect(refs, prefix + "merger.mlp.0", cfg_.merger_dim(), cfg_.merger_dim(), true);
  mlp2_.Collect(refs, prefix + "merger.mlp.2", cfg_.merger_dim(), cfg_.out_hidden_size, true);
}

torch::Tensor VisionTower::RotaryFreqs(const torch::Tensor& grid_thw) const {
  const int64_t dim = cfg_.head_dim() / 2;  // rotary dim; inv_freq has dim/2 entries
  auto inv_freq = 1.0 / torch::pow(cfg_.rope_theta, torch::arange(0, dim, 2, torch::kInt64).to(torch::kFloat32) / dim);
  inv_freq = inv_freq.to(torch::kFloat32);
  auto pos = VisionRotaryPositions(grid_thw, cfg_.spatial_merge_size).to(torch::kFloat32);  // [S, 2]
  auto h = pos.select(1, 0).unsqueeze(1) * inv_freq;
  auto w = pos.select(1, 1).unsqueeze(1) * inv_freq;
  return torch::cat({h, w}, 1);
}

torch::Tensor VisionTower::Forward(const torch::Tensor& pixel_values, const torch::Tensor& grid_thw,
                                   VisionTrace* trace) const {
  const int64_t D = cfg_.hidden_size, heads = cfg_.num_heads, hd = cfg_.head_dim();
  const int64_t unit = cfg_.spatial_merge_size * cfg_.spatial_merge_size;
  const auto dtype = patch_embed_.scalar_type();
  const auto device = patch_embed_.device();
  if (pixel_values.dim() != 2 || pixel_values.size(1) != cfg_.patch_dim())
    throw std::invalid_argument("pixel_values must be [S, " + std::to_string(cfg_.patch_dim()) + "]");
  auto grid = grid_thw.to(torch::kCPU, torch::kInt64);
  const int64_t S = pixel_values.size(0);
  if (grid.dim() != 2 || grid.size(1) != 3 ||
      (grid.select(1, 0) * grid.select(1, 1) * grid.select(1, 2)).sum().item<int64_t>() != S)
    throw std::invalid_argument("grid_thw does not match the number of pixel rows");

  auto x = torch::linear(pixel_values.to(device, dtype), patch_embed_.reshape({D, cfg_.patch_dim()}));
  auto freqs = RotaryFreqs(grid);
  auto win = ComputeVisionWindows(grid, cfg_.spatial_merge_size,
                                  cfg_.window_size / cfg_.spatial_merge_size / cfg_.patch_size);
  if (trace) {
    trace->patch_embed = x;
    trace->rot_pos_emb = freqs;
    trace->windows = win;
    trace->blocks.clear();
  }
  auto widx = win.window_index.to(device);
  x = x.view({S / unit, unit, D}).index_select(0, widx).reshape({S, D});
  freqs = freqs.to(device).view({S / unit, unit, -1}).index_select(0, widx).reshape({S, -1});
  auto emb = torch::cat({freqs, freqs}, -1);
  auto cos = emb.cos().unsqueeze(1), sin = emb.sin().unsqueeze(1);  // [S, 1, hd] float32
  const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
  const auto& full = cfg_.fullatt_block_indexes;
  // Vision block j on rows h (window order).
  auto block = [=, this](size_t j, const torch::Tensor& h0) {
    const auto& blk = blocks_[j];
    const bool is_full = std::find(full.begin(), full.end(), static_cast<int64_t>(j)) != full.end();
    auto h = RmsNorm(h0, blk.norm1, cfg_.rms_norm_eps);
    auto qkv = blk.qkv(h).reshape({S, 3, heads, hd}).permute({1, 0, 2, 3});
    auto q = qkv[0].to(torch::kFloat32), k = qkv[1].to(torch::kFloat32), v = qkv[2];
    q = (q * cos + RotateHalf(q) * sin).to(dtype);
    k = (k * cos + RotateHalf(k) * sin).to(dtype);
    auto a = SegmentAttention(q, k, v, is_full ? win.cu_seqlens : win.cu_window_seqlens, scale);
    auto r = h0 + blk.proj(a);
    auto n2 = RmsNorm(r, blk.norm2, cfg_.rms_norm_eps);
    return r + blk.down(torch::silu(blk.gate(n2)) * blk.up(n2));
  };
  const bool recompute = checkpointing_ && torch::GradMode::is_enabled();
  for (size_t j = 0; j < blocks_.size(); ++j) {
    if (recompute)
      x = Recomputed([block, j](const torch::Tensor& h) { return block(j, h); }, x, blocks_[j].tensors());
    else
      x = block(j, x);
    if (trace) trace->blocks.push_back(x);
  }
  auto y = RmsNorm(x, ln_q_, cfg_.rms_norm_eps).view({S / unit, cfg_.merger_dim()});
  y = mlp2_(torch::gelu(mlp0_(y)));
  if (trace) trace->merger = y;
  auto reverse = torch::argsort(widx);
  return y.index_select(0, reverse);
}

}  // namespace vstar::model
