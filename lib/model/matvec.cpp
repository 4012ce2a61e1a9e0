#include "model/matvec.hpp"

#include <ATen/Parallel.h>
#include <immintrin.h>

// at::parallel_for is a header template that runs its body on the calling thread alone unless this
// file is compiled with OpenMP (lib/CMakeLists.txt): the kernel then streams at one core's rate.
#if AT_PARALLEL_OPENMP && !defined(_OPENMP)
#error "model/matvec.cpp needs -fopenmp: without it at::parallel_for is serial"
#endif

#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace vstar::model {
namespace {

#if defined(__x86_64__) && defined(__GNUC__)
#define VSTAR_HAVE_BF16_KERNEL 1
// Only these functions use AVX-512 instructions; the rest of the build stays portable and
// CpuHasBf16MatVec() decides at run time whether they may be called.
#define VSTAR_BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

// The sum of the 16 lanes by folding halves. The masked forms take an explicit source: GCC 12's
// unmasked ones (and _mm512_reduce_add_ps) pass an "undefined" vector that trips -Wuninitialized.
VSTAR_BF16_TARGET inline float Sum16(__m512 a) {
  a = _mm512_add_ps(a, _mm512_mask_shuffle_f32x4(a, 0xFFFF, a, a, 0x4E));
  a = _mm512_add_ps(a, _mm512_mask_shuffle_f32x4(a, 0xFFFF, a, a, 0xB1));
  __m128 s = _mm512_mask_extractf32x4_ps(_mm_setzero_ps(), 0xF, a, 0);
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// acc[m][r] = sum_k x[m][k] * w[r][k] in fp32 for R weight rows and MG activation rows: MG*R
// accumulators of 16 lanes, each vdpbf16ps adding 32 products (pairs per lane). A K tail that is
// not a multiple of 32 is read with a zeroing mask (zero pairs add nothing).
template <int R, int MG>
VSTAR_BF16_TARGET void Tile(const uint16_t* x, int64_t ldx, const uint16_t* w, int64_t K,
                            float (*out)[4]) {
  __m512 acc[MG][R];
#pragma GCC unroll 4
  for (int m = 0; m < MG; ++m)
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) acc[m][r] = _mm512_setzero_ps();
  int64_t k = 0;
  for (; k + 32 <= K; k += 32) {
    __m512i wv[R];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      wv[r] = _mm512_loadu_si512(w + r * K + k);
      _mm_prefetch(reinterpret_cast<const char*>(w + (r + 4) * K + k), _MM_HINT_T0);
    }
#pragma GCC unroll 4
    for (int m = 0; m < MG; ++m) {
      const __m512i xv = _mm512_loadu_si512(x + m * ldx + k);
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r)
        acc[m][r] = _mm512_dpbf16_ps(acc[m][r], reinterpret_cast<__m512bh>(xv),
                                     reinterpret_cast<__m512bh>(wv[r]));
    }
  }
  if (k < K) {
    const __mmask32 tail = static_cast<__mmask32>((uint64_t{1} << (K - k)) - 1);
    __m512i wv[R];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) wv[r] = _mm512_maskz_loadu_epi16(tail, w + r * K + k);
#pragma GCC unroll 4
    for (int m = 0; m < MG; ++m) {
      const __m512i xv = _mm512_maskz_loadu_epi16(tail, x + m * ldx + k);
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r)
        acc[m][r] = _mm512_dpbf16_ps(acc[m][r], reinterpret_cast<__m512bh>(xv),
                                     reinterpret_cast<__m512bh>(wv[r]));
    }
  }
#pragma GCC unroll 4
  for (int m = 0; m < MG; ++m)
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) out[m][r] = Sum16(acc[m][r]);
}

using TileFn = void (*)(const uint16_t*, int64_t, const uint16_t*, int64_t, float (*)[4]);
template <int R>
constexpr std::array<TileFn, 4> TilesOf() {
  return {&Tile<R, 1>, &Tile<R, 2>, &Tile<R, 3>, &Tile<R, 4>};
}
constexpr std::array<std::array<TileFn, 4>, 4> kTiles = {TilesOf<1>(), TilesOf<2>(), TilesOf<3>(),
                                                         TilesOf<4>()};

