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
  auto rows = v.grid_thw.to(torch::kCPU, torch::kInt64).prod(1);
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

// A left-padded batch seen row by row: each row's real ids and its own vision items (items are
// counted as GetRopeIndex counts them: <|vision_start|> followed by the image or video pad).
struct Rows {
  std::vector<std::vector<int64_t>> ids;
  std::vector<VisionInput> images, videos;
  bool valid = false;  // left padding only, and the items add up to the batch's
};

Rows SplitRows(const QwenVL& model, const ModelInputs& in) {
  Rows r;
  const int64_t B = in.input_ids.size(0), L = in.input_ids.size(1);
  auto ids = in.input_ids.to(torch::kCPU, torch::kInt64).contiguous();
  auto mask = in.attention_mask.defined() ? in.attention_mask.to(torch::kCPU, torch::kInt64).contiguous()
                                          : torch::ones({B, L}, torch::kInt64);
  const auto& cfg = model.config();
  const int64_t* id = ids.data_ptr<int64_t>();
  const int64_t* mk = mask.data_ptr<int64_t>();
  int64_t img = 0, vid = 0;
  for (int64_t b = 0; b < B; ++b) {
    int64_t n = 0;
    for (int64_t j = 0; j < L; ++j) n += mk[b * L + j] != 0;
    for (int64_t j = L - n; j < L; ++j)
      if (mk[b * L + j] == 0) return r;  // not left padding
    std::vector<int64_t> row(id + b * L + L - n, id + (b + 1) * L);
    int64_t n_img = 0, n_vid = 0;
    for (size_t j = 0; j + 1 < row.size(); ++j) {
      if (row[j] != cfg.vision_start_token_id) continue;
      n_img += row[j + 1] == cfg.image_token_id;
      n_vid += row[j + 1] == cfg.video_token_id;
    }
    const int64_t have_img = in.images.grid_thw.defined() ? in.images.grid_thw.size(0) : 0;
    const int64_t have_vid = in.videos.grid_thw.defined() ? in.videos.grid_thw.size(0) : 0;
    if (img + n_img > have_img || vid + n_vid > have_vid) return r;
    r.images.push_back(Items(in.images, img, n_img));
    r.videos.push_back(Items(in.videos, vid, n_vid));
    img += n_img;
    vid += n_vid;
    r.ids.push_back(std::move(row));
  }
  r.valid = img == (in.images.grid_thw.defined() ? in.images.grid_thw.size(0) : 0) &&
            vid == (in.videos.grid_thw.defined() ? in.videos.grid_thw.size(0) : 0);
  return r;
}

// Rows `keep` of a split batch as a left-padded batch of their own.
ModelInputs Batch(const Rows& rows, const std::vector<int64_t>& keep, int64_t pad_id) {
  size_t L = 0;
  for (auto k : keep) L = std::max(L, rows.ids[k].size());
  const int64_t B = static_cast<int64_t>(keep.size());
  ModelInputs in;
  in.input_ids = torch::full({B, static_cast<int64_t>(L)}, pad_id, torch::kInt64);
  in.attention_mask = torch::zeros({B, static_cast<int64_t>(L)}, torch::kInt64);
  for (int64_t b = 0; b < B; ++b) {
    const auto& v = rows.ids[keep[b]];
    const int64_t n = static_cast<int64_t>(v.size()), off = static_cast<int64_t>(L) - n;
    in.input_ids[b].narrow(0, off, n).copy_(torch::tensor(v, torch::kInt64));
    in.attention_mask[b].narrow(0, off, n).fill_(1);
    in.images.Append(rows.images[keep[b]]);
    in.videos.Append(rows.videos[keep[b]]);
  }
  return in;
}

// The rows' common prefix when they can share it: P >= 1 ids equal in every row, each row longer
// than P, every vision item inside it and equal in every row. 0 otherwise.
int64_t CommonPrefix(const QwenVL& model, const Rows& rows) {
  const auto& cfg = model.config();
  const size_t B = rows.ids.size();
  if (B < 2) return 0;
  size_t P = rows.ids[0].size();
  for (const auto& r : rows.ids) P = std::min(P, r.size());
  if (P == 0) return 0;
  P -= 1;  // every row keeps a token of its own
  for (size_t b = 1; b < B && P > 0; ++b) {
    size_t j = 0;
    while (j < P && rows.ids[b][j] == rows.ids[0][j]) ++j;
    P = j;
  }
  if (P == 0) return 0;
  for (size_t b = 0; b < B; ++b) {
    for (size_t j = P; j < rows.ids[b].size(); ++j) {
      const int64_t t = rows.ids[b][j];
      if (t == cfg.vision_start_token_id || t == cfg.image_token_id || t == cfg.video_token_id) return 0;
    }
    if (!SameItems(rows.images[b], rows.images[0]) || !SameItems(rows.videos[b], rows.videos[0])) return 0;
  }
  return static_cast<int64_t>(P);
}

}  // namespace

