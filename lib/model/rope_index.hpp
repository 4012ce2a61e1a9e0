#pragma once
// Position bookkeeping of Qwen2.5-VL (transformers modeling_qwen2_5_vl.py): the 3-D M-RoPE position
// ids of the language model (Qwen2_5_VLModel.get_rope_index) and the vision tower's window order
// and attention segment boundaries (Qwen2_5_VisionTransformerPretrainedModel.get_window_index).
// Pure index arithmetic on CPU int64 tensors; exact by construction.
#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace vstar::model {

// How a video's temporal position τ(g) is formed from second_per_grid_t (get_rope_index changed it
// between transformers releases):
//  kFloatThenTrunc: long(g * spg * tokens_per_second) as a float32 product (transformers 4.49, 5.x late);
//  kIntSpg: spg is cast to int64 first, then multiplied (transformers ≈4.53 .. 4.57).
enum class TemporalIndexMode { kFloatThenTrunc, kIntSpg };
TemporalIndexMode ParseTemporalIndexMode(const std::string& name);  // "float_then_trunc" | "int_spg"
const char* TemporalIndexModeName(TemporalIndexMode mode);

struct RopeIndexParams {
  int64_t image_token_id = 151655;
  int64_t video_token_id = 151656;
  int64_t vision_start_token_id = 151652;
  int64_t spatial_merge_size = 2;
  double tokens_per_second = 2;
  TemporalIndexMode temporal_index_mode = TemporalIndexMode::kFloatThenTrunc;
};

struct RopeIndex {
  torch::Tensor position_ids;  // [3, B, L] int64 (padded slots hold 1)
  torch::Tensor rope_deltas;   // [B, 1] int64: max position + 1 - L
};

// input_ids [B, L]; attention_mask [B, L] (undefined = all ones; left or right padding);
// image_grid_thw / video_grid_thw [n, 3] (undefined = none), consumed in order across the batch;
// second_per_grid_ts per video (empty = 1.0 each). Throws std::invalid_argument when the prompt has
// more vision blocks than grids.
RopeIndex GetRopeIndex(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                       const torch::Tensor& image_grid_thw, const torch::Tensor& video_grid_thw,
                       const std::vector<double>& second_per_grid_ts, const RopeIndexParams& params);

struct VisionWindows {
  torch::Tensor window_index;       // [S/merge^2] int64: merge units in window order
  torch::Tensor cu_window_seqlens;  // [n_windows + 1] int64, in patches, no repeated values
  torch::Tensor cu_seqlens;         // [sum t + 1] int64: one segment per (item, temporal step)
};

// Window order for the items of grid_thw [n, 3] (get_window_index). window_merged = window_size /
// spatial_merge_size / patch_size (4 for Qwen2.5-VL).
VisionWindows ComputeVisionWindows(const torch::Tensor& grid_thw, int64_t spatial_merge_size,
                                   int64_t window_merged);

// (hpos, wpos) of every patch row in processor order (rot_pos_emb): [S, 2] int64.
torch::Tensor VisionRotaryPositions(const torch::Tensor& grid_thw, int64_t spatial_merge_size);

}  // namespace vstar::model
