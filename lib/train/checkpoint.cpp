#include "train/checkpoint.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>

#include "model/safetensors.hpp"

namespace vstar::train {
namespace fs = std::filesystem;

const std::vector<std::string>& TokenizerFiles() {
  static const std::vector<std::string> kFiles = {"tokenizer.json",
                                                  "tokenizer_config.json",
                                                  "vocab.json",
                                                  "merges.txt",
                                                  "special_tokens_map.json",
                                                  "added_tokens.json",
                                                  "chat_template.json",
                                                  "chat_template.jinja",
                                                  "preprocessor_config.json",
                                                  "video_preprocessor_config.json",
                                                  "generation_config.json"};
  return kFiles;
}

void SyncPath(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    throw std::runtime_error("cannot open " + path.string() +
                             " to sync it: " + std::strerror(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) throw std::runtime_error("fsync " + path.string() + ": " + std::strerror(err));
}

namespace {

void WriteText(const fs::path& file, const std::string& text) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) throw std::runtime_error("cannot write " + file.string());
}

fs::path TempSibling(const fs::path& dir) {
  return dir.parent_path() / ("." + dir.filename().string() + ".tmp-" + std::to_string(::getpid()));
}

}  // namespace

void WriteCheckpointDir(const CheckpointContent& c, const fs::path& dir) {
  const fs::path tmp = TempSibling(dir);
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  model::SaveOptions so;
  so.max_shard_bytes = 0;
  if (!c.weights.empty()) model::SaveCheckpoint(c.weights, tmp, so);
  if (c.config) {
    model::QwenVLConfig cfg = *c.config;
    if (!c.weights.empty())
      cfg.torch_dtype =
          c.weights.front().second.scalar_type() == torch::kBFloat16 ? "bfloat16" : "float32";
    model::SaveConfig(cfg, tmp / "config.json");
  }
  for (const auto& name : TokenizerFiles()) {
    const fs::path src = c.tokenizer_dir / name;
    if (!c.tokenizer_dir.empty() && fs::exists(src))
      fs::copy_file(src, tmp / name, fs::copy_options::overwrite_existing);
  }
  if (!c.optimizer.empty()) model::SaveSafetensors(c.optimizer, tmp / "optimizer.safetensors");
  if (c.rng) {
    NamedParams states = {{"cpu", at::detail::getDefaultCPUGenerator().get_state()}};
    if (c.rng_device.is_cuda())
      states.emplace_back("cuda", at::globalContext().defaultGenerator(c.rng_device).get_state());
    model::SaveSafetensors(states, tmp / "rng_state.safetensors");
  }
  if (!c.trainer_state.is_null())
    WriteText(tmp / "trainer_state.json", c.trainer_state.dump(2) + "\n");
  for (const auto& [name, bytes] : c.extra_files) WriteText(tmp / name, bytes);
  for (const auto& [name, tensors] : c.tensor_files) model::SaveSafetensors(tensors, tmp / name);
  for (const auto& e : fs::directory_iterator(tmp)) SyncPath(e.path());
  SyncPath(tmp);
  if (fs::exists(dir)) fs::remove_all(dir);
  fs::rename(tmp, dir);
  SyncPath(dir.parent_path().empty() ? fs::path(".") : dir.parent_path());
}

void PublishFiles(const fs::path& tmp, const fs::path& dest) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(tmp))
    if (e.is_regular_file()) files.push_back(e.path());
  std::sort(files.begin(), files.end(), [](const fs::path& a, const fs::path& b) {
    auto last = [](const fs::path& p) {
      return p.filename() == "config.json" || p.filename() == "adapter_config.json";
    };
    const bool ca = last(a), cb = last(b);
    return ca != cb ? cb : a < b;
  });
  // Stale shards of an earlier final model would be listed by nobody but could confuse a reader.
  for (const auto& e : fs::directory_iterator(dest)) {
    const std::string n = e.path().filename().string();
    if (e.is_regular_file() && n.rfind("model", 0) == 0 &&
        n.find(".safetensors") != std::string::npos && !fs::exists(tmp / n))
      fs::remove(e.path());
  }
  for (const auto& f : files) fs::rename(f, dest / f.filename());
  SyncPath(dest);
  fs::remove_all(tmp);
}

std::vector<std::pair<int64_t, fs::path>> ListCheckpoints(const fs::path& output) {
  std::vector<std::pair<int64_t, fs::path>> out;
  if (!fs::is_directory(output)) return out;
  for (const auto& e : fs::directory_iterator(output)) {
    const std::string n = e.path().filename().string();
    if (!e.is_directory() || n.rfind("checkpoint-", 0) != 0) continue;
    const std::string digits = n.substr(11);
    if (digits.empty() || !std::all_of(digits.begin(), digits.end(), ::isdigit)) continue;
    out.emplace_back(std::stoll(digits), e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<fs::path> LatestCheckpoint(const fs::path& output) {
  auto all = ListCheckpoints(output);
  if (all.empty()) return std::nullopt;
  return all.back().second;
}

void PruneCheckpoints(const fs::path& output, int64_t keep) {
  if (keep <= 0) return;
  auto all = ListCheckpoints(output);
  for (size_t i = 0; i + static_cast<size_t>(keep) < all.size(); ++i) fs::remove_all(all[i].second);
}

nlohmann::ordered_json ReadTrainerState(const fs::path& dir) {
  std::ifstream in(dir / "trainer_state.json", std::ios::binary);
  if (!in)
    throw std::runtime_error(dir.string() + " has no trainer_state.json (not a vs-sft checkpoint)");
  try {
    return nlohmann::ordered_json::parse(in);
  } catch (const std::exception& e) {
    throw std::runtime_error((dir / "trainer_state.json").string() + ": " + e.what());
  }
}

NamedParams ReadOptimizerState(const fs::path& dir) {
  auto f = model::SafetensorsFile::Open(dir / "optimizer.safetensors");
  NamedParams out;
  for (const auto& [name, info] : f->tensors()) out.emplace_back(name, f->Get(name).clone());
  return out;
}

void RestoreRng(const fs::path& dir, const torch::Device& device) {
  const fs::path file = dir / "rng_state.safetensors";
  if (!fs::exists(file)) return;
  auto f = model::SafetensorsFile::Open(file);
  at::Generator gen = at::detail::getDefaultCPUGenerator();
  gen.set_state(f->Get("cpu").clone());
  if (device.is_cuda() && f->Has("cuda")) {
    at::Generator cuda = at::globalContext().defaultGenerator(device);
    cuda.set_state(f->Get("cuda").clone());
  }
}

}  // namespace vstar::train
