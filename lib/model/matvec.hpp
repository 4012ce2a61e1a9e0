#pragma once
// Decode-sized linear layers (a few rows of activations against a large weight) on CPUs with
// AVX512-BF16. LibTorch 2.14's bf16 linear with one row runs through oneDNN at about the time of
// the fp32 product on such CPUs without AMX (it streams half the bytes at half the rate), so the
// bf16 matrix-vector products of a decode step are done here: vdpbf16ps over the weight in its
// checkpoint layout ([out, in] row-major: four output rows are read as four streams, 32 bf16 per
// load), fp32 accumulation, one bf16 rounding of (sum + bias), threaded over output rows with
// at::parallel_for.
#include <torch/torch.h>

namespace vstar::model {

// Most activation rows the kernel takes; above this, LibTorch's GEMM is the faster path.
inline constexpr int64_t kMatVecMaxRows = 8;

// True when the CPU has AVX512-BF16 (cpuid): LinearBf16 can run.
bool CpuHasBf16MatVec();

// True when LinearForward takes the kernel: the CPU has it and VSTAR_MATVEC=libtorch does not turn
// it off. On our 2-core machine, idle, it decodes the bench's 0.5B-class bf16 stack at 23.2 tok/s
// against 13.0 with LibTorch's bf16 linear (bench/RESULTS.md, 2026-12-02).
bool HaveBf16MatVec();

// torch::linear(x, w, b), through LinearBf16 when it applies: CPU, bf16 activations and weight, a
// contiguous 2-D weight, at most kMatVecMaxRows rows of x, no gradient needed, HaveBf16MatVec().
torch::Tensor LinearForward(const torch::Tensor& x, const torch::Tensor& w,
                            const torch::Tensor& b = {});

// The kernel: x [..., K] bf16, w [N, K] bf16 contiguous, b [N] bf16 or undefined; returns
// [..., N] bf16. Requires CpuHasBf16MatVec().
torch::Tensor LinearBf16(const torch::Tensor& x, const torch::Tensor& w,
                         const torch::Tensor& b = {});

}  // namespace vstar::model
