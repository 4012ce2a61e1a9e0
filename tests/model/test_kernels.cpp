// The decode matrix-vector kernels (lib/model/matvec) against LibTorch's linear.
//
// Tolerance of the bf16 kernel: it and LibTorch's bf16 linear both multiply the same bf16 inputs
// exactly and accumulate in fp32, in different orders, then round once to bf16. Each result is thus
// within the fp32 summation bound (K * 2^-24 * sum_k |x_k w_k|, Higham's gamma_K) of the exact dot
// product before that rounding, and the rounding adds at most half a bf16 ulp (2^-9 relative). The
// test checks both against an fp64 reference with twice those bounds, and that the two differ by at
// most one bf16 ulp where they differ at all.
#include <cmath>

#include "model/matvec.hpp"
#include "support.hpp"

using namespace vstar::model;

namespace {

struct Shape {
  int64_t M, N, K;
  bool bias;
};

// Checks `y` (bf16) against the fp64 product of the same bf16 inputs with the bound above.
void CheckWithinBound(const torch::Tensor& y, const torch::Tensor& x, const torch::Tensor& w,
                      const torch::Tensor& b) {
  const int64_t K = w.size(1);
  auto x64 = x.to(torch::kFloat64).reshape({-1, K}), w64 = w.to(torch::kFloat64);
  auto exact = torch::linear(x64, w64, b.defined() ? b.to(torch::kFloat64) : torch::Tensor());
  auto magnitude = torch::linear(x64.abs(), w64.abs(),
                                 b.defined() ? b.to(torch::kFloat64).abs() : torch::Tensor());
  auto bound = 2.0 * (K * std::ldexp(1.0, -24) * magnitude + std::ldexp(1.0, -9) * exact.abs());
  auto err = (y.reshape({-1, w.size(0)}).to(torch::kFloat64) - exact).abs();
  CHECK((err <= bound).all().item<bool>());
}

// The kernel is written for AVX512-BF16. A CPU without it cannot run these tests whatever the
// set-up (unlike missing data, which SkipIsFailure() turns into a failure), so they always report
// skipped there and name the feature; a CPU with it runs them (CONTRIBUTING.md, Tests).
bool SkipWithoutBf16Cpu() {
  if (CpuHasBf16MatVec()) return false;
  vstar::test::SkipConfigured(
      "this CPU has no AVX512-BF16, the instruction set of the kernel under test");
  return true;
}

}  // namespace

TEST_CASE(
    "the bf16 matrix-vector kernel equals LibTorch's bf16 linear within the fp32-accumulation "
    "bound",
    "[model][kernels]") {
  if (SkipWithoutBf16Cpu()) return;
  torch::NoGradGuard no_grad;
  torch::manual_seed(7);
  // Decode shapes of a 0.5B-class decoder (q/o, k/v, gate/up, down) and the LM head cut short, with
  // row counts 1..8; K tails that are not a multiple of 32 (the masked load) and N not a multiple
  // of 4.
  const std::vector<Shape> shapes = {
      {1, 896, 896, true},   {1, 128, 896, true},  {1, 4864, 896, false}, {1, 896, 4864, false},
      {1, 8191, 896, false}, {2, 37, 45, true},    {3, 5, 100, false},    {4, 1030, 96, true},
      {5, 64, 33, true},     {8, 515, 896, false}, {7, 9, 1, true},       {6, 3, 31, false}};
  int64_t outputs = 0, same = 0;
  for (const auto& s : shapes) {
    INFO("M " << s.M << " N " << s.N << " K " << s.K << " bias " << s.bias);
    auto x = torch::randn({s.M, s.K}).to(torch::kBFloat16);
    auto w = (torch::randn({s.N, s.K}) / std::sqrt(static_cast<double>(s.K))).to(torch::kBFloat16);
    auto b = s.bias ? torch::randn({s.N}).to(torch::kBFloat16) : torch::Tensor();
    auto ours = LinearBf16(x, w, b);
    auto ref = torch::linear(x, w, b);
    REQUIRE(ours.sizes() == ref.sizes());
    REQUIRE(ours.scalar_type() == torch::kBFloat16);
    CheckWithinBound(ours, x, w, b);
    CheckWithinBound(ref, x, w, b);
    // Where the two differ, it is by one bf16 ulp of the larger (2^-7 relative at most).
    auto o = ours.to(torch::kFloat64), r = ref.to(torch::kFloat64);
    auto ulp = torch::maximum(o.abs(), r.abs()) * std::ldexp(1.0, -7);
    CHECK(((o - r).abs() <= ulp).all().item<bool>());
    outputs += ours.numel();
    same += ours.eq(ref).sum().item<int64_t>();
  }
  // Summation order moves the fp32 sum by a few of its ulps, which rarely crosses a bf16 rounding
  // boundary.
  INFO(same << " of " << outputs << " outputs bit-identical to LibTorch");
  CHECK(same >= outputs * 95 / 100);
}

TEST_CASE("LinearForward takes the kernel for decode-sized bf16 rows and LibTorch otherwise",
          "[model][kernels]") {
  torch::manual_seed(3);
  auto w = torch::randn({40, 64}).to(torch::kBFloat16);
  auto b = torch::randn({40}).to(torch::kBFloat16);
  auto x3 = torch::randn({2, 1, 64}).to(torch::kBFloat16);  // [B, L, K] as in a decode step
  {
    torch::NoGradGuard no_grad;
    auto y = LinearForward(x3, w, b);
    CHECK(y.sizes() == torch::IntArrayRef({2, 1, 40}));
    if (HaveBf16MatVec())
      CHECK(y.equal(LinearBf16(x3, w, b)));
    else
      CHECK(y.equal(torch::linear(x3, w, b)));
    // More than kMatVecMaxRows rows, fp32, or a non-contiguous weight: LibTorch's result, bit for
    // bit.
    auto many = torch::randn({kMatVecMaxRows + 1, 64}).to(torch::kBFloat16);
    CHECK(LinearForward(many, w, b).equal(torch::linear(many, w, b)));
    auto x32 = x3.to(torch::kFloat32), w32 = w.to(torch::kFloat32);
    CHECK(LinearForward(x32, w32).equal(torch::linear(x32, w32)));
    auto wt = torch::randn({64, 40}).to(torch::kBFloat16).t();
    CHECK(LinearForward(x3, wt).equal(torch::linear(x3, wt)));
  }
  // Training needs the autograd graph: LibTorch's linear, with a gradient reaching the weight.
  auto wg = w.detach().clone().requires_grad_(true);
  auto y = LinearForward(x3, wg, b);
  REQUIRE(y.requires_grad());
  y.to(torch::kFloat32).sum().backward();
  CHECK(wg.grad().defined());
}

TEST_CASE("LinearBf16 splits its rows over threads without changing a bit", "[model][kernels]") {
  if (SkipWithoutBf16Cpu()) return;
  torch::manual_seed(4);
  // 1003 rows: blocks of four with a ragged end, split over the threads at block boundaries.
  auto w = torch::randn({1003, 96}).to(torch::kBFloat16);
  auto b = torch::randn({1003}).to(torch::kBFloat16);
  auto x = torch::randn({3, 96}).to(torch::kBFloat16);
  const int threads = at::get_num_threads();
  at::set_num_threads(1);
  auto one = LinearBf16(x, w, b);
  at::set_num_threads(3);
  auto three = LinearBf16(x, w, b);
  at::set_num_threads(threads);
  CHECK(one.equal(three));
}
