// vs-sft --gradient-checkpointing: the recomputed decoder layers and vision blocks give the loss and
// gradients of the run that keeps its activations (with LoRA dropout too: the recomputation replays
// the generator), and vs-sft's progress line carries the loss.
#include <map>
#include <sstream>

#include "io/progress.hpp"
#include "model/qwen_vl.hpp"
#include "model/tokenizer.hpp"
#include "train/lora.hpp"
#include "train/sft.hpp"
#include "train/sft_data.hpp"
#include "train_fixture.hpp"

using namespace vstar;
using namespace vstar::train;
namespace fs = std::filesystem;

namespace {

// The two-record golden batch (videos in both) of tests/train/test_golden.cpp.
struct GoldenBatch {
  std::vector<Example> ex;
  std::vector<Media> media;
  Batch batch;
};
const GoldenBatch& Golden() {
  static const GoldenBatch g = [] {
    GoldenBatch b;
    const auto tok = model::Tokenizer::Load(test::TinyModelDir());
    const auto cfg = model::LoadConfig(test::TinyModelDir());
    DataOptions d;
    d.video_max_pixels = test::kTinyVideoPixels;
    SftEncoder enc(tok, cfg, d);
    for (auto& r : test::GoldenRecords()) {
      auto rec = ParseSftRecord(r);
      b.media.push_back(enc.LoadMedia(rec));
      b.ex.push_back(*enc.Encode(rec, b.media.back()).example);
    }
    b.batch = Collate({&b.ex[0], &b.ex[1]}, {&b.media[0], &b.media[1]}, enc.pad_id());
    return b;
  }();
  return g;
}

struct LossAndGrads {
  double loss = 0;
  std::map<std::string, torch::Tensor> grads;
};

// Loss and gradients of every trainable tensor on the golden batch; `lora_dropout` > 0 trains LoRA
// adapters (seeded) with that dropout instead of the full model, its masks drawn after seeding the
// generator with `dropout_seed`.
LossAndGrads Run(bool checkpointing, double lora_dropout, uint64_t dropout_seed = 11) {
  torch::manual_seed(7);
  auto m = model::QwenVL::Load(test::TinyModelDir());
  m.SetGradientCheckpointing(checkpointing);
  NamedParams params;
  std::optional<Lora> lora;
  if (lora_dropout > 0) {
    LoraOptions o;
    o.rank = 4;
    o.dropout = lora_dropout;
    lora = Lora::Attach(m, o);
    params = lora->Parameters();
    torch::NoGradGuard ng;
    for (auto& [n, t] : params) t.normal_(0, 0.2);  // B non-zero: the dropout shows in the gradients
  } else {
    m.SetRequiresGrad(true);
    params = m.NamedParameters();
  }
  const auto& b = Golden().batch;
  torch::manual_seed(dropout_seed);
  auto loss = model::CausalLmLoss(m.Forward(b.inputs).logits, b.labels, b.trained_tokens);
  loss.backward();
  LossAndGrads r;
  r.loss = loss.item<double>();
  for (auto& [n, t] : params) r.grads[n] = t.grad().defined() ? t.grad().clone() : torch::Tensor();
  return r;
}

void CheckEqual(const LossAndGrads& a, const LossAndGrads& b) {
  CHECK(a.loss == b.loss);
  REQUIRE(a.grads.size() == b.grads.size());
  size_t with_grad = 0;
  for (const auto& [n, g] : a.grads) {
    INFO(n);
    const auto& h = b.grads.at(n);
    REQUIRE(g.defined() == h.defined());
    if (!g.defined()) continue;
    ++with_grad;
    CHECK((g - h).abs().max().item<double>() <= 1e-6 * std::max(1.0, h.abs().max().item<double>()));
  }
  CHECK(with_grad > 0);
}

}  // namespace

TEST_CASE("gradient checkpointing: loss and gradients of every parameter equal the stored-activation run",
          "[train][sft][checkpointing]") {
  torch::set_num_threads(1);
  const auto plain = Run(false, 0.0);
  const auto recomputed = Run(true, 0.0);
  CheckEqual(recomputed, plain);
  // Gradients reach the vision tower through the recomputed blocks.
  CHECK(recomputed.grads.at("visual.blocks.0.attn.qkv.weight").abs().sum().item<double>() > 0);
  CHECK(recomputed.grads.at("visual.patch_embed.proj.weight").abs().sum().item<double>() > 0);
}

TEST_CASE("gradient checkpointing with LoRA dropout replays the same dropout masks", "[train][sft][checkpointing][lora]") {
  torch::set_num_threads(1);
  const auto plain = Run(false, 0.3);
  CheckEqual(Run(true, 0.3), plain);
  CHECK(plain.grads.size() == 28);  // A and B of 7 projections x 2 layers
  // The dropout is live: other masks give another loss.
  CHECK(Run(false, 0.3, 12).loss != plain.loss);
}

TEST_CASE("vs-sft --gradient-checkpointing takes the same steps as without", "[train][sft][checkpointing]") {
  const fs::path dir = test::TempDir("sft-gc");
  std::string text;
  for (const auto& r : test::GoldenRecords()) text += r.dump() + "\n";
  test::WriteFile(dir / "records.jsonl", text);
  SftOptions o;
  o.model_dir = test::TinyModelDir().string();
  o.inputs = {(dir / "records.jsonl").string()};
  o.data.video_max_pixels = test::kTinyVideoPixels;
  o.max_steps = 3;
  o.optim.lr = 1e-3;
  std::ostringstream errors;
  o.output_dir = (dir / "a").string();
  o.metrics_file = (dir / "a.jsonl").string();
  auto a = RunSft(o, errors);
  o.gradient_checkpointing = true;
  o.output_dir = (dir / "b").string();
  o.metrics_file = (dir / "b.jsonl").string();
  auto b = RunSft(o, errors);
  REQUIRE(a.metrics.size() == 3);
  REQUIRE(b.metrics.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    INFO("step " << i + 1);
    CHECK(b.metrics[i].loss == Approx(a.metrics[i].loss).epsilon(1e-6));
    CHECK(b.metrics[i].grad_norm == Approx(a.metrics[i].grad_norm).epsilon(1e-6));
  }
}

TEST_CASE("vs-sft progress line shows step, loss and ETA", "[train][sft][progress]") {
  const std::string t = io::ProgressBar::Format("vs-sft steps", 5, 20, 10.0, "loss 0.4321");
  CHECK(t.find("5/20") != std::string::npos);
  CHECK(t.find("loss 0.4321") != std::string::npos);
  CHECK(t.find("ETA 00:30") != std::string::npos);
  CHECK(io::ProgressBar::Format("vs-sft steps", 5, 20, 10.0).find("loss") == std::string::npos);
}
