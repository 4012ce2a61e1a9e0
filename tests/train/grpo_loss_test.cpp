// GRPO advantages, policy loss (value, gradient in the log-probs, logged statistics) and per-token
// log-probs against tools/golden/grpo_goldens.py: trl 1.16.0's own GRPOTrainer._compute_loss and
// selective_log_softmax, its advantage formula and the authors' clamped-KL form restated.
#include <algorithm>
#include <cmath>
#include <functional>

#include <nlohmann/json.hpp>

#include "support.hpp"
#include "train/grpo_loss.hpp"

using namespace vstar;
using namespace vstar::train;
using Json = nlohmann::json;

namespace {

const Json& Cases() {
  static Json j = Json::parse(test::ReadFile(test::FixtureDir() / "train/grpo/cases.json"));
  return j;
}

// Nested JSON number lists → tensor of `dtype` (the fixture's numbers are float32 values).
torch::Tensor T(const Json& j, torch::ScalarType dtype = torch::kDouble) {
  std::vector<int64_t> shape;
  const Json* p = &j;
  while (p->is_array()) {
    shape.push_back(static_cast<int64_t>(p->size()));
    if (p->empty()) break;
    p = &(*p)[0];
  }
  std::vector<double> flat;
  std::function<void(const Json&)> walk = [&](const Json& x) {
    if (x.is_array())
      for (const auto& y : x) walk(y);
    else
      flat.push_back(x.get<double>());
  };
  walk(j);
  return torch::tensor(flat, torch::kDouble).view(shape).to(dtype);
}

// max|a − b| <= rel · max|b| (+ a floor for an all-zero golden).
void CheckClose(const torch::Tensor& actual, const torch::Tensor& golden, double rel, const std::string& what) {
  double scale = golden.abs().max().item<double>();
  double diff = (actual.to(torch::kDouble) - golden.to(torch::kDouble)).abs().max().item<double>();
  INFO(what << ": max diff " << diff << ", max |golden| " << scale);
  CHECK(diff <= rel * scale + 1e-12);
}

// Scalars: relative, with an absolute floor of rel/100 for goldens at 0 (the authors' K = 1 loss is a
// mean of group-centred advantages: 0 up to rounding).
void CheckClose(double actual, double golden, double rel, const std::string& what) {
  INFO(what << ": " << actual << " vs golden " << golden);
  CHECK(std::abs(actual - golden) <= rel * std::max(std::abs(golden), 0.01));
}

GrpoLossOptions OptionsFor(const Json& c) {
  GrpoLossOptions o;
  o.loss = ParseLossType(c["loss"]);
  o.beta = c["beta"];
  o.epsilon_low = Cases()["epsilon_low"];
  o.epsilon_high = Cases()["epsilon_high"];
  o.kl_clamp = c["kl_clamp"];
  return o;
}

GrpoBatch BatchFor(const Json& c, torch::ScalarType dtype) {
  const Json& f = Cases();
  GrpoBatch b;
  b.logps = T(f["logps"], dtype).requires_grad_(true);
  if (c["updates"].get<int>() > 1) b.old_logps = T(f["old_logps"], dtype);
  b.ref_logps = T(c.contains("ref_logps") ? c["ref_logps"] : f["ref_logps"], dtype);
  b.advantages = T(f["advantages"], dtype);
  b.mask = T(c.contains("mask") ? c["mask"] : f["mask"], dtype);
  b.accumulation_steps = c["accumulation_steps"];
  if (!c["num_items_in_batch"].is_null()) b.num_items_in_batch = c["num_items_in_batch"];
  b.max_completion_length = f["max_completion_length"];
  return b;
}

std::string Label(const Json& c) {
  return c["source"].get<std::string>() + " " + c["loss"].get<std::string>() + " beta=" +
         std::to_string(c["beta"].get<double>()) + " K=" + std::to_string(c["updates"].get<int>()) +
         " accum=" + std::to_string(c["accumulation_steps"].get<int>());
}

}  // namespace

TEST_CASE("group advantages equal trl's for scale group, batch and none", "[train][grpo]") {
  const Json& f = Cases();
  auto rewards = T(f["rewards"]);
  // 1e-7, not 1e-12: trl's nanstd computes Bessel's factor count / (count − 1) from integer tensors,
  // which torch divides in float32 (4/3 → 1.33333337); we use the exact factor, as torch.std does.
  for (const auto& c : f["advantage_cases"]) {
    auto r = ComputeAdvantages(rewards, f["group_size"], ParseAdvantageScale(c["scale"]));
    CheckClose(r.advantages, T(c["advantages"]), 1e-7, "advantages " + c["scale"].get<std::string>());
    CheckClose(r.std, T(c["std"]), 1e-7, "std " + c["scale"].get<std::string>());
  }
  // The all-equal group (the last one) has no signal: advantages exactly 0.
  auto r = ComputeAdvantages(rewards, f["group_size"], AdvantageScale::kGroup);
  CHECK(r.advantages.slice(0, 8, 12).abs().max().item<double>() == 0.0);
  CHECK_THROWS_AS(ComputeAdvantages(rewards, 5, AdvantageScale::kGroup), std::invalid_argument);
  CHECK_THROWS_AS(ComputeAdvantages(torch::tensor({1.0, std::nan("")}), 2, AdvantageScale::kGroup),
                  std::invalid_argument);
}

