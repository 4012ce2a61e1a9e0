#include "model/generate.hpp"

#include <chrono>
#include <limits>

#include <ATen/CPUGeneratorImpl.h>

namespace vstar::model {

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
  auto out = model.Forward(inputs, fo);
  res.prefill_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  auto t1 = Clock::now();
  for (int64_t step = 0; step < opt.max_new_tokens; ++step) {
    auto logits = out.logits.select(1, 0).to(torch::kCPU, torch::kFloat32);  // [B, V]
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
    out = model.Forward(step_in, fo);
    ++res.decode_steps;
  }
  res.decode_seconds = std::chrono::duration<double>(Clock::now() - t1).count();
  if (opt.keep_logits && !kept.empty()) res.step_logits = torch::stack(kept, 1);
  return res;
}

}  // namespace vstar::model
