#include "train/dist.hpp"

#include <cstdlib>
#include <cstring>
#include <optional>
#include <stdexcept>

#include <ATen/detail/CUDAHooksInterface.h>

#include <CLI/CLI.hpp>

// The c10d headers compile their backends only under these (torch's CMake config defines them for
// CUDA builds; the CPU configuration links libtorch_cpu.so directly, which exports c10d and Gloo).
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO
#endif
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#if defined(VSTAR_WITH_CUDA) && defined(USE_C10D_NCCL)
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace vstar::train {

namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

int IntEnv(const char* name, int fallback) {
  const std::string v = Env(name);
  if (v.empty()) return fallback;
  size_t used = 0;
  int n = 0;
  try {
    n = std::stoi(v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != v.size())
    throw std::invalid_argument(std::string(name) + "='" + v + "' is not an integer");
  return n;
}

std::chrono::milliseconds Millis(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000.0));
}

}  // namespace

DistEnv DistEnv::FromEnvironment() {
  DistEnv e;
  e.world_size = IntEnv("WORLD_SIZE", 1);
  if (e.world_size < 1)
    throw std::invalid_argument("WORLD_SIZE must be at least 1, not " + Env("WORLD_SIZE"));
  e.rank = IntEnv("RANK", 0);
  if (e.rank < 0 || e.rank >= e.world_size)
    throw std::invalid_argument("RANK=" + std::to_string(e.rank) +
                                " is outside [0, WORLD_SIZE=" + std::to_string(e.world_size) + ")");
  e.local_rank = IntEnv("LOCAL_RANK", e.rank);
  if (e.world_size > 1) {
    e.master_addr = Env("MASTER_ADDR");
    if (e.master_addr.empty())
      throw std::invalid_argument("WORLD_SIZE > 1 needs MASTER_ADDR (rank 0's host)");
    if (Env("MASTER_PORT").empty()) throw std::invalid_argument("WORLD_SIZE > 1 needs MASTER_PORT");
    e.master_port = IntEnv("MASTER_PORT", e.master_port);
    if (e.master_port < 1 || e.master_port > 65535)
      throw std::invalid_argument("MASTER_PORT=" + Env("MASTER_PORT") + " is not a TCP port");
  }
  return e;
}

void DistOptions::Register(CLI::App& app) {
  app.add_option(
         "--dist-timeout", timeout_s,
         "Seconds a collective (and the rendezvous) may wait for the other ranks before this one "
         "exits with an error")
      ->check(CLI::Range(1.0, 86400.0 * 7))
      ->capture_default_str();
  app.add_option("--bucket-mb", bucket_mb, "Size of the gradient all-reduce buckets in MiB")
      ->check(CLI::Range(0.001, 65536.0))
      ->capture_default_str();
}

void DeviceOptions::Register(CLI::App& app) {
  app.add_option(
         "--device", device,
         "Where training runs: cpu, cuda, cuda:N or auto (CUDA when a GPU is visible); under a "
         "launcher, cuda means this rank's GPU (LOCAL_RANK)")
      ->type_name("DEVICE")
      ->capture_default_str();
}

