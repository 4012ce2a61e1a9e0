// KV-cache exactness for GRPO: the per-token log-probs Generate collects while sampling (prefill +
// cached decode steps) equal the training-time ones from one full forward over prompt + completion,
// video included (CompletionLogProbs), fp32 on the tiny model, to 1e-5; a group's shared video prefix
// run once gives the unshared values and gradients, also across two turns joined into one batch;
// several updates per rollout batch (PolicyUpdates)
// move and clip the ratio as TRL's objective says.
#include "model/generate.hpp"
#include "model/model_golden.hpp"
#include "train/grpo.hpp"
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
ModelInputs VideoGroup(int64_t g) { return test::ImageVideoGroup(std::vector<std::vector<int64_t>>(g)); }

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

TEST_CASE("training log-probs over a shared video prefix equal unshared sampling's", "[train][grpo]") {
  auto in = test::ImageVideoGroup({{}, {17, 4}, {9, 33, 2, 15, 8}});
  SamplingOptions o;
  o.max_new_tokens = 8;
  o.do_sample = true;
  o.temperature = 0.8;
  o.seed = 5;
  o.pad_token_id = 1000;
  o.share_prefix = false;  // every row prefilled on its own, as before the prefix was shared
  GenerationResult r;
  {
    torch::NoGradGuard ng;
    r = Generate(Tiny(), in, o);
  }
  auto p = Pad(r, o.pad_token_id);
  {
    torch::NoGradGuard ng;
    const double d = test::MaxDiff(train::CompletionLogProbs(Tiny(), in, p.ids, p.mask, o.temperature), p.logps);
    INFO("max diff " << d);
    CHECK(d <= 1e-5);
  }
  // Gradients: the shared prefix (run once, expanded) receives the sum of the rows' gradients, as
  // the unshared forward gives them.
  auto m = LoadTiny();
  m.SetRequiresGrad(true);
  std::vector<torch::Tensor> leaves;
  for (auto& [name, t] : m.NamedParameters()) leaves.push_back(t);
  auto grads = [&](bool share) {
    KVCache cache;
    const int64_t T = p.ids.size(1);
    auto pre = PrefillPrompt(m, in, cache, share, p.ids.narrow(1, 0, T - 1), p.mask.narrow(1, 0, T - 1));
    CHECK((pre.shared_prefix > 0) == share);
    auto lp = train::SelectiveLogProbs(m.LmHead(pre.hidden), p.ids, o.temperature) * p.mask;
    return torch::autograd::grad({lp.sum()}, leaves, {}, false, false, /*allow_unused=*/true);
  };
  auto shared = grads(true), alone = grads(false);
  double worst = 0;
  for (size_t i = 0; i < leaves.size(); ++i) {
    REQUIRE(shared[i].defined() == alone[i].defined());
    if (!alone[i].defined()) continue;
    const double scale = 1.0 + test::MaxAbs(alone[i]);
    worst = std::max(worst, test::MaxDiff(shared[i], alone[i]) / scale);
  }
  INFO("largest gradient difference relative to 1 + max |grad| " << worst);
  CHECK(worst <= 1e-5);
}

