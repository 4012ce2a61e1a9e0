// Generation (transformers' GenerationMixin.generate): greedy steps against transformers' generate, the KV cache
// against full recomputation, left-padded batches against single runs, logits processors; a shared
// prompt prefix prefilled once (the KV cache expanded to the rows) against every row prefilled alone.
#include "model/generate.hpp"
#include "model_golden.hpp"

using namespace vstar;
using namespace vstar::model;
using vstar::test::Golden;

namespace {

const QwenVL& Tiny() {
  static QwenVL m = [] {
    LoadOptions o;
    o.temporal_index_mode = TemporalIndexMode::kIntSpg;
    return QwenVL::Load(test::TinyDir() / "model", o);
  }();
  return m;
}

ModelInputs Prompt(const std::string& c) {
  const auto& g = Golden::Get();
  ModelInputs in;
  in.input_ids = g[c + ".input_ids"];
  in.attention_mask = g[c + ".attention_mask"];
  if (c == "image") in.images = ProcessImage(test::MediaImage("img140x196"));
  if (c == "two_images") {
    in.images = ProcessImage(test::MediaImage("img56x84"));
    in.images.Append(ProcessImage(test::MediaImage("img224x224")));
  }
  if (c == "batch") in.images = ProcessImage(test::MediaImage("img56x84"));
  return in;
}

SamplingOptions Greedy(int64_t n = 8) {
  SamplingOptions o;
  o.max_new_tokens = n;
  o.keep_logits = true;
  o.pad_token_id = 1000;
  return o;
}

// Row b of a left-padded prompt, without its padding.
ModelInputs Unpadded(const ModelInputs& in, int64_t b, const VisionInput& images) {
  auto mask = in.attention_mask[b].to(torch::kBool);
  ModelInputs one;
  one.input_ids = in.input_ids[b].masked_select(mask).view({1, -1});
  one.attention_mask = torch::ones_like(one.input_ids);
  one.images = images;
  return one;
}

}  // namespace

TEST_CASE("greedy decoding with the KV cache equals transformers generate", "[model][generate]") {
  const auto& g = Golden::Get();
  for (const std::string c : {"text", "image", "two_images", "batch"}) {
    INFO("case " << c);
    auto r = Generate(Tiny(), Prompt(c), Greedy());
    auto ref_tokens = g[c + ".gen.tokens"];
    for (int64_t b = 0; b < ref_tokens.size(0); ++b) {
      CHECK(torch::tensor(r.tokens[b], torch::kInt64).equal(ref_tokens[b]));
      CHECK(r.finish_reasons[b] == "length");
    }
    const double d = test::MaxDiff(r.step_logits, g[c + ".gen.logits"]);
    INFO("step logits max diff " << d);
    CHECK(d <= 1e-4);
    CHECK(r.decode_steps == 7);
  }
}

TEST_CASE("KV-cache decode equals a full recompute", "[model][generate]") {
  torch::NoGradGuard ng;
  auto in = Prompt("image");
  auto r = Generate(Tiny(), in, Greedy());
  ModelInputs full = in;
  auto gen = torch::tensor(r.tokens[0], torch::kInt64).view({1, -1});
  full.input_ids = torch::cat({in.input_ids, gen}, 1);
  full.attention_mask = torch::ones_like(full.input_ids);
  auto logits = Tiny().Forward(full).logits;
  const int64_t L = in.input_ids.size(1);
  // step k's logits come from position L-1+k
  auto rec = logits.narrow(1, L - 1, 8);
  CHECK(test::MaxDiff(rec, r.step_logits) <= 1e-5);
  // and the per-token log-probs are log_softmax of those logits at the chosen tokens
  auto lp = rec.log_softmax(-1).gather(2, gen.view({1, 8, 1})).view({8});
  CHECK(test::MaxDiff(lp, torch::tensor(r.logprobs[0])) <= 1e-5);
}

TEST_CASE("a left-padded batch equals each prompt alone", "[model][generate]") {
  auto in = Prompt("batch");
  auto batch = Generate(Tiny(), in, Greedy());
  auto first = Generate(Tiny(), Unpadded(in, 0, in.images), Greedy());
  auto second = Generate(Tiny(), Unpadded(in, 1, {}), Greedy());
  CHECK(batch.tokens[0] == first.tokens[0]);
  CHECK(batch.tokens[1] == second.tokens[0]);
  CHECK(test::MaxDiff(batch.step_logits[0], first.step_logits[0]) <= 1e-5);
  CHECK(test::MaxDiff(batch.step_logits[1], second.step_logits[0]) <= 1e-5);
}

TEST_CASE("stop ids end a row, other rows continue", "[model][generate]") {
  const auto& g = Golden::Get();
  auto in = Prompt("batch");
  auto ref = g["batch.gen.tokens"];
  auto o = Greedy();
  o.stop_ids = {ref[0][0].item<int64_t>()};  // row 0 stops at once
  auto r = Generate(Tiny(), in, o);
  CHECK(r.tokens[0].size() == 1);
  CHECK(r.finish_reasons[0] == "stop");
  // row 1 is unaffected unless it emits the same id
  std::vector<int64_t> row1(ref[1].data_ptr<int64_t>(), ref[1].data_ptr<int64_t>() + 8);
  auto it = std::find(row1.begin(), row1.end(), o.stop_ids[0]);
  row1.erase(it == row1.end() ? it : it + 1, row1.end());
  CHECK(r.tokens[1] == row1);
}

