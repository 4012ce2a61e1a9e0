#include "train/optim.hpp"

#include <cmath>
#include <map>
#include <regex>

#include <CLI/CLI.hpp>

namespace vstar::train {

void OptimOptions::Register(CLI::App& app) {
  app.add_option("--lr", lr, "Peak learning rate")->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_option("--beta1", beta1, "AdamW beta1")->check(CLI::Range(0.0, 1.0))->capture_default_str();
  app.add_option("--beta2", beta2, "AdamW beta2")->check(CLI::Range(0.0, 1.0))->capture_default_str();
  app.add_option("--eps", eps, "AdamW epsilon")->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_option("--weight-decay", weight_decay, "Decoupled weight decay (not on biases and norms)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--schedule", schedule, "Learning-rate schedule after the warmup: constant, linear or cosine")
      ->check(CLI::IsMember({"constant", "linear", "cosine"}))
      ->capture_default_str();
  app.add_option("--warmup-steps", warmup_steps, "Linear warmup steps from 0 to --lr")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40))
      ->capture_default_str();
  app.add_option("--warmup-ratio", warmup_ratio, "Warmup as a fraction of all steps (when --warmup-steps is 0)")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_option("--max-grad-norm", max_grad_norm, "Clip gradients to this global 2-norm (0 = no clipping)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
}

int64_t OptimOptions::Warmup(int64_t total_steps) const {
  // transformers TrainingArguments.get_warmup_steps
  return warmup_steps > 0 ? warmup_steps : static_cast<int64_t>(std::ceil(static_cast<double>(total_steps) * warmup_ratio));
}

bool DecayParameter(const std::string& name) {
  static const std::regex kNoDecay(R"(bias|layernorm|rmsnorm|(?:^|\.)norm(?:$|\.)|_norm(?:$|\.))");
  return !std::regex_search(name, kNoDecay);
}

double ScheduleFactor(const std::string& schedule, int64_t step, int64_t warmup, int64_t total) {
  const double s = static_cast<double>(step);
  if (step < warmup) return s / static_cast<double>(std::max<int64_t>(1, warmup));
  if (schedule == "constant") return 1.0;
  if (schedule == "linear")
    return std::max(0.0, static_cast<double>(total - step) / static_cast<double>(std::max<int64_t>(1, total - warmup)));
  if (schedule == "cosine") {
    const double progress = static_cast<double>(step - warmup) / static_cast<double>(std::max<int64_t>(1, total - warmup));
    return std::max(0.0, 0.5 * (1.0 + std::cos(M_PI * 0.5 * 2.0 * progress)));
  }
  throw std::invalid_argument("unknown schedule " + schedule + " (constant, linear or cosine)");
}

double ClipGradNorm(const NamedParams& params, double max_norm) {
  std::vector<torch::Tensor> norms;
  std::vector<torch::Tensor> grads;
  for (const auto& [name, p] : params) {
    if (!p.grad().defined()) continue;
    grads.push_back(p.grad());
    norms.push_back(torch::linalg_vector_norm(p.grad(), 2, c10::nullopt, false, c10::nullopt));
  }
  if (norms.empty()) return 0.0;
  auto total = torch::linalg_vector_norm(torch::stack(norms), 2, c10::nullopt, false, c10::nullopt);
  if (max_norm > 0) {
    // Python's `max_norm / t` is t.reciprocal() * max_norm (Tensor.__rdiv__).
    auto coef = torch::clamp((total + 1e-6).reciprocal() * max_norm, c10::nullopt, 1.0);
    torch::NoGradGuard ng;
    for (auto& g : grads) g.mul_(coef);
  }
  return total.item<double>();
}