TEST_CASE("two updates on one rollout batch: the second moves the ratio, clips it, and takes TRL's loss", "[train][grpo]") {
  auto m = LoadTiny();
  m.SetRequiresGrad(true);
  auto in = VideoGroup(4);
  SamplingOptions so;
  so.max_new_tokens = 6;
  so.do_sample = true;
  so.seed = 3;
  so.pad_token_id = 1000;
  GenerationResult r;
  {
    torch::NoGradGuard ng;
    r = Generate(m, in, so);
  }
  auto p = Pad(r, so.pad_token_id);
  auto adv = train::ComputeAdvantages(torch::tensor({1.0f, 0.0f, 0.5f, -1.0f}), 4, train::AdvantageScale::kGroup);
  train::GrpoLossOptions lo;  // dapo
  lo.epsilon_low = lo.epsilon_high = 0.01;
  train::NamedParams params = m.NamedParameters();
  train::OptimOptions oo;
  train::AdamW optimizer(params, oo);
  std::vector<torch::Tensor> seen;  // the log-probs each update computed
  auto logps = [&](size_t) {
    auto lp = train::CompletionLogProbs(m, in, p.ids, p.mask, 1.0);
    seen.push_back(lp.detach().clone());
    return lp;
  };
  auto logs = train::PolicyUpdates({{p.logps, {}, adv.advantages, p.mask}}, logps, lo, 2,
                                   [](int64_t) { return 1e-2; }, 1.0, params, optimizer);
  REQUIRE(logs.size() == 2);
  REQUIRE(seen.size() == 2);
  // Update 1 runs at the sampling policy: ratio 1 up to the log-prob exactness, nothing clipped.
  CHECK(std::abs(logs[0].ratio_min - 1) <= 1e-4);
  CHECK(std::abs(logs[0].ratio_max - 1) <= 1e-4);
  CHECK(logs[0].clip_ratio == 0.0);
  // Update 2 after one AdamW step at lr 1e-2: the ratio has left [0.99, 1.01] and TRL clips tokens.
  auto mask = p.mask.to(torch::kDouble);
  auto ratio = torch::exp(seen[1].to(torch::kDouble) - p.logps.to(torch::kDouble));
  auto real = ratio.masked_select(p.mask > 0);
  CHECK(logs[1].ratio_min == Approx(real.min().item<double>()).epsilon(1e-6));
  CHECK(logs[1].ratio_max == Approx(real.max().item<double>()).epsilon(1e-6));
  CHECK((logs[1].ratio_max > 1.01 || logs[1].ratio_min < 0.99));
  CHECK(logs[1].clip_ratio > 0);
  // trl 1.16.0 GRPOTrainer._compute_loss (dapo, beta 0) restated in float64 on the recorded log-probs.
  auto a = adv.advantages.to(torch::kDouble).unsqueeze(1);
  auto clipped = ratio.clamp(1 - 0.01, 1 + 0.01);
  auto per_token = -torch::min(ratio * a, clipped * a);
  const double loss = ((per_token * mask).sum() / mask.sum()).item<double>();
  CHECK(logs[1].loss == Approx(loss).epsilon(1e-5).margin(1e-7));
  auto region = ((ratio < 0.99) & (a < 0)) | ((ratio > 1.01) & (a > 0));
  CHECK(logs[1].clip_ratio == Approx(((region.to(torch::kDouble) * mask).sum() / mask.sum()).item<double>()));
}

TEST_CASE("two turns' prompts joined into one batch share their video and score as each alone", "[train][grpo]") {
  torch::NoGradGuard ng;
  // Turn 1: two copies of one prompt; turn 2: the same video, texts of their own after it.
  auto turn1 = test::ImageVideoGroup({{}, {}});
  auto turn2 = test::ImageVideoGroup({{40, 41, 42}, {43}});
  auto joint = JoinBatches(turn1, turn2, 1000);
  REQUIRE(joint.input_ids.size(0) == 4);
  {
    KVCache cache;
    auto pre = PrefillPrompt(Tiny(), joint, cache, true);
    CHECK(pre.prompt_rows == 3);  // the two turn-1 copies run as one
    CHECK(pre.shared_prefix == Golden::Get()["image_video.input_ids"].size(1) - 1);  // the video once for all
  }
  auto ids = torch::tensor({5L, 9L, 11L, 3L, 8L, 2L, 7L, 7L, 1L, 4L, 6L, 12L}).view({4, 3});
  auto mask = torch::ones_like(ids);
  mask[3][2] = 0;
  auto lp = train::CompletionLogProbs(Tiny(), joint, ids, mask, 0.9);
  auto lp1 = train::CompletionLogProbs(Tiny(), turn1, ids.narrow(0, 0, 2), mask.narrow(0, 0, 2), 0.9);
  auto lp2 = train::CompletionLogProbs(Tiny(), turn2, ids.narrow(0, 2, 2), mask.narrow(0, 2, 2), 0.9);
  CHECK(test::MaxDiff(lp, torch::cat({lp1, lp2})) <= 1e-5);
  // A different video in turn 2 (as after an overlay tool): no prefix is shared across the turns,
  // the equal turn-1 rows still run once, and the scores are each turn's alone.
  auto other = turn2;
  const auto frames = test::MediaVideo("vid4", 4);
  const auto shuffled = ProcessVideoFiles({frames[1], frames[0], frames[3], frames[2]}, 2.0, test::TinyProcessor());
  other.videos = shuffled;
  other.videos.Append(shuffled);
  auto joint2 = JoinBatches(turn1, other, 1000);
  {
    KVCache cache;
    auto pre = PrefillPrompt(Tiny(), joint2, cache, true);
    CHECK(pre.prompt_rows == 3);
    CHECK(pre.shared_prefix == 0);
  }
  auto lp_other = train::CompletionLogProbs(Tiny(), other, ids.narrow(0, 2, 2), mask.narrow(0, 2, 2), 0.9);
  CHECK(test::MaxDiff(train::CompletionLogProbs(Tiny(), joint2, ids, mask, 0.9), torch::cat({lp1, lp_other})) <= 1e-5);
  CHECK(test::MaxDiff(lp_other, lp2) > 1e-4);  // the video reaches the scores
}