TEST_CASE("logits processors follow HF semantics", "[model][generate]") {
  auto s = torch::tensor({2.0f, -1.0f, 0.5f, 1.0f, -3.0f}).view({1, 5});
  SamplingOptions o;
  SECTION("repetition penalty divides positive and multiplies negative scores of seen ids") {
    o.repetition_penalty = 2.0;
    auto r = ProcessLogits(s, torch::tensor({0L, 1L, 1L}).view({1, 3}), o);
    CHECK(r[0][0].item<float>() == 1.0f);
    CHECK(r[0][1].item<float>() == -2.0f);
    CHECK(r[0][2].item<float>() == 0.5f);
  }
  SECTION("temperature, top-k and top-p only when sampling") {
    o.top_k = 2;
    CHECK(ProcessLogits(s, {}, o).equal(s));
    o.do_sample = true;
    o.temperature = 0.5;
    auto r = ProcessLogits(s, {}, o);
    CHECK(r[0][0].item<float>() == 4.0f);
    CHECK(r[0][3].item<float>() == 2.0f);
    CHECK(std::isinf(r[0][2].item<float>()));
    o.top_k = 0;
    o.temperature = 1.0;
    o.top_p = 0.5;  // p = softmax: token 0 alone has p = 0.61 >= 0.5
    auto p = ProcessLogits(s, {}, o);
    CHECK(std::isfinite(p[0][0].item<float>()));
    CHECK(std::isinf(p[0][3].item<float>()));
    o.top_p = 0.9;  // tokens 0 (0.61), 3 (0.22) and 2 (0.14) are kept
    auto q = ProcessLogits(s, {}, o);
    CHECK(std::isfinite(q[0][2].item<float>()));
    CHECK(std::isinf(q[0][4].item<float>()));
  }
}

TEST_CASE("seeded sampling is reproducible, top_k=1 is greedy", "[model][generate]") {
  auto in = Prompt("text");
  auto o = Greedy();
  o.do_sample = true;
  o.temperature = 1.5;
  o.seed = 7;
  auto a = Generate(Tiny(), in, o), b = Generate(Tiny(), in, o);
  CHECK(a.tokens == b.tokens);
  o.seed = 8;
  auto c = Generate(Tiny(), in, o);
  o.seed = 9;
  auto d = Generate(Tiny(), in, o);
  CHECK((a.tokens != c.tokens || a.tokens != d.tokens));
  o.top_k = 1;
  auto e = Generate(Tiny(), in, o);
  CHECK(e.tokens[0] == Generate(Tiny(), in, Greedy()).tokens[0]);
}

TEST_CASE("a prompt prefix prefilled once samples what every row prefilled on its own samples", "[model][generate]") {
  torch::NoGradGuard ng;
  const int64_t base = Golden::Get()["image_video.input_ids"].size(1);
  auto in = test::ImageVideoGroup({{}, {17, 4}, {9, 33, 2, 15, 8}, {}});
  auto o = Greedy(10);
  o.do_sample = true;
  o.temperature = 0.9;
  o.top_p = 0.95;
  o.seed = 11;
  auto shared = Generate(Tiny(), in, o);
  o.share_prefix = false;
  auto alone = Generate(Tiny(), in, o);
  // Rows 0 and 3 are one prompt; the three distinct ones share the image + video prompt but its last
  // id (row 0 keeps one token of its own).
  CHECK(shared.prompt_rows == 3);
  CHECK(shared.shared_prefix == base - 1);
  CHECK(alone.prompt_rows == 4);
  CHECK(alone.shared_prefix == 0);
  // The same seeded draws over the same distributions: the same tokens, the same log-probs.
  CHECK(shared.tokens == alone.tokens);
  CHECK(shared.tokens[0] != shared.tokens[3]);  // identical prompts, different samples
  const double d = test::MaxDiff(shared.step_logits, alone.step_logits);
  INFO("step logits max diff " << d);
  CHECK(d <= 1e-5);
  for (size_t b = 0; b < shared.logprobs.size(); ++b)
    CHECK(test::MaxDiff(torch::tensor(shared.logprobs[b]), torch::tensor(alone.logprobs[b])) <= 1e-5);
}

TEST_CASE("rows whose vision items differ are not shared", "[model][generate]") {
  torch::NoGradGuard ng;
  auto in = test::ImageVideoGroup({{}, {}});
  // Row 1's video: the frames in another order (same grid, other pixels).
  auto other = ProcessVideoFiles({test::MediaVideo("vid4", 4)[1], test::MediaVideo("vid4", 4)[0],
                                  test::MediaVideo("vid4", 4)[3], test::MediaVideo("vid4", 4)[2]},
                                 2.0, test::TinyProcessor());
  auto first = ProcessVideoFiles(test::MediaVideo("vid4", 4), 2.0, test::TinyProcessor());
  in.videos = first;
  in.videos.Append(other);
  auto o = Greedy(6);
  auto r = Generate(Tiny(), in, o);
  CHECK(r.prompt_rows == 2);
  CHECK(r.shared_prefix == 0);
  o.share_prefix = false;
  auto alone = Generate(Tiny(), in, o);
  CHECK(r.tokens == alone.tokens);
  CHECK(test::MaxDiff(r.step_logits[1], alone.step_logits[1]) <= 1e-5);
  CHECK(test::MaxDiff(r.step_logits[0], r.step_logits[1]) > 1e-4);  // the videos do reach the rows
}
