#include "train/lora.hpp"

#include <cmath>
#include <map>

#include <CLI/CLI.hpp>

#include "model/safetensors.hpp"

namespace vstar::train {
namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

void LoraOptions::Register(CLI::App& app) {
  auto* r = app.add_option("--lora-rank", rank,
                           "Train rank-R LoRA adapters of the text decoder instead of all weights (0 = full "
                           "fine-tuning)")
                ->check(CLI::Range(int64_t{0}, int64_t{1} << 16))
                ->type_name("R")
                ->capture_default_str();
  app.add_option("--lora-alpha", alpha, "LoRA alpha: the adapters' output is scaled by alpha / rank")
      ->check(CLI::PositiveNumber)
      ->type_name("A")
      ->capture_default_str();
  app.add_option("--lora-dropout", dropout, "Dropout probability on the input of the LoRA A matrices")
      ->check(CLI::Range(0.0, 1.0))
      ->type_name("P")
      ->capture_default_str();
  app.add_option("--lora-targets", targets,
                 "Decoder Linear layers to adapt: a layer whose name equals an entry or ends with .entry")
      ->delimiter(',')
      ->type_name("NAMES")
      ->capture_default_str();
  app.add_flag("--merge", merge,
               "Write the merged weights (W + alpha/rank B A) as the final model; the adapter goes to "
               "OUTPUT/adapter")
      ->needs(r);
}

torch::Tensor LoraLinear::Apply(const torch::Tensor& x, const torch::Tensor& base) const {
  // peft Linear.forward: x cast to lora_A's dtype, dropout (Identity when p = 0), then
  // result + lora_B(lora_A(x)) * scaling cast back to the base result's dtype.
  auto xi = x.to(A.scalar_type());
  if (dropout_ > 0) xi = torch::dropout(xi, dropout_, training_);
  return (base + torch::linear(torch::linear(xi, A), B) * scaling_).to(base.scalar_type());
}

namespace {

// peft's check_target_module_exists for a list: the whole name or a dotted suffix.
bool Targeted(const std::string& module, const std::vector<std::string>& targets) {
  for (const auto& t : targets)
    if (module == t || (module.size() > t.size() && module.ends_with("." + t))) return true;
  return false;
}

}  // namespace

std::string PeftKey(const std::string& canonical) { return "base_model.model." + model::NewLayoutName(canonical); }

Lora Lora::Attach(model::QwenVL& model, const LoraOptions& o) {
  if (o.rank <= 0) throw std::invalid_argument("LoRA rank must be positive");
  Lora lora;
  lora.opt_ = o;
  torch::NoGradGuard ng;
  for (auto& [name, linear] : model.Linears()) {
    if (name.rfind("model.layers.", 0) != 0 || !Targeted(name, o.targets)) continue;
    const int64_t out = linear->weight.size(0), in = linear->weight.size(1);
    const auto opts = torch::TensorOptions().dtype(torch::kFloat32).device(linear->weight.device());
    // peft LoraLayer.reset_lora_parameters (init_lora_weights=True): A as nn.Linear's default, B zero.
    auto a = torch::empty({o.rank, in}, opts);
    torch::nn::init::kaiming_uniform_(a, std::sqrt(5.0));
    auto b = torch::zeros({out, o.rank}, opts);
    a.set_requires_grad(true);
    b.set_requires_grad(true);
    auto layer = std::make_shared<LoraLinear>(a, b, o.scaling(), o.dropout);
    linear->delta = layer;
    lora.layers_.push_back({name, layer});
  }
  if (lora.layers_.empty()) {
    std::string t;
    for (const auto& s : o.targets) t += (t.empty() ? "" : ",") + s;
    throw std::runtime_error("--lora-targets " + t + " matches no Linear layer of the text decoder");
  }
  return lora;
}

NamedParams Lora::Parameters() const {
  NamedParams out;
  for (const auto& e : layers_) {
    out.emplace_back(e.module + ".lora_A.weight", e.layer->A);
    out.emplace_back(e.module + ".lora_B.weight", e.layer->B);
  }
  return out;
}

void Lora::SetTraining(bool on) {
  for (auto& e : layers_) e.layer->set_training(on);
}

void Lora::Load(const fs::path& dir) {
  const fs::path file = dir / "adapter_model.safetensors";
  if (!fs::exists(file)) throw std::runtime_error(dir.string() + " has no adapter_model.safetensors");
  auto f = model::SafetensorsFile::Open(file);
  torch::NoGradGuard ng;
  for (auto& [name, t] : Parameters()) {
    const std::string key = PeftKey(name);
    if (!f->Has(key)) throw std::runtime_error(file.string() + " has no tensor " + key);
    auto v = f->Get(key);
    if (v.sizes() != t.sizes())
      throw std::runtime_error("tensor " + key + " in " + file.string() + " does not have the adapter's shape");
    t.copy_(v);
  }
}

NamedParams Lora::PeftTensors() const {
  NamedParams out;
  for (const auto& [name, t] : Parameters()) out.emplace_back(PeftKey(name), t.detach().to(torch::kCPU, torch::kFloat32));
  return out;
}

Json Lora::PeftConfig(const fs::path& base_model) const {
  // The adapted layers by name relative to the text model ("layers.0.self_attn.q_proj"): peft
  // matches them as dotted suffixes, so the list selects exactly these layers whichever module
  // layout (model.layers or model.language_model.layers) transformers gives the model.
  Json targets = Json::array();
  for (const auto& e : layers_) targets.push_back(e.module.substr(std::string("model.").size()));
  return Json{{"base_model_name_or_path", fs::absolute(base_model).lexically_normal().string()},
              {"bias", "none"},
              {"fan_in_fan_out", false},
              {"inference_mode", true},
              {"init_lora_weights", true},
              {"layers_pattern", nullptr},
              {"layers_to_transform", nullptr},
              {"lora_alpha", opt_.alpha},
              {"lora_dropout", opt_.dropout},
              {"modules_to_save", nullptr},
              {"peft_type", "LORA"},
              {"r", opt_.rank},
              {"rank_pattern", Json::object()},
              {"alpha_pattern", Json::object()},
              {"revision", nullptr},
              {"target_modules", targets},
              {"task_type", "CAUSAL_LM"},
              {"use_dora", false},
              {"use_rslora", false}};
}

void Lora::MergeInto(NamedParams& weights) const {
  std::map<std::string, torch::Tensor*> by_name;
  for (auto& [n, t] : weights) by_name[n] = &t;
  torch::NoGradGuard ng;
  for (const auto& e : layers_) {
    auto it = by_name.find(e.module + ".weight");
    if (it == by_name.end()) throw std::runtime_error("no weight " + e.module + ".weight to merge the adapter into");
    // peft Linear.get_delta_weight: (B @ A) * scaling, added to the base weight.
    auto delta = torch::matmul(e.layer->B.detach(), e.layer->A.detach()) * opt_.scaling();
    *it->second = it->second->to(torch::kFloat32) + delta.to(it->second->device());
  }
}

}  // namespace vstar::train
