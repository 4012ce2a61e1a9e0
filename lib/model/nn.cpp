#include "model/nn.hpp"

#include <ATen/Context.h>
#include <torch/csrc/autograd/custom_function.h>

namespace vstar::model {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;
using Fn = std::function<torch::Tensor(const torch::Tensor&)>;

// The default generator of `device`'s type (CPU, or the accelerator's current device).
at::Generator GeneratorOf(const torch::Device& device) { return at::globalContext().defaultGenerator(device); }

// The function a node recomputes, kept alive in its context until backward has run.
struct FnHolder : torch::CustomClassHolder {
  explicit FnHolder(Fn f) : fn(std::move(f)) {}
  Fn fn;
};

// torch.utils.checkpoint.CheckpointFunction: inputs = (x, params...); the function object travels in
// the context, since autograd Functions take only tensors as differentiable inputs.
struct RecomputeFunction : torch::autograd::Function<RecomputeFunction> {
  static variable_list forward(AutogradContext* ctx, const Fn& fn, const torch::Tensor& x, at::TensorList params) {
    // Function::apply runs forward with autograd off, so nothing of fn's graph is kept.
    const torch::Device device = x.device();
    auto gen = GeneratorOf(device);
    ctx->saved_data["rng"] = gen.get_state();
    ctx->saved_data["fn"] = c10::IValue::make_capsule(c10::make_intrusive<FnHolder>(fn));
    ctx->save_for_backward(variable_list{x});
    variable_list p(params.begin(), params.end());
    ctx->saved_data["params"] = c10::List<torch::Tensor>(p);
    return {fn(x)};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_out) {
    const auto holder = c10::static_intrusive_pointer_cast<FnHolder>(ctx->saved_data["fn"].toCapsule());
    const Fn& fn = holder->fn;
    const torch::Tensor x0 = ctx->get_saved_variables()[0];
    const auto plist = ctx->saved_data["params"].toTensorList();
    std::vector<torch::Tensor> params(plist.begin(), plist.end());
    auto gen = GeneratorOf(x0.device());
    const torch::Tensor now = gen.get_state();
    gen.set_state(ctx->saved_data["rng"].toTensor());
    torch::Tensor x = x0.detach().requires_grad_(x0.requires_grad());
    torch::Tensor y;
    {
      torch::AutoGradMode on(true);
      y = fn(x);
    }
    gen.set_state(now);
    // Gradients of the inputs that need one; the others stay undefined.
    variable_list wrt;
    std::vector<size_t> where;  // index into (x, params...)
    if (x.requires_grad()) {
      wrt.push_back(x);
      where.push_back(0);
    }
    for (size_t i = 0; i < params.size(); ++i)
      if (params[i].requires_grad()) {
        wrt.push_back(params[i]);
        where.push_back(i + 1);
      }
    variable_list grads(2 + params.size());  // fn, x, params...
    if (wrt.empty() || !y.requires_grad()) return grads;
    auto g = torch::autograd::grad({y}, wrt, {grad_out[0]}, /*retain_graph=*/false, /*create_graph=*/false,
                                   /*allow_unused=*/true);
    for (size_t i = 0; i < where.size(); ++i) grads[1 + where[i]] = g[i];
    return grads;
  }
};

}  // namespace

torch::Tensor Recomputed(const Fn& fn, const torch::Tensor& x, const std::vector<torch::Tensor>& params) {
  return RecomputeFunction::apply(fn, x, at::TensorList(params))[0];
}

}  // namespace vstar::model
