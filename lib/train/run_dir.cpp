#include "train/run_dir.hpp"

#include <unistd.h>

#include <fstream>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>

#include "io/log.hpp"
#include "train/checkpoint.hpp"

namespace vstar::train {
namespace fs = std::filesystem;

void PrepareOutputDir(const fs::path& out) {
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec || !fs::is_directory(out))
    throw std::runtime_error("cannot create the output directory " + out.string() + (ec ? ": " + ec.message() : ""));
  const fs::path probe = out / (".vs-train-probe-" + std::to_string(::getpid()));
  {
    std::ofstream f(probe);
    f << "probe";
    if (!f) throw std::runtime_error("the output directory " + out.string() + " is not writable");
  }
  fs::remove(probe);
  for (const auto& e : fs::directory_iterator(out)) {
    const std::string n = e.path().filename().string();
    if (e.is_directory() && n.size() > 1 && n[0] == '.' && n.find(".tmp-") != std::string::npos) fs::remove_all(e.path());
  }
}

std::vector<size_t> EpochOrder(size_t n, uint64_t seed, int64_t epoch) {
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  std::mt19937_64 rng(seed * 1000003ull + static_cast<uint64_t>(epoch));
  for (size_t i = n; i > 1; --i) std::swap(order[i - 1], order[rng() % i]);
  return order;
}

ResumePoint FindResumePoint(const fs::path& out, const fs::path& base_model, bool resume, const std::string& resume_from,
                            const nlohmann::ordered_json& identity) {
  ResumePoint p{base_model, nullptr};
  if (!resume) return p;
  std::optional<fs::path> from;
  if (resume_from.empty() || resume_from == "latest") {
    from = LatestCheckpoint(out);
    if (!from) log::Warn("--resume: no checkpoint in ", out.string(), "; starting from the base model");
  } else {
    from = fs::path(resume_from);
    if (!fs::is_directory(*from)) throw std::runtime_error("--resume " + resume_from + ": no such checkpoint");
  }
  if (!from) return p;
  p.state = ReadTrainerState(*from);
  if (p.state["identity"] != identity)
    throw std::runtime_error("checkpoint " + from->string() + " belongs to a different run (options or data differ): " +
                             p.state["identity"].dump() + " vs " + identity.dump());
  p.weights_dir = *from;
  log::Info("resuming from ", from->string(), " at step ", p.step());
  return p;
}

void PublishFinalModel(const fs::path& out, const model::QwenVLConfig& config, NamedParams weights,
                       const fs::path& tokenizer_dir) {
  CheckpointContent c;
  c.config = &config;
  c.weights = std::move(weights);
  c.tokenizer_dir = tokenizer_dir;
  c.rng = false;
  const fs::path tmp = out / (".final.tmp-" + std::to_string(::getpid()));
  WriteCheckpointDir(c, tmp);
  PublishFiles(tmp, out);
}

}  // namespace vstar::train
