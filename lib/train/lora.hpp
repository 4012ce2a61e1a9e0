#pragma once
// LoRA (Hu et al. 2021) as peft 0.21.2 implements it (src/peft/tuners/lora/layer.py, LoraLayer and
// Linear.forward): a targeted Linear layer's output becomes
//   base(x) + B(A(dropout(x))) * alpha / r
// with the base weight frozen, A [r, in] initialised kaiming-uniform (a = sqrt(5)), B [out, r] zero,
// dropout on the input of A, and the adapter computed in float32 (the input cast to A's dtype, the
// sum cast back to the base output's dtype). Adapters are saved and read in peft's layout:
// adapter_config.json and adapter_model.safetensors with peft's key names
// ("base_model.model.model.language_model.layers.0.self_attn.q_proj.lora_A.weight" for
// Qwen2_5_VLForConditionalGeneration under transformers 4.57), so PeftModel.from_pretrained loads them.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "model/qwen_vl.hpp"
#include "train/optim.hpp"

namespace CLI {
class App;
}

namespace vstar::train {

struct LoraOptions {
  int64_t rank = 0;      // --lora-rank (0 = no LoRA: full fine-tuning)
  double alpha = 8.0;    // --lora-alpha (peft LoraConfig's default)
  double dropout = 0.0;  // --lora-dropout
  // --lora-targets: module names of the text decoder's Linear layers (peft's rule for a list of
  // target modules: a layer is adapted when its name equals an entry or ends with "." + entry).
  std::vector<std::string> targets = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
  bool merge = false;  // --merge

  void Register(CLI::App& app);
  bool enabled() const { return rank > 0; }
  double scaling() const { return alpha / static_cast<double>(rank); }
};

// One adapted layer (attached to a model::Linear as its delta).
class LoraLinear : public model::LinearDelta {
 public:
  LoraLinear(torch::Tensor a, torch::Tensor b, double scaling, double dropout)
      : A(std::move(a)), B(std::move(b)), scaling_(scaling), dropout_(dropout) {}
  torch::Tensor Apply(const torch::Tensor& x, const torch::Tensor& base) const override;
  std::vector<torch::Tensor> tensors() const override { return {A, B}; }
  void set_training(bool on) { training_ = on; }

  torch::Tensor A;  // [r, in] float32
  torch::Tensor B;  // [out, r] float32

 private:
  double scaling_, dropout_;
  bool training_ = true;
};

class Lora {
 public:
  // Attaches fresh adapters (A from the torch generator, B zero) to the decoder layers of `model`
  // that `options.targets` names; throws std::runtime_error when no layer matches.
  static Lora Attach(model::QwenVL& model, const LoraOptions& options);

  // The adapters' tensors by canonical name ("model.layers.0.self_attn.q_proj.lora_A.weight").
  NamedParams Parameters() const;
  // Dropout on (training) or off.
  void SetTraining(bool on);
  // Copies the adapter weights of `dir`/adapter_model.safetensors (peft layout) into the attached
  // adapters; throws naming a missing or mis-shaped tensor.
  void Load(const std::filesystem::path& dir);

  // adapter_model.safetensors: the tensors under peft's key names.
  NamedParams PeftTensors() const;
  // adapter_config.json (peft LoraConfig's fields) for adapters of `base_model`.
  nlohmann::ordered_json PeftConfig(const std::filesystem::path& base_model) const;
  // Merges into `weights` (canonical names): W + scaling * B A for every adapted layer, in float32.
  void MergeInto(NamedParams& weights) const;

  size_t size() const { return layers_.size(); }

 private:
  struct Entry {
    std::string module;  // canonical module name
    std::shared_ptr<LoraLinear> layer;
  };
  LoraOptions opt_;
  std::vector<Entry> layers_;
};

// peft's key of a canonical tensor name: "base_model.model." + the transformers 4.52+ module path.
std::string PeftKey(const std::string& canonical);

}  // namespace vstar::train
