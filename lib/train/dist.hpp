#pragma once
// Data-parallel training over torch's c10d: the rendezvous torchrun and Slurm's srun set up
// (MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE, LOCAL_RANK; a c10d TCPStore served by rank 0), a
// Gloo process group on CPU or NCCL when the run is on CUDA, and the few collectives the recipes
// need: bucketed gradient all-reduce, parameter broadcast, scalar reductions and a gather of small
// text. One process per device. Without WORLD_SIZE (or with 1) every collective is the identity, so
// a single-process run goes through the same code.
//
// Every collective waits at most the --dist-timeout; a peer that died (its sockets close) or
// stopped answering makes the others throw a std::runtime_error that says so, which vs-sft and
// vs-grpo turn into exit status 1 instead of a hang.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "train/optim.hpp"

namespace CLI {
class App;
}
namespace vstar::train {

// The launcher's environment, as torchrun (torch/distributed/run.py) and srun (through the recipes
// in share/vstar/launch/) export it.
struct DistEnv {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;  // torchrun's default
  // Reads the variables; WORLD_SIZE unset means one process. A value that is not a number, a rank
  // outside [0, WORLD_SIZE) or a missing MASTER_ADDR/MASTER_PORT with WORLD_SIZE > 1 is an
  // std::invalid_argument naming the variable.
  static DistEnv FromEnvironment();
};

// --device of vs-sft and vs-grpo: where the model, the batches, the gradients and the optimizer
// state live. The same recipe code runs on every device; only this value differs.
struct DeviceOptions {
  std::string device = "cpu";  // cpu, cuda, cuda:N or auto (CUDA when one is visible)
  void Register(CLI::App& app);
  // The device of this process. One process per device (torchrun's rule): with WORLD_SIZE > 1 a
  // plain "cuda" (or "auto" finding CUDA) means cuda:LOCAL_RANK. A CUDA request where this build
  // of LibTorch has no CUDA or no GPU is visible, or a malformed value, is an
  // std::invalid_argument (exit status 2) that says which.
  torch::Device Resolve(const DistEnv& env) const;
};

struct DistOptions {
  double timeout_s = 1800;  // --dist-timeout: torch's default collective timeout (30 min)
  double bucket_mb = 25;    // --bucket-mb: torch DistributedDataParallel's bucket_cap_mb
  void Register(CLI::App& app);
};

class Dist {
 public:
  // Joins the process group described by the environment; `device` picks the backend (NCCL for
  // CUDA, Gloo otherwise). Blocks until every rank has joined, at most the timeout.
  Dist(const DistOptions& options, const torch::Device& device);
  ~Dist();
  Dist(const Dist&) = delete;
  Dist& operator=(const Dist&) = delete;

  int rank() const { return env_.rank; }
  int world_size() const { return env_.world_size; }
  int local_rank() const { return env_.local_rank; }
  bool main() const { return env_.rank == 0; }  // writes checkpoints, metrics, progress

  // Sums the gradients of `params` over the ranks in buckets of about --bucket-mb (flattened into
  // one buffer each, as DistributedDataParallel's reducer does), after the backward passes of the
  // step (not overlapped with backward: gradient accumulation would need its no_sync bookkeeping).
  // A gradient no rank has stays undefined (AdamW skips it, as a single process would); where only
  // some ranks have one, the others count zeros.
  void AllReduceGradients(const NamedParams& params) const;
  // Rank 0's values of `params` copied into every rank's (the same start, as DDP's constructor).
  void BroadcastParameters(const NamedParams& params) const;
  double Sum(double v) const;
  double Max(double v) const;
  double Min(double v) const;
  // Every rank's `text`, in rank order.
  std::vector<std::string> AllGather(const std::string& text) const;
  // Waits for every rank; `what` names the point in errors.
  void Barrier(const std::string& what) const;

 private:
  enum class Op { kSum, kMax, kMin };
  void AllReduce(torch::Tensor& t, Op op, const std::string& what) const;

  struct Group;  // the c10d store and backend (their headers stay out of every includer)
  DistEnv env_;
  DistOptions opt_;
  torch::Device device_;
  std::unique_ptr<Group> group_;
};

}  // namespace vstar::train