// Output rows [n0, n1) of y [M, N] = x [M, K] w[N, K]^T + b, four weight rows at a time; the
// activation rows go four at a time over the same weight rows (still in L1 for the second group).
void Rows(const uint16_t* x, int64_t M, int64_t K, const uint16_t* w, const c10::BFloat16* b,
          c10::BFloat16* y, int64_t N, int64_t n0, int64_t n1) {
  float sums[4][4];
  for (int64_t n = n0; n < n1; n += 4) {
    const int R = static_cast<int>(std::min<int64_t>(4, n1 - n));
    for (int64_t m0 = 0; m0 < M; m0 += 4) {
      const int MG = static_cast<int>(std::min<int64_t>(4, M - m0));
      kTiles[R - 1][MG - 1](x + m0 * K, K, w + n * K, K, sums);
      for (int m = 0; m < MG; ++m)
        for (int r = 0; r < R; ++r)
          y[(m0 + m) * N + n + r] =
              c10::BFloat16(sums[m][r] + (b ? static_cast<float>(b[n + r]) : 0.0f));
    }
  }
}

bool CpuHasAvx512Bf16() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512bf16");
}
#else
bool CpuHasAvx512Bf16() {
  return false;
}
#endif

}  // namespace

bool CpuHasBf16MatVec() {
  static const bool have = CpuHasAvx512Bf16();
  return have;
}

bool HaveBf16MatVec() {
  static const bool have = [] {
    const char* v = std::getenv("VSTAR_MATVEC");
    return !(v && std::strcmp(v, "libtorch") == 0) && CpuHasBf16MatVec();
  }();
  return have;
}

torch::Tensor LinearBf16(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b) {
#ifdef VSTAR_HAVE_BF16_KERNEL
  if (!CpuHasBf16MatVec()) throw std::logic_error("LinearBf16: this CPU has no AVX512-BF16");
  TORCH_CHECK(x.scalar_type() == torch::kBFloat16 && w.scalar_type() == torch::kBFloat16,
              "LinearBf16: bf16 only");
  TORCH_CHECK(w.dim() == 2 && w.is_contiguous() && x.size(-1) == w.size(1),
              "LinearBf16: weight shape");
  const int64_t N = w.size(0), K = w.size(1);
  const auto xs = x.reshape({-1, K}).contiguous();
  const int64_t M = xs.size(0);
  std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end());
  shape.back() = N;
  auto y = torch::empty({M, N}, x.options());
  const auto bias = b.defined() ? b.to(torch::kBFloat16).contiguous() : b;
  const auto* xp = reinterpret_cast<const uint16_t*>(xs.data_ptr<at::BFloat16>());
  const auto* wp = reinterpret_cast<const uint16_t*>(w.data_ptr<at::BFloat16>());
  const c10::BFloat16* bp = bias.defined() ? bias.data_ptr<at::BFloat16>() : nullptr;
  c10::BFloat16* yp = y.data_ptr<at::BFloat16>();
  // Blocks of four output rows; a task gets at least ~64 KiB of weight so small layers stay on few
  // threads.
  const int64_t blocks = (N + 3) / 4;
  const int64_t grain = std::max<int64_t>(1, 8192 / std::max<int64_t>(K, 1));
  at::parallel_for(0, blocks, grain, [&](int64_t b0, int64_t b1) {
    Rows(xp, M, K, wp, bp, yp, N, b0 * 4, std::min(N, b1 * 4));
  });
  return y.view(shape);
#else
  (void)x, (void)w, (void)b;
  throw std::logic_error("LinearBf16: built without the AVX512-BF16 kernel");
#endif
}

torch::Tensor LinearForward(const torch::Tensor& x, const torch::Tensor& w,
                            const torch::Tensor& b) {
  const bool grad = torch::GradMode::is_enabled() &&
                    (x.requires_grad() || w.requires_grad() || (b.defined() && b.requires_grad()));
  if (!grad && x.device().is_cpu() && x.scalar_type() == torch::kBFloat16 &&
      w.scalar_type() == torch::kBFloat16 && w.dim() == 2 && w.is_contiguous() && x.dim() >= 1 &&
      x.size(-1) == w.size(1) && x.size(-1) > 0 && x.numel() / x.size(-1) <= kMatVecMaxRows &&
      (!b.defined() || b.scalar_type() == torch::kBFloat16) && HaveBf16MatVec())
    return LinearBf16(x, w, b);
  return torch::linear(x, w, b);
}

}  // namespace vstar::model