ModelInputs JoinBatches(const ModelInputs& a, const ModelInputs& b, int64_t pad_id) {
  if (a.position_ids.defined() || b.position_ids.defined())
    throw std::invalid_argument("JoinBatches: batches with explicit position ids cannot be joined");
  const int64_t L = std::max(a.input_ids.size(1), b.input_ids.size(1));
  auto left_pad = [&](const torch::Tensor& t, int64_t value) {
    const int64_t n = L - t.size(1);
    return n == 0 ? t : torch::cat({torch::full({t.size(0), n}, value, t.options()), t}, 1);
  };
  auto mask = [](const ModelInputs& in) {
    return in.attention_mask.defined() ? in.attention_mask.to(torch::kInt64) : torch::ones_like(in.input_ids);
  };
  ModelInputs out;
  out.input_ids = torch::cat({left_pad(a.input_ids, pad_id), left_pad(b.input_ids.to(a.input_ids.device()), pad_id)});
  out.attention_mask = torch::cat({left_pad(mask(a), 0), left_pad(mask(b).to(a.input_ids.device()), 0)});
  out.images = a.images;
  out.images.Append(b.images);
  out.videos = a.videos;
  out.videos.Append(b.videos);
  return out;
}

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
  Prefilled out;
  auto continued = [&](torch::Tensor last) {  // `last` [B, 1, H]; then `then` against the cache
    if (T == 0) return last;
    ModelInputs rest;
    rest.input_ids = then_ids.to(device, torch::kInt64);
    rest.attention_mask = then_mask.to(device, torch::kInt64);
    return torch::cat({last, model.Forward(rest, fo).hidden}, 1);
  };
  const Rows rows = share_prefix && B > 1 ? SplitRows(model, prompt) : Rows{};
  if (!rows.valid) {
    out.prompt_rows = B;
    out.hidden = continued(model.Forward(prompt, fo).hidden.narrow(1, L - 1, 1));
    return out;
  }
  // 1. Equal prompts (same ids, same vision items) run as one row: `unique` holds the first row of
  // each, `of[b]` row b's place among them.
  std::vector<int64_t> unique, of(static_cast<size_t>(B));
  for (int64_t b = 0; b < B; ++b) {
    size_t u = 0;
    while (u < unique.size() && !(rows.ids[unique[u]] == rows.ids[b] && SameItems(rows.images[unique[u]], rows.images[b]) &&
                                  SameItems(rows.videos[unique[u]], rows.videos[b])))
      ++u;
    if (u == unique.size()) unique.push_back(b);
    of[b] = static_cast<int64_t>(u);
  }
  Rows distinct;
  distinct.valid = true;
  for (auto u : unique) {
    distinct.ids.push_back(rows.ids[u]);
    distinct.images.push_back(rows.images[u]);
    distinct.videos.push_back(rows.videos[u]);
  }
  std::vector<int64_t> all(unique.size());
  for (size_t u = 0; u < all.size(); ++u) all[u] = static_cast<int64_t>(u);
  const ModelInputs batch = Batch(distinct, all, /*pad_id=*/0);  // padding is masked: any id embeds
  const int64_t U = batch.input_ids.size(0), LU = batch.input_ids.size(1);
  out.prompt_rows = U;
  // 2. A prefix the distinct prompts share runs once, as one row; the cache is expanded to the U rows
  // and each one's rest follows as one chunk right-aligned in S positions: the last S ids of the
  // left-padded row, of which the first S - rest are masked (the end of the shared prefix or left
  // padding), and the row's rope delta lowered by that padding (position = cache length + index +
  // delta), so every real token keeps its position and attention.
  const int64_t P = CommonPrefix(model, distinct);
  torch::Tensor last;
  if (P == 0) {
    last = model.Forward(batch, fo).hidden.narrow(1, LU - 1, 1);
  } else {
    ModelInputs prefix = Batch(distinct, {0}, 0);
    prefix.input_ids = prefix.input_ids.narrow(1, 0, P);
    prefix.attention_mask = prefix.attention_mask.narrow(1, 0, P);
    model.Forward(prefix, fo);
    cache.SelectRows(torch::zeros({U}, torch::kInt64));
    std::vector<int64_t> lengths;
    for (const auto& r : distinct.ids) lengths.push_back(static_cast<int64_t>(r.size()) - P);
    const auto rest = torch::tensor(lengths, torch::kInt64);
    const int64_t S = rest.max().item<int64_t>();
    auto pad = (S - rest).view({U, 1});
    ModelInputs chunk;
    chunk.input_ids = batch.input_ids.narrow(1, LU - S, S);
    chunk.attention_mask = (torch::arange(S, torch::kInt64).view({1, S}) >= pad).to(torch::kInt64);
    cache.rope_deltas = cache.rope_deltas - pad.to(cache.rope_deltas.device());
    last = model.Forward(chunk, fo).hidden.narrow(1, S - 1, 1);
    out.shared_prefix = P;
  }
  // 3. The U rows expanded to the B rows of the batch.
  if (U < B) {
    auto index = torch::tensor(of, torch::kInt64);
    cache.SelectRows(index);
    last = last.index_select(0, index.to(last.device()));
  }
  out.hidden = continued(last);
  return out;
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
  res.prompt_rows = pre.prompt_rows;
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
