// Catch2's runner, plus the skip protocol of support.hpp: a run in which nothing failed but some
// test case skipped exits with kSkipExitCode, which ctest reports as skipped (SKIP_RETURN_CODE).
//
// Every test process, and every binary it runs, computes on one OpenMP thread unless
// OMP_NUM_THREADS says otherwise: ctest -j runs as many tests as there are cores, and LibTorch's
// default of one thread per core in each of them oversubscribes the machine, where its spinning
// thread pool made one training test take 387 s in the suite against 105 s alone (2 cores, ctest
// -j2). The benchmarks (bench/) are not tests and keep LibTorch's default.
#include <cstdlib>

#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "support.hpp"

int main(int argc, char* argv[]) {
  setenv("OMP_NUM_THREADS", "1", /*overwrite=*/0);
  const int status = Catch::Session().run(argc, argv);
  if (status == 0 && vstar::test::SkippedCount() > 0) return vstar::test::kSkipExitCode;
  return status;
}