torch::Device DeviceOptions::Resolve(const DistEnv& env) const {
  const bool cuda_built = at::detail::getCUDAHooks().isBuilt();
  const bool cuda_ready = cuda_built && torch::cuda::is_available();
  if (device == "cpu" || (device == "auto" && !cuda_ready)) return torch::Device(torch::kCPU);
  std::optional<c10::DeviceIndex> index;
  if (device.rfind("cuda:", 0) == 0) {
    const std::string n = device.substr(5);
    if (n.empty() || n.size() > 3 || n.find_first_not_of("0123456789") != std::string::npos)
      throw std::invalid_argument("--device " + device + ": expected cpu, cuda, cuda:N or auto");
    index = static_cast<c10::DeviceIndex>(std::stoi(n));
  } else if (device != "cuda" && device != "auto") {
    throw std::invalid_argument("--device " + device + ": expected cpu, cuda, cuda:N or auto");
  }
  if (!cuda_built)
    throw std::invalid_argument(
        "--device " + device +
        ": this build's LibTorch has no CUDA (use --device cpu, or build against a "
        "CUDA LibTorch)");
  if (!cuda_ready)
    throw std::invalid_argument(
        "--device " + device +
        ": no CUDA device is visible to this process (no GPU, no driver, or "
        "CUDA_VISIBLE_DEVICES hides them); use --device cpu");
  if (!index) index = static_cast<c10::DeviceIndex>(env.world_size > 1 ? env.local_rank : 0);
  const auto count = static_cast<int64_t>(torch::cuda::device_count());
  if (*index >= count)
    throw std::invalid_argument("--device cuda:" + std::to_string(*index) + ": only " +
                                std::to_string(count) + " CUDA device(s) are visible" +
                                (env.world_size > 1 && device.find(':') == std::string::npos
                                     ? " (LOCAL_RANK=" + std::to_string(env.local_rank) + ")"
                                     : std::string()));
  return torch::Device(torch::kCUDA, *index);
}

struct Dist::Group {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::Backend> backend;
};

