#include "model/rope_index.hpp"

#include <algorithm>
#include <stdexcept>

namespace vstar::model {

TemporalIndexMode ParseTemporalIndexMode(const std::string& name) {
  if (name == "float_then_trunc") return TemporalIndexMode::kFloatThenTrunc;
  if (name == "int_spg") return TemporalIndexMode::kIntSpg;
  throw std::invalid_argument("unknown temporal_index_mode '" + name +
                              "' (expected float_then_trunc or int_spg)");
}

const char* TemporalIndexModeName(TemporalIndexMode mode) {
  return mode == TemporalIndexMode::kIntSpg ? "int_spg" : "float_then_trunc";
}

namespace {

std::vector<std::array<int64_t, 3>> Grids(const torch::Tensor& g, const char* what) {
  std::vector<std::array<int64_t, 3>> out;
  if (!g.defined()) return out;
  if (g.dim() != 2 || g.size(1) != 3) throw std::invalid_argument(std::string(what) + " must be [n, 3]");
  auto c = g.to(torch::kCPU, torch::kInt64).contiguous();
  const int64_t* p = c.data_ptr<int64_t>();
  for (int64_t i = 0; i < c.size(0); ++i) out.push_back({p[3 * i], p[3 * i + 1], p[3 * i + 2]});
  return out;
}

int64_t TemporalIndex(int64_t g, double spg, double tps, TemporalIndexMode mode) {
  if (mode == TemporalIndexMode::kIntSpg) {
    const auto spg_int = static_cast<int64_t>(spg);  // torch.as_tensor(spg, dtype=int64) truncates
    return static_cast<int64_t>(static_cast<double>(g * spg_int) * tps);
  }
  // 4.49: int64 range * float32 scalar tensor -> float32, then * tokens_per_second, then .long().
  const float v = static_cast<float>(g) * static_cast<float>(spg);
  return static_cast<int64_t>(v * static_cast<float>(tps));
}

}  // namespace

RopeIndex GetRopeIndex(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                       const torch::Tensor& image_grid_thw, const torch::Tensor& video_grid_thw,
                       const std::vector<double>& second_per_grid_ts, const RopeIndexParams& params) {
  if (input_ids.dim() != 2) throw std::invalid_argument("input_ids must be [B, L]");
  const int64_t B = input_ids.size(0), L = input_ids.size(1);
  auto ids = input_ids.to(torch::kCPU, torch::kInt64).contiguous();
  torch::Tensor mask = attention_mask.defined() ? attention_mask.to(torch::kCPU, torch::kInt64).contiguous()
                                                : torch::ones({B, L}, torch::kInt64);
  if (mask.sizes() != ids.sizes()) throw std::invalid_argument("attention_mask must match input_ids");
  const auto images = Grids(image_grid_thw, "image_grid_thw");
  const auto videos = Grids(video_grid_thw, "video_grid_thw");
  auto pos = torch::ones({3, B, L}, torch::kInt64);
  auto deltas = torch::zeros({B, 1}, torch::kInt64);
  int64_t* P = pos.data_ptr<int64_t>();
  const int64_t* I = ids.data_ptr<int64_t>();
  const int64_t* K = mask.data_ptr<int64_t>();
  const int64_t M = params.spatial_merge_size;

  if (!image_grid_thw.defined() && !video_grid_thw.defined()) {
    for (int64_t b = 0; b < B; ++b) {
      int64_t run = 0, mx = 1;
      for (int64_t l = 0; l < L; ++l) {
        int64_t v = 1;
        if (K[b * L + l]) v = run++;
        for (int r = 0; r < 3; ++r) P[(r * B + b) * L + l] = v;
        mx = std::max(mx, v);
      }
      deltas[b][0] = (attention_mask.defined() ? mx + 1 - L : 0);
    }
    return {pos, deltas};
  }

  size_t image_index = 0, video_index = 0;
  for (int64_t b = 0; b < B; ++b) {
    std::vector<int64_t> tok, slot;  // unpadded tokens and their columns
    for (int64_t l = 0; l < L; ++l) {
      if (K[b * L + l] == 1) {
        tok.push_back(I[b * L + l]);
        slot.push_back(l);
      }
    }
    const int64_t n = static_cast<int64_t>(tok.size());
    int64_t n_img = 0, n_vid = 0;
    for (int64_t i = 0; i + 1 < n; ++i) {
      if (tok[i] != params.vision_start_token_id) continue;
      if (tok[i + 1] == params.image_token_id) ++n_img;
      if (tok[i + 1] == params.video_token_id) ++n_vid;
    }
    std::vector<std::array<int64_t, 3>> out;  // (t, h, w) per unpadded token
    out.reserve(n);
    int64_t mx = -1;  // max position so far
    auto push = [&](int64_t a, int64_t h, int64_t w) {
      out.push_back({a, h, w});
      mx = std::max({mx, a, h, w});
    };
    int64_t st = 0, remain_img = n_img, remain_vid = n_vid;
    auto find = [&](int64_t id, int64_t from) {
      for (int64_t i = from; i < n; ++i)
        if (tok[i] == id) return i;
      return n + 1;
    };
    for (int64_t k = 0; k < n_img + n_vid; ++k) {
      const int64_t ed_img = remain_img > 0 ? find(params.image_token_id, st) : n + 1;
      const int64_t ed_vid = remain_vid > 0 ? find(params.video_token_id, st) : n + 1;
      std::array<int64_t, 3> g{};
      double spg = 0;
      bool is_video = false;
      int64_t ed;
      if (ed_img < ed_vid) {
        if (image_index >= images.size()) throw std::invalid_argument("more images in the prompt than image_grid_thw rows");
        g = images[image_index++];
        --remain_img;
        ed = ed_img;
      } else {
        if (ed_vid > n) throw std::invalid_argument("vision_start without image or video pad tokens after it");
        if (video_index >= videos.size()) throw std::invalid_argument("more videos in the prompt than video_grid_thw rows");
        spg = video_index < second_per_grid_ts.size() ? second_per_grid_ts[video_index] : 1.0;
        g = videos[video_index++];
        is_video = true;
        --remain_vid;
        ed = ed_vid;
      }
      const int64_t gt = g[0], gh = g[1] / M, gw = g[2] / M;
      const int64_t s0 = mx + 1;
      for (int64_t i = 0; i < ed - st; ++i) push(s0 + i, s0 + i, s0 + i);
      const int64_t base = s0 + (ed - st);
      for (int64_t t = 0; t < gt; ++t) {
        const int64_t tau = is_video ? TemporalIndex(t, spg, params.tokens_per_second, params.temporal_index_mode) : 0;
        for (int64_t i = 0; i < gh; ++i)
          for (int64_t j = 0; j < gw; ++j) push(base + tau, base + i, base + j);
      }
      st = ed + gt * gh * gw;
    }
    if (st < n) {
      const int64_t s0 = mx + 1;
      for (int64_t i = 0; i < n - st; ++i) push(s0 + i, s0 + i, s0 + i);
    }
    if (static_cast<int64_t>(out.size()) != n)
      throw std::invalid_argument("vision grids do not match the number of pad tokens in sample " + std::to_string(b));
    for (int64_t i = 0; i < n; ++i)
      for (int r = 0; r < 3; ++r) P[(r * B + b) * L + slot[i]] = out[i][r];
    deltas[b][0] = mx + 1 - L;
  }
  return {pos, deltas};
}

VisionWindows ComputeVisionWindows(const torch::Tensor& grid_thw, int64_t spatial_merge_size,
                                   int64_t window_merged) {
  const auto grids = Grids(grid_thw, "grid_thw");
  const int64_t unit = spatial_merge_size * spatial_merge_size;
  std::vector<int64_t> index, cu_win{0}, cu{0};
  int64_t base = 0;
  for (const auto& [t, gh, gw] : grids) {
    const int64_t H = gh / spatial_merge_size, W = gw / spatial_merge_size;
    const int64_t nwh = (H + window_merged - 1) / window_merged, nww = (W + window_merged - 1) / window_merged;
    for (int64_t g = 0; g < t; ++g) {
      for (int64_t wi = 0; wi < nwh; ++wi) {
        for (int64_t wj = 0; wj < nww; ++wj) {
          int64_t count = 0;
          for (int64_t i = wi * window_merged; i < std::min(H, (wi + 1) * window_merged); ++i) {
            for (int64_t j = wj * window_merged; j < std::min(W, (wj + 1) * window_merged); ++j) {
              index.push_back(base + (g * H + i) * W + j);
              ++count;
            }
          }
          if (count) cu_win.push_back(cu_win.back() + count * unit);
        }
      }
      cu.push_back(cu.back() + gh * gw);
    }
    base += t * H * W;
  }
  return {torch::tensor(index, torch::kInt64), torch::tensor(cu_win, torch::kInt64),
          torch::tensor(cu, torch::kInt64)};
}

torch::Tensor VisionRotaryPositions(const torch::Tensor& grid_thw, int64_t spatial_merge_size) {
  const auto grids = Grids(grid_thw, "grid_thw");
  const int64_t M = spatial_merge_size;
  std::vector<int64_t> v;
  for (const auto& [t, gh, gw] : grids) {
    for (int64_t g = 0; g < t; ++g)
      for (int64_t by = 0; by < gh / M; ++by)
        for (int64_t bx = 0; bx < gw / M; ++bx)
          for (int64_t my = 0; my < M; ++my)
            for (int64_t mx = 0; mx < M; ++mx) {
              v.push_back(by * M + my);
              v.push_back(bx * M + mx);
            }
  }
  return torch::tensor(v, torch::kInt64).view({-1, 2});
}

}  // namespace vstar::model
