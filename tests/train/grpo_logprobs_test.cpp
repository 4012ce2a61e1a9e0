// KV-cache exactness for GRPO: the per-token log-probs Generate collects while sampling (prefill +
// cached decode steps) equal the training-time ones from one full forward over prompt + completion,
// video included (CompletionLogProbs), fp32 on the tiny model, to 1e-5.
#include "model/generate.hpp"
#include "model/model_golden.hpp"
#include "train/grpo_loss.hpp"

using namespace vstar;
using namespace vstar::model;
using vstar::test::Golden;

namespace {

QwenVL LoadTiny() {
  LoadOptions o;
  o.temporal_index_mode = TemporalIndexMode::kIntSpg;  // what transformers 4.57 does (tiny MANIFEST)
  return QwenVL::Load(test::TinyDir() / "model", o);
}

const QwenVL& Tiny() {
  static QwenVL m = LoadTiny();
  return m;
}

// The golden's image + video prompt, repeated `g` times: one GRPO group's rollout batch.
ModelInputs VideoGroup(int64_t g) {
  const auto& gold = Golden::Get();
  auto ids = gold["image_video.input_ids"];
  auto img = ProcessImage(test::MediaImage("img56x84"));
  auto vid = ProcessVideoFiles(test::MediaVideo("vid4", 4), 2.0, test::TinyProcessor());
  ModelInputs in;
  std::vector<torch::Tensor> rows(g, ids);
  in.input_ids = torch::cat(rows, 0);
  in.attention_mask = torch::ones_like(in.input_ids);
  for (int64_t i = 0; i < g; ++i) {
    in.images.Append(img);
    in.videos.Append(vid);
  }
  return in;
}

// Generated tokens right-padded into [B, T] with their mask, and the collected log-probs likewise.
struct Padded {
  torch::Tensor ids, mask, logps;
};
Padded Pad(const GenerationResult& r, int64_t pad_id) {
  const int64_t B = static_cast<int64_t>(r.tokens.size());
  int64_t T = 0;
  for (const auto& t : r.tokens) T = std::max<int64_t>(T, static_cast<int64_t>(t.size()));
  Padded p{torch::full({B, T}, pad_id, torch::kLong), torch::zeros({B, T}, torch::kLong), torch::zeros({B, T})};
  for (int64_t b = 0; b < B; ++b)
    for (size_t t = 0; t < r.tokens[b].size(); ++t) {
      p.ids[b][t] = r.tokens[b][t];
      p.mask[b][t] = 1;
      p.logps[b][t] = r.logprobs[b][t];
    }
  return p;
}

}  // namespace

TEST_CASE("sampled KV-cache log-probs equal the training forward's, video prompt", "[train][grpo]") {
  torch::NoGradGuard ng;
  auto in = VideoGroup(3);
  SamplingOptions o;
  o.max_new_tokens = 12;
  o.do_sample = true;
  o.temperature = 0.7;  // the training side divides by it too
  o.top_p = 0.9;
  o.seed = 7;
  o.pad_token_id = 1000;
  auto r = Generate(Tiny(), in, o);
  auto p = Pad(r, o.pad_token_id);
  REQUIRE(p.ids.size(1) == 12);
  CHECK_FALSE(p.ids[0].equal(p.ids[1]));  // sampled: the rows of the group differ
  auto lp = train::CompletionLogProbs(Tiny(), in, p.ids, p.mask, o.temperature);
  double d = test::MaxDiff(lp, p.logps);
  INFO("max diff " << d);
  CHECK(d <= 1e-5);
  // A completion cut short (as after an early EOS): the kept prefix is unchanged, the rest is 0.
  auto mask = p.mask.clone();
  mask[1].narrow(0, 5, 7).zero_();
  auto lp2 = train::CompletionLogProbs(Tiny(), in, p.ids, mask, o.temperature);
  CHECK(test::MaxDiff(lp2[1].narrow(0, 0, 5), p.logps[1].narrow(0, 0, 5)) <= 1e-5);
  CHECK(lp2[1].narrow(0, 5, 7).abs().max().item<double>() == 0.0);
  // The temperature matters: at T = 1 they differ.
  CHECK(test::MaxDiff(train::CompletionLogProbs(Tiny(), in, p.ids, p.mask, 1.0), p.logps) > 1e-3);
}

TEST_CASE("greedy KV-cache log-probs equal the training forward's, left-padded batch", "[train][grpo]") {
  torch::NoGradGuard ng;
  const auto& gold = Golden::Get();
  ModelInputs in;
  in.input_ids = gold["batch.input_ids"];
  in.attention_mask = gold["batch.attention_mask"];
  in.images = ProcessImage(test::MediaImage("img56x84"));
  REQUIRE(in.attention_mask.min().item<int64_t>() == 0);  // one row is left-padded
  SamplingOptions o;
  o.max_new_tokens = 8;
  o.pad_token_id = 1000;
  auto r = Generate(Tiny(), in, o);
  auto p = Pad(r, o.pad_token_id);
  auto lp = train::CompletionLogProbs(Tiny(), in, p.ids, p.mask, 1.0);
  double d = test::MaxDiff(lp, p.logps);
  INFO("max diff " << d);
  CHECK(d <= 1e-5);
}

TEST_CASE("training log-probs carry gradients into the model", "[train][grpo]") {
  auto m = LoadTiny();
  m.SetRequiresGrad(true);
  auto in = VideoGroup(1);
  auto ids = torch::tensor({5L, 9L, 11L}).view({1, 3});
  auto lp = train::CompletionLogProbs(m, in, ids, torch::ones_like(ids), 1.0);
  REQUIRE(lp.requires_grad());
  std::vector<torch::Tensor> leaves;
  for (auto& [name, t] : m.NamedParameters()) leaves.push_back(t);
  auto grads = torch::autograd::grad({lp.sum()}, leaves, {}, /*retain_graph=*/false, /*create_graph=*/false,
                                     /*allow_unused=*/true);
  size_t with_grad = 0;
  for (auto& g : grads) with_grad += g.defined() && g.abs().sum().item<double>() > 0;
  CHECK(with_grad > leaves.size() / 2);  // the decoder and the vision tower both receive gradient
}

TEST_CASE("a vision placeholder id sampled in a completion is scored as generation scored it", "[train][grpo]") {
  torch::NoGradGuard ng;
  auto in = VideoGroup(1);
  const auto& cfg = Tiny().config();
  auto ids = torch::tensor({7L, cfg.vision_start_token_id, cfg.image_token_id, cfg.image_token_id, 21L}).view({1, 5});
  auto lp = train::CompletionLogProbs(Tiny(), in, ids, torch::ones_like(ids), 0.7);
  // Generation's path: teacher-forced one token at a time through the KV cache.
  KVCache cache;
  ForwardOptions fo;
  fo.cache = &cache;
  fo.last_logits_only = true;
  auto out = Tiny().Forward(in, fo);
  std::vector<torch::Tensor> ref;
  for (int64_t t = 0; t < ids.size(1); ++t) {
    auto next = ids.narrow(1, t, 1);
    ref.push_back(torch::log_softmax(out.logits.select(1, 0) / 0.7, -1).gather(1, next).view({1}));
    ModelInputs step;
    step.input_ids = next;
    step.attention_mask = torch::ones_like(next);
    out = Tiny().Forward(step, fo);
  }
  double d = test::MaxDiff(lp.view({-1}), torch::cat(ref));
  INFO("max diff " << d);
  CHECK(d <= 1e-5);
}