Dist::Dist(const DistOptions& options, const torch::Device& device)
    : env_(DistEnv::FromEnvironment()), opt_(options), device_(device) {
  if (env_.world_size == 1) return;
  const auto timeout = Millis(opt_.timeout_s);
  group_ = std::make_unique<Group>();
  const std::string where =
      "rank " + std::to_string(env_.rank) + " of " + std::to_string(env_.world_size);
  try {
    c10d::TCPStoreOptions so;
    so.port = static_cast<uint16_t>(env_.master_port);
    // Under torchrun the agent already serves the store on MASTER_PORT
    // (torch.distributed.rendezvous, _create_c10d_store with TORCHELASTIC_USE_AGENT_STORE);
    // otherwise rank 0 serves it.
    const bool agent_store = Env("TORCHELASTIC_USE_AGENT_STORE") == "True";
    so.isServer = env_.rank == 0 && !agent_store;
    so.numWorkers = static_cast<size_t>(env_.world_size);
    so.waitWorkers = !agent_store;
    so.timeout = timeout;
    auto tcp = c10::make_intrusive<c10d::TCPStore>(env_.master_addr, so);
    // One key space per launch attempt, as torch's env:// rendezvous does after an elastic restart.
    const std::string prefix =
        "vstar/attempt_" + std::to_string(IntEnv("TORCHELASTIC_RESTART_COUNT", 0));
    group_->store = c10::make_intrusive<c10d::PrefixStore>(prefix, tcp);
    if (device_.is_cuda()) {
#if defined(VSTAR_WITH_CUDA) && defined(USE_C10D_NCCL)
      auto no = c10d::ProcessGroupNCCL::Options::create();
      no->timeout = timeout;
      group_->backend = c10::make_intrusive<c10d::ProcessGroupNCCL>(group_->store, env_.rank,
                                                                    env_.world_size, no);
#else
      throw std::runtime_error("this build has no CUDA, so no NCCL process group");
#endif
    } else {
      auto go = c10d::ProcessGroupGloo::Options::create(timeout);
      // GLOO_SOCKET_IFNAME as torch reads it; otherwise the address this host's name resolves to
      // (loopback when it resolves to none).
      const std::string ifname = Env("GLOO_SOCKET_IFNAME");
      go->devices.push_back(ifname.empty()
                                ? c10d::ProcessGroupGloo::createDefaultDevice()
                                : c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
      group_->backend = c10::make_intrusive<c10d::ProcessGroupGloo>(group_->store, env_.rank,
                                                                    env_.world_size, go);
    }
  } catch (const std::exception& e) {
    throw std::runtime_error(where + ": rendezvous at " + env_.master_addr + ":" +
                             std::to_string(env_.master_port) + " failed within --dist-timeout " +
                             std::to_string(opt_.timeout_s) + " s: " + e.what());
  }
  Barrier("rendezvous");
}

Dist::~Dist() {
  if (group_ && group_->backend) group_->backend->shutdown();
}

void Dist::AllReduce(torch::Tensor& t, Op op, const std::string& what) const {
  if (env_.world_size == 1) return;
  c10d::AllreduceOptions ao;
  ao.reduceOp = op == Op::kSum   ? c10d::ReduceOp::SUM
                : op == Op::kMax ? c10d::ReduceOp::MAX
                                 : c10d::ReduceOp::MIN;
  ao.timeout = Millis(opt_.timeout_s);
  std::vector<torch::Tensor> v{t};
  try {
    auto work = group_->backend->allreduce(v, ao);
    work->wait(ao.timeout);
  } catch (const std::exception& e) {
    // c10::Error's what() carries a C++ backtrace; its first line is the message.
    std::string msg = e.what();
    if (auto nl = msg.find('\n'); nl != std::string::npos) msg.resize(nl);
    throw std::runtime_error("rank " + std::to_string(env_.rank) + " of " +
                             std::to_string(env_.world_size) + ": " + what + " failed: " + msg +
                             " (another rank died or did not answer within --dist-timeout " +
                             std::to_string(static_cast<int64_t>(opt_.timeout_s)) + " s)");
  }
}

double Dist::Sum(double v) const {
  if (env_.world_size == 1) return v;
  auto t = torch::tensor({v}, torch::TensorOptions().dtype(torch::kFloat64).device(device_));
  AllReduce(t, Op::kSum, "sum");
  return t.item<double>();
}

double Dist::Max(double v) const {
  if (env_.world_size == 1) return v;
  auto t = torch::tensor({v}, torch::TensorOptions().dtype(torch::kFloat64).device(device_));
  AllReduce(t, Op::kMax, "max");
  return t.item<double>();
}

double Dist::Min(double v) const {
  if (env_.world_size == 1) return v;
  auto t = torch::tensor({v}, torch::TensorOptions().dtype(torch::kFloat64).device(device_));
  AllReduce(t, Op::kMin, "min");
  return t.item<double>();
}

void Dist::Barrier(const std::string& what) const {
  if (env_.world_size == 1) return;
  // A one-element all-reduce: the same for Gloo and NCCL (whose barrier needs a device guess).
  auto t = torch::ones({1}, torch::TensorOptions().dtype(torch::kFloat32).device(device_));
  AllReduce(t, Op::kSum, "barrier (" + what + ")");
}

std::vector<std::string> Dist::AllGather(const std::string& text) const {
  if (env_.world_size == 1) return {text};
  const auto longest = static_cast<int64_t>(Max(static_cast<double>(text.size())));
  // Each rank fills its own row of zeros; the sum is every rank's bytes.
  auto rows = torch::zeros({env_.world_size, longest + 1}, torch::kInt32);
  rows[env_.rank][0] = static_cast<int32_t>(text.size());
  auto acc = rows.accessor<int32_t, 2>();
  for (size_t i = 0; i < text.size(); ++i)
    acc[env_.rank][static_cast<int64_t>(i) + 1] = static_cast<unsigned char>(text[i]);
  auto dev = rows.to(device_);
  AllReduce(dev, Op::kSum, "gather");
  rows = dev.to(torch::kCPU);
  acc = rows.accessor<int32_t, 2>();
  std::vector<std::string> out(static_cast<size_t>(env_.world_size));
  for (int r = 0; r < env_.world_size; ++r) {
    auto& s = out[static_cast<size_t>(r)];
    s.resize(static_cast<size_t>(acc[r][0]));
    for (size_t i = 0; i < s.size(); ++i)
      s[i] = static_cast<char>(acc[r][static_cast<int64_t>(i) + 1]);
  }
  return out;
}

namespace {

// Consecutive parameters of one dtype and device, up to `cap` bytes (one parameter may exceed it).
std::vector<std::vector<size_t>> Buckets(const std::vector<torch::Tensor>& ts,
                                         const std::vector<size_t>& which, double cap) {
  std::vector<std::vector<size_t>> out;
  double bytes = 0;
  for (size_t i : which) {
    const auto& t = ts[i];
    const double b = static_cast<double>(t.numel() * t.element_size());
    if (out.empty() || bytes + b > cap || ts[out.back().front()].scalar_type() != t.scalar_type() ||
        ts[out.back().front()].device() != t.device()) {
      out.emplace_back();
      bytes = 0;
    }
    out.back().push_back(i);
    bytes += b;
  }
  return out;
}

}  // namespace

void Dist::AllReduceGradients(const NamedParams& params) const {
  if (env_.world_size == 1) return;
  torch::NoGradGuard ng;
  const size_t P = params.size();
  // How many ranks hold each gradient: 0 keeps it undefined everywhere.
  auto holders = torch::zeros({static_cast<int64_t>(P)}, torch::kFloat32);
  for (size_t p = 0; p < P; ++p)
    if (params[p].second.grad().defined()) holders[static_cast<int64_t>(p)] = 1.0f;
  auto hd = holders.to(device_);
  AllReduce(hd, Op::kSum, "gradient presence all-reduce");
  holders = hd.to(torch::kCPU);
  std::vector<size_t> with_grad;
  std::vector<torch::Tensor> ts;
  for (size_t p = 0; p < P; ++p) {
    ts.push_back(params[p].second);
    if (holders[static_cast<int64_t>(p)].item<float>() > 0) with_grad.push_back(p);
  }
  const double cap = opt_.bucket_mb * 1024.0 * 1024.0;
  for (const auto& bucket : Buckets(ts, with_grad, cap)) {
    std::vector<torch::Tensor> flat;
    for (size_t p : bucket) {
      const auto& g = ts[p].grad();
      flat.push_back(g.defined() ? g.reshape({-1})
                                 : torch::zeros({ts[p].numel()}, ts[p].options()));
    }
    auto buf = torch::cat(flat);
    AllReduce(buf, Op::kSum, "gradient all-reduce");
    int64_t off = 0;
    for (size_t p : bucket) {
      auto& param = const_cast<torch::Tensor&>(params[p].second);
      auto part = buf.narrow(0, off, param.numel()).view(param.sizes());
      off += param.numel();
      if (param.grad().defined())
        param.mutable_grad().copy_(part);
      else
        param.mutable_grad() = part.clone();
    }
  }
}

void Dist::BroadcastParameters(const NamedParams& params) const {
  if (env_.world_size == 1) return;
  torch::NoGradGuard ng;
  std::vector<torch::Tensor> ts;
  std::vector<size_t> all;
  for (size_t p = 0; p < params.size(); ++p) {
    ts.push_back(params[p].second);
    all.push_back(p);
  }
  c10d::BroadcastOptions bo;
  bo.rootRank = 0;
  bo.timeout = Millis(opt_.timeout_s);
  for (const auto& bucket : Buckets(ts, all, opt_.bucket_mb * 1024.0 * 1024.0)) {
    std::vector<torch::Tensor> flat;
    for (size_t p : bucket) flat.push_back(ts[p].detach().reshape({-1}));
    std::vector<torch::Tensor> v{torch::cat(flat)};
    try {
      group_->backend->broadcast(v, bo)->wait(bo.timeout);
    } catch (const std::exception& e) {
      std::string msg = e.what();
      if (auto nl = msg.find('\n'); nl != std::string::npos) msg.resize(nl);
      throw std::runtime_error("rank " + std::to_string(env_.rank) +
                               ": parameter broadcast failed: " + msg);
    }
    int64_t off = 0;
    for (size_t p : bucket) {
      ts[p].detach().copy_(v[0].narrow(0, off, ts[p].numel()).view(ts[p].sizes()));
      off += ts[p].numel();
    }
  }
}

}  // namespace vstar::train