void AccumulateIntoMasters(const NamedParams& live, const NamedParams& master) {
  for (size_t p = 0; p < live.size(); ++p) {
    if (live[p].second.is_same(master[p].second)) continue;
    auto& g = live[p].second.mutable_grad();
    if (!g.defined()) continue;
    auto& mg = master[p].second.mutable_grad();
    mg = mg.defined() ? mg + g.to(torch::kFloat32) : g.to(torch::kFloat32);
    g = torch::Tensor();
  }
}

void CopyMastersToLive(const NamedParams& live, const NamedParams& master) {
  torch::NoGradGuard ng;
  for (size_t p = 0; p < live.size(); ++p)
    if (!live[p].second.is_same(master[p].second)) live[p].second.copy_(master[p].second);
}

void RegisterDtype(CLI::App& app, std::string& dtype) {
  app.add_option("--dtype", dtype,
                 "Compute dtype: fp32, or bf16 with fp32 master weights and optimizer state")
      ->check(CLI::IsMember({"fp32", "bf16"}))
      ->capture_default_str();
}

AdamW::AdamW(NamedParams params, const OptimOptions& options) : opt_(options) {
  for (auto& [name, p] : params) {
    Slot s;
    s.name = name;
    s.param = p;
    s.exp_avg = torch::zeros_like(p, torch::MemoryFormat::Preserve);
    s.exp_avg_sq = torch::zeros_like(p, torch::MemoryFormat::Preserve);
    s.decay = DecayParameter(name);
    slots_.push_back(std::move(s));
  }
}

void AdamW::Step(double lr) {
  torch::NoGradGuard ng;
  const double b1 = opt_.beta1, b2 = opt_.beta2;
  for (auto& s : slots_) {
    const auto& grad = s.param.grad();
    if (!grad.defined()) continue;
    s.step += 1;
    // torch.optim.adam._single_tensor_adam with decoupled_weight_decay=True, op for op.
    const double wd = s.decay ? opt_.weight_decay : 0.0;
    if (wd != 0) s.param.mul_(1 - lr * wd);
    s.exp_avg.lerp_(grad, 1 - b1);
    s.exp_avg_sq.mul_(b2).addcmul_(grad, grad, 1 - b2);
    const double step = static_cast<double>(s.step);
    const double bias_correction1 = 1 - std::pow(b1, step);
    const double bias_correction2 = 1 - std::pow(b2, step);
    const double step_size = lr / bias_correction1;
    const double bias_correction2_sqrt = std::pow(bias_correction2, 0.5);
    auto denom = (s.exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(opt_.eps);
    s.param.addcdiv_(s.exp_avg, denom, -step_size);
  }
}

void AdamW::ZeroGrad() {
  for (auto& s : slots_) s.param.mutable_grad() = torch::Tensor();
}

std::vector<std::pair<std::string, torch::Tensor>> AdamW::State() const {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& s : slots_) {
    out.emplace_back(s.name + ".exp_avg", s.exp_avg);
    out.emplace_back(s.name + ".exp_avg_sq", s.exp_avg_sq);
    out.emplace_back(s.name + ".step", torch::tensor(s.step, torch::kInt64));
  }
  return out;
}

void AdamW::LoadState(const std::vector<std::pair<std::string, torch::Tensor>>& state) {
  std::map<std::string, torch::Tensor> m(state.begin(), state.end());
  auto get = [&](const std::string& key) -> const torch::Tensor& {
    auto it = m.find(key);
    if (it == m.end()) throw std::runtime_error("optimizer state has no " + key);
    return it->second;
  };
  torch::NoGradGuard ng;
  for (auto& s : slots_) {
    const auto& a = get(s.name + ".exp_avg");
    const auto& b = get(s.name + ".exp_avg_sq");
    if (a.sizes() != s.param.sizes() || b.sizes() != s.param.sizes())
      throw std::runtime_error("optimizer state of " + s.name + " does not match the parameter's shape");
    s.exp_avg.copy_(a);
    s.exp_avg_sq.copy_(b);
    s.step = get(s.name + ".step").item<int64_t>();
  }
}

}  // namespace vstar::train