TEST_CASE("grpo loss, gradient and statistics equal trl 1.16 and the authors' form", "[train][grpo]") {
  const Json& f = Cases();
  REQUIRE(f["loss_cases"].size() == 20);
  for (auto dtype : {torch::kDouble, torch::kFloat}) {
    const double rel = dtype == torch::kDouble ? 1e-10 : 1e-5;
    for (const auto& c : f["loss_cases"]) {
      const std::string what = Label(c) + (dtype == torch::kDouble ? " f64" : " f32");
      auto b = BatchFor(c, dtype);
      auto r = GrpoLoss(b, OptionsFor(c));
      r.loss.backward();
      CheckClose(r.loss.item<double>(), c["value"].get<double>(), rel, what + " loss");
      CheckClose(b.logps.grad(), T(c["grad"]), rel, what + " grad");
      const Json& s = c["stats"];
      if (c["source"] == "trl") {
        auto j = r.stats.ToJson();
        CHECK(j.contains("kl") == s.contains("kl"));
        for (const auto& [k, v] : s.items()) CheckClose(j[k].get<double>(), v.get<double>(), rel, what + " " + k);
      }
    }
  }
}

TEST_CASE("the authors' options are grpo, beta 0.04, KL clamp 10", "[train][grpo]") {
  const Json& f = Cases();
  for (const auto& c : f["loss_cases"]) {
    if (c["source"] != "authors" || c["beta"].get<double>() == 0.0) continue;
    auto b = BatchFor(c, torch::kDouble);
    auto r = GrpoLoss(b, GrpoLossOptions::Official());
    r.loss.backward();
    CheckClose(r.loss.item<double>(), c["value"].get<double>(), 1e-10, "official loss");
    CheckClose(b.logps.grad(), T(c["grad"]), 1e-10, "official grad");
    // Without the clamp the far-off tokens (ref − logp up to 12.5) weigh far more.
    auto o = GrpoLossOptions::Official();
    o.kl_clamp = 0;
    auto b2 = BatchFor(c, torch::kDouble);
    CHECK(GrpoLoss(b2, o).loss.item<double>() > 2 * c["value"].get<double>());
  }
}

TEST_CASE("grpo loss options parse from the command line", "[train][grpo]") {
  {
    CLI::App app;
    GrpoLossOptions o;
    o.Register(app);
    app.parse("--kl-clamp 10 --epsilon 0.1 --beta 0.04 --loss grpo", false);
    o.Finish();
    CHECK(o.loss == LossType::kGrpo);
    CHECK(o.beta == 0.04);
    CHECK(o.epsilon_low == 0.1);
    CHECK(o.epsilon_high == 0.1);  // follows --epsilon
    CHECK(o.kl_clamp == 10);
  }
  {
    CLI::App app;
    GrpoLossOptions o;
    o.Register(app);
    app.parse("--epsilon-high 0.28", false);
    o.Finish();
    CHECK(o.loss == LossType::kDapo);  // TRL's default
    CHECK(o.epsilon_low == 0.2);
    CHECK(o.epsilon_high == 0.28);
  }
  CLI::App app;
  GrpoLossOptions o;
  o.Register(app);
  CHECK_THROWS_AS(app.parse("--loss sapo", false), CLI::ValidationError);
}

TEST_CASE("grpo loss rejects inconsistent inputs", "[train][grpo]") {
  GrpoBatch b;
  b.logps = torch::zeros({2, 3}, torch::kDouble).requires_grad_(true);
  b.mask = torch::ones({2, 3}, torch::kDouble);
  b.advantages = torch::zeros({2}, torch::kDouble);
  GrpoLossOptions o;
  o.beta = 0.1;
  CHECK_THROWS_AS(GrpoLoss(b, o), std::invalid_argument);  // beta without reference log-probs
  o.beta = 0;
  o.loss = LossType::kDrGrpo;
  CHECK_THROWS_AS(GrpoLoss(b, o), std::invalid_argument);  // dr_grpo without max_completion_length
  o.loss = LossType::kGrpo;
  b.mask = torch::ones({2, 4}, torch::kDouble);
  CHECK_THROWS_AS(GrpoLoss(b, o), std::invalid_argument);
}

TEST_CASE("per-token log-probs from logits equal trl's selective_log_softmax with temperature", "[train][grpo]") {
  for (const auto& c : Cases()["logprob_cases"]) {
    const double temp = c["temperature"];
    for (auto dtype : {torch::kDouble, torch::kFloat}) {
      const double rel = dtype == torch::kDouble ? 1e-10 : 1e-5;
      auto logits = T(c["logits"], dtype).requires_grad_(true);
      auto ids = T(c["ids"], torch::kLong);
      auto lp = SelectiveLogProbs(logits, ids, temp);
      (lp * T(c["weight"], dtype)).sum().backward();
      const std::string what = "T=" + std::to_string(temp);
      CheckClose(lp.detach(), T(c["logps"]), rel, what + " logps");
      CheckClose(logits.grad(), T(c["grad_logits"]), rel, what + " grad");
    }
  }
  CHECK_THROWS_AS(SelectiveLogProbs(torch::zeros({2, 3}), torch::zeros({2}, torch::kLong), 0.0),
                  std::invalid_argument);
}
