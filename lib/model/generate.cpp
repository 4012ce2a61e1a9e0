#include "model/generate.hpp"

#include <algorithm>
#include <chrono>
#include <limits>
#include <stdexcept>

#include <ATen/CPUGeneratorImpl.h>

namespace vstar::model {

namespace {

// Items [first, first + count) of a vision input (rows are t*h*w patches per item, in order).
VisionInput Items(const VisionInput& v, int64_t first, int64_t count) {
  VisionInput out;
  if (count == 0) return out;
  auto grid = v.grid_thw.to(torch::kCPU, torch::kInt64);
  auto rows = grid.prod(1);
  const int64_t begin = first > 0 ? rows.narrow(0, 0, first).sum().item<int64_t>() : 0;
  const int64_t n = rows.narrow(0, first, count).sum().item<int64_t>();
  out.pixel_values = v.pixel_values.narrow(0, begin, n);
  out.grid_thw = v.grid_thw.narrow(0, first, count);
  if (!v.second_per_grid_ts.empty())
    out.second_per_grid_ts.assign(v.second_per_grid_ts.begin() + first, v.second_per_grid_ts.begin() + first + count);
  return out;
}

bool SameItems(const VisionInput& a, const VisionInput& b) {
  if (a.rows() == 0 || b.rows() == 0) return a.rows() == b.rows();
  return a.grid_thw.equal(b.grid_thw) && a.second_per_grid_ts == b.second_per_grid_ts &&
         a.pixel_values.equal(b.pixel_values);
}

// The rows' common prefix when the batch can share it: P >= 1 ids equal in every (unpadded) row, each
// row longer than P, every vision item inside it and equal in every row. Length 0 otherwise.
struct SharedPrefix {
  int64_t length = 0;
  ModelInputs inputs;         // [1, P] with row 0's vision items
  torch::Tensor row_lengths;  // [B] unpadded prompt lengths
};

SharedPrefix FindSharedPrefix(const QwenVL& model, const ModelInputs& in) {
  SharedPrefix sp;
  const int64_t B = in.input_ids.size(0), L = in.input_ids.size(1);
  if (B < 2) return sp;
  auto ids = in.input_ids.to(torch::kCPU, torch::kInt64).contiguous();
  auto mask = in.attention_mask.defined() ? in.attention_mask.to(torch::kCPU, torch::kInt64).contiguous()
                                          : torch::ones({B, L}, torch::kInt64);
  const auto& cfg = model.config();
  const int64_t* id = ids.data_ptr<int64_t>();
  const int64_t* mk = mask.data_ptr<int64_t>();
  std::vector<int64_t> n(B);
  for (int64_t b = 0; b < B; ++b) {
    n[b] = 0;
    for (int64_t j = 0; j < L; ++j) n[b] += mk[b * L + j] != 0;
    for (int64_t j = L - n[b]; j < L; ++j)
      if (mk[b * L + j] == 0) return sp;  // not left padding
  }
  auto row = [&](int64_t b, int64_t j) { return id[b * L + L - n[b] + j]; };
  int64_t P = *std::min_element(n.begin(), n.end()) - 1;  // every row keeps a token of its own
  for (int64_t b = 1; b < B && P > 0; ++b) {
    int64_t j = 0;
    while (j < P && row(b, j) == row(0, j)) ++j;
    P = j;
  }
  if (P <= 0) return sp;
  // No vision placeholder after the prefix: the rest is text the cached decoder continues.
  auto vision = [&](int64_t t) {
    return t == cfg.vision_start_token_id || t == cfg.image_token_id || t == cfg.video_token_id;
  };
  int64_t n_img = 0, n_vid = 0;
  for (int64_t j = 0; j + 1 < P; ++j) {
    if (row(0, j) != cfg.vision_start_token_id) continue;
    n_img += row(0, j + 1) == cfg.image_token_id;
    n_vid += row(0, j + 1) == cfg.video_token_id;
  }
  for (int64_t b = 0; b < B; ++b)
    for (int64_t j = P; j < n[b]; ++j)
      if (vision(row(b, j))) return sp;
  if (in.images.grid_thw.defined() ? in.images.grid_thw.size(0) != B * n_img : n_img != 0) return sp;
  if (in.videos.grid_thw.defined() ? in.videos.grid_thw.size(0) != B * n_vid : n_vid != 0) return sp;
  const VisionInput img0 = Items(in.images, 0, n_img), vid0 = Items(in.videos, 0, n_vid);
  for (int64_t b = 1; b < B; ++b)
    if (!SameItems(Items(in.images, b * n_img, n_img), img0) || !SameItems(Items(in.videos, b * n_vid, n_vid), vid0))
      return sp;
  sp.length = P;
  sp.inputs.input_ids = ids[0].narrow(0, L - n[0], P).view({1, P});
  sp.inputs.attention_mask = torch::ones({1, P}, torch::kInt64);
  sp.inputs.images = img0;
  sp.inputs.videos = vid0;
  sp.row_lengths = torch::tensor(n, torch::kInt64);
  return sp;
}

}  // namespace

Prefilled PrefillPrompt(const QwenVL& model, const ModelInputs& prompt, KVCache& cache, bool share_prefix,
                        const torch::Tensor& then_ids, const torch::Tensor& then_mask) {
  if (!cache.empty()) throw std::invalid_argument("PrefillPrompt needs an empty KV cache");
  const int64_t B = prompt.input_ids.size(0), L = prompt.input_ids.size(1);
  const int64_t T = then_ids.defined() ? then_ids.size(1) : 0;
  if (T > 0 && (!then_mask.defined() || then_mask.sizes() != then_ids.sizes() || then_ids.size(0) != B))
    throw std::invalid_argument("PrefillPrompt: then_ids and then_mask must both be [B, T]");
  const auto device = model.device();
  ForwardOptions fo;
  fo.cache = &cache;
  fo.last_logits_only = true;  // the callers apply the head where they need it
  const SharedPrefix sp = share_prefix ? FindSharedPrefix(model, prompt) : SharedPrefix{};
  if (sp.length == 0) {
    auto first = model.Forward(prompt, fo).hidden.narrow(1, L - 1, 1);
    if (T == 0) return {first, 0};
    ModelInputs rest;
    rest.input_ids = then_ids;
    rest.attention_mask = then_mask;
    return {torch::cat({first, model.Forward(rest, fo).hidden}, 1), 0};
  }
  model.Forward(sp.inputs, fo);
  cache.SelectRows(torch::zeros({B}, torch::kInt64));
  // Each row's rest right-aligned in a chunk of S: the last S ids of the left-padded row, of which the
  // first S - rest are masked (the end of the shared prefix or left padding).
  const auto rest_lengths = sp.row_lengths - sp.length;
  const int64_t S = rest_lengths.max().item<int64_t>();
  auto pad = (S - rest_lengths).view({B, 1});
  ModelInputs chunk;
  auto suffix = prompt.input_ids.narrow(1, L - S, S).to(device, torch::kInt64);
  auto suffix_mask = (torch::arange(S, torch::kInt64).view({1, S}) >= pad).to(torch::kInt64).to(device);
  chunk.input_ids = T > 0 ? torch::cat({suffix, then_ids.to(device, torch::kInt64)}, 1) : suffix;
  chunk.attention_mask = T > 0 ? torch::cat({suffix_mask, then_mask.to(device, torch::kInt64)}, 1) : suffix_mask;
  // Position = cache length + index + delta: the padding must not advance a row's positions.
  cache.rope_deltas = cache.rope_deltas - pad.to(cache.rope_deltas.device());
  return {model.Forward(chunk, fo).hidden.narrow(1, S - 1, 1 + T), sp.length};
}

torch::Tensor ProcessLogits(const torch::Tensor& scores_in, const torch::Tensor& seen, const SamplingOptions& opt) {
  auto scores = scores_in.to(torch::kFloat32).clone();
  if (opt.repetition_penalty != 1.0 && seen.defined() && seen.numel() > 0) {
    auto idx = seen.to(scores.device(), torch::kInt64);
    auto s = scores.gather(1, idx);
    s = torch::where(s < 0, s * opt.repetition_penalty, s / opt.repetition_penalty);
    scores.scatter_(1, idx, s);
  }
  const bool sample = opt.do_sample && opt.temperature > 0;
  if (!sample) return scores;
  const float ninf = -std::numeric_limits<float>::infinity();
  if (opt.temperature != 1.0) scores = scores / opt.temperature;
  const int64_t V = scores.size(1);
  if (opt.top_k > 0 && opt.top_k < V) {
    auto kth = std::get<0>(scores.topk(opt.top_k, 1)).narrow(1, opt.top_k - 1, 1);
    scores = scores.masked_fill(scores < kth, ninf);
  }
  if (opt.top_p < 1.0) {
    auto [sorted, order] = scores.sort(1, /*descending=*/false);
    auto cum = sorted.softmax(1).cumsum(1);
    auto remove = cum <= (1.0 - opt.top_p);
    remove.narrow(1, V - 1, 1).fill_(false);  // min_tokens_to_keep = 1
    auto mask = torch::zeros_like(remove).scatter(1, order, remove);
    scores = scores.masked_fill(mask, ninf);
  }
  return scores;
}

GenerationResult Generate(const QwenVL& model, const ModelInputs& inputs, const SamplingOptions& opt) {
  torch::NoGradGuard no_grad;
  using Clock = std::chrono::steady_clock;
  GenerationResult res;
  const int64_t B = inputs.input_ids.size(0), L = inputs.input_ids.size(1);
  res.prompt_tokens = L;
  res.tokens.resize(B);
  res.logprobs.resize(B);
  res.finish_reasons.assign(B, "length");
  if (opt.max_new_tokens <= 0) return res;
  const bool sample = opt.do_sample && opt.temperature > 0;
  const double temp = sample ? opt.temperature : 1.0;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(opt.seed);

  KVCache cache;
  cache.Reserve(L + opt.max_new_tokens);
  ForwardOptions fo;
  fo.cache = &cache;
  fo.last_logits_only = true;
  // All ids seen so far (HF's input_ids: the prompt, padding included, then the generated ids).
  auto seen = inputs.input_ids.to(torch::kCPU, torch::kInt64);
  std::vector<bool> done(B, false);
  std::vector<torch::Tensor> kept;

  auto t0 = Clock::now();
  const Prefilled pre = PrefillPrompt(model, inputs, cache, opt.share_prefix);
  res.shared_prefix = pre.shared_prefix;
  torch::Tensor next_logits = model.LmHead(pre.hidden);  // [B, 1, V]
  res.prefill_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  auto t1 = Clock::now();
  for (int64_t step = 0; step < opt.max_new_tokens; ++step) {
    auto logits = next_logits.select(1, 0).to(torch::kCPU, torch::kFloat32);  // [B, V]
    if (opt.keep_logits) kept.push_back(logits);
    auto scores = ProcessLogits(logits, seen, opt);
    torch::Tensor next;
    if (sample) {
      next = torch::multinomial(scores.softmax(1), 1, /*replacement=*/false, gen).view({B});
    } else {
      next = scores.argmax(1);
    }
    auto logp = torch::log_softmax(logits / temp, 1).gather(1, next.view({B, 1})).view({B});
    const int64_t* n = next.data_ptr<int64_t>();
    const float* lp = logp.data_ptr<float>();
    auto feed = next.clone();
    int64_t* f = feed.data_ptr<int64_t>();
    bool all_done = true;
    for (int64_t b = 0; b < B; ++b) {
      if (done[b]) {
        f[b] = opt.pad_token_id;
        continue;
      }
      res.tokens[b].push_back(n[b]);
      res.logprobs[b].push_back(lp[b]);
      for (auto s : opt.stop_ids) {
        if (n[b] == s) {
          done[b] = true;
          res.finish_reasons[b] = "stop";
        }
      }
      all_done = all_done && done[b];
    }
    seen = torch::cat({seen, feed.view({B, 1})}, 1);
    if (all_done || step + 1 == opt.max_new_tokens) break;
    ModelInputs step_in;
    step_in.input_ids = feed.view({B, 1});
    step_in.attention_mask = torch::ones({B, 1}, torch::kInt64);
    next_logits = model.Forward(step_in, fo).logits;
    ++res.decode_steps;
  }
  res.decode_seconds = std::chrono::duration<double>(Clock::now() - t1).count();
  if (opt.keep_logits && !kept.empty()) res.step_logits = torch::stack(kept, 1);
  return res;
}

}  // namespace vstar::model
