#include "model/safetensors.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <tuple>

namespace vstar::model {
namespace {

using nlohmann::json;

[[noreturn]] void Fail(const std::filesystem::path& file, const std::string& why) {
  throw SafetensorsError(file.string() + ": " + why);
}

bool StartsWith(const std::string& s, const char* p) {
  return s.rfind(p, 0) == 0;
}

}  // namespace

c10::ScalarType ToScalarType(DType d) {
  switch (d) {
    case DType::kBF16:
      return torch::kBFloat16;
    case DType::kF16:
      return torch::kHalf;
    case DType::kF32:
      return torch::kFloat;
    case DType::kF64:
      return torch::kDouble;
    case DType::kI64:
      return torch::kLong;
    case DType::kI32:
      return torch::kInt;
    case DType::kI16:
      return torch::kShort;
    case DType::kI8:
      return torch::kChar;
    case DType::kU8:
      return torch::kByte;
    case DType::kBool:
      return torch::kBool;
  }
  return torch::kFloat;
}

DType FromScalarType(c10::ScalarType t) {
  switch (t) {
    case torch::kBFloat16:
      return DType::kBF16;
    case torch::kHalf:
      return DType::kF16;
    case torch::kFloat:
      return DType::kF32;
    case torch::kDouble:
      return DType::kF64;
    case torch::kLong:
      return DType::kI64;
    case torch::kInt:
      return DType::kI32;
    case torch::kShort:
      return DType::kI16;
    case torch::kChar:
      return DType::kI8;
    case torch::kByte:
      return DType::kU8;
    case torch::kBool:
      return DType::kBool;
    default:
      break;
  }
  throw SafetensorsError(std::string("unsupported tensor dtype for safetensors: ") +
                         c10::toString(t));
}

struct SafetensorsFile::Mapping {
  void* addr = nullptr;
  size_t size = 0;
  ~Mapping() {
    if (addr && size) munmap(addr, size);
  }
};

SafetensorsFile::~SafetensorsFile() = default;

std::shared_ptr<SafetensorsFile> SafetensorsFile::Open(const std::filesystem::path& file) {
  std::shared_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->path_ = file;
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) Fail(file, std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    Fail(file, std::string("cannot stat: ") + std::strerror(e));
  }
  uint64_t size = static_cast<uint64_t>(st.st_size);
  f->map_ = std::make_shared<Mapping>();
  if (size > 0) {
    // Copy-on-write: an in-place op on a returned tensor changes a private page (every view of that
    // tensor sees it), never the file, and never faults.
    void* addr = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (addr == MAP_FAILED) {
      int e = errno;
      ::close(fd);
      Fail(file, std::string("mmap failed: ") + std::strerror(e));
    }
    f->map_->addr = addr;
    f->map_->size = size;
  }
  ::close(fd);

  SafetensorsHeader header =
      ParseSafetensorsHeader(static_cast<const unsigned char*>(f->map_->addr), size, file);
  f->tensors_ = std::move(header.tensors);
  f->metadata_ = std::move(header.metadata);
  f->data_offset_ = header.data_offset;
  return f;
}

torch::Tensor SafetensorsFile::Get(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) Fail(path_, "no tensor '" + name + "'");
  const TensorInfo& info = it->second;
  auto opts = torch::TensorOptions().dtype(ToScalarType(info.dtype)).device(torch::kCPU);
  if (info.numel() == 0) return torch::empty(info.shape, opts);
  char* data = static_cast<char*>(map_->addr) + data_offset_ + info.begin;
  size_t elem = DTypeSize(info.dtype);
  if (reinterpret_cast<uintptr_t>(data) % elem != 0) {
    // Misaligned (headers written by other tools need not pad): copy instead of aliasing.
    auto t = torch::empty(info.shape, opts);
    std::memcpy(t.data_ptr(), data, info.end - info.begin);
    return t;
  }
  auto keep = map_;
  // The deleter holds the mapping: it is unmapped when the last tensor over it is freed.
  return torch::from_blob(
      data, info.shape, [keep](void*) {}, opts);
}

std::string CanonicalName(const std::string& stored) {
  if (StartsWith(stored, "model.language_model.")) return "model." + stored.substr(21);
  if (StartsWith(stored, "model.visual.")) return "visual." + stored.substr(13);
  return stored;
}

std::string NewLayoutName(const std::string& canonical) {
  if (StartsWith(canonical, "visual.")) return "model." + canonical;
  if (StartsWith(canonical, "model.")) return "model.language_model." + canonical.substr(6);
  return canonical;
}

Checkpoint Checkpoint::Open(const std::filesystem::path& path) {
  namespace fs = std::filesystem;
  Checkpoint c;
  c.path_ = path;
  std::vector<fs::path> files;
  fs::path index;
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    if (fs::exists(path / "model.safetensors.index.json"))
      index = path / "model.safetensors.index.json";
    else if (fs::exists(path / "model.safetensors"))
      files.push_back(path / "model.safetensors");
    else if (fs::exists(path / "pytorch_model.bin") ||
             fs::exists(path / "pytorch_model.bin.index.json"))
      Fail(path,
           "holds pytorch_model.bin (PyTorch pickle) and no model.safetensors: pickle files are "
           "never "
           "loaded, because unpickling can run code; convert the checkpoint to safetensors "
           "(transformers: save_pretrained(safe_serialization=True))");
    else
      Fail(path, "no model.safetensors or model.safetensors.index.json in this directory");
  } else if (path.string().size() >= 5 && path.extension() == ".json") {
    index = path;
  } else {
    files.push_back(path);
  }

  json weight_map;
  if (!index.empty()) {
    std::ifstream in(index, std::ios::binary);
    if (!in) Fail(index, "cannot open the index");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    SafetensorsIndex parsed = ParseSafetensorsIndex(text, index);
    weight_map = std::move(parsed.weight_map);
    files = std::move(parsed.files);
  }

  std::map<std::string, size_t> file_index;
  for (auto& f : files) {
    file_index[f.filename().string()] = c.files_.size();
    c.files_.push_back(SafetensorsFile::Open(f));
  }
  for (size_t i = 0; i < c.files_.size(); ++i) {
    for (auto& [stored, info] : c.files_[i]->tensors()) {
      std::string canon = CanonicalName(stored);
      if (canon != stored) c.new_layout_ = true;
      auto [it, fresh] = c.where_.emplace(canon, std::make_pair(i, stored));
      if (!fresh)
        Fail(c.files_[i]->path(), "tensor '" + stored + "' duplicates '" + it->second.second +
                                      "' in " + c.files_[it->second.first]->path().string());
    }
  }
  if (!index.empty()) {
    // Every index entry must exist in the shard it names, and every shard tensor must be indexed.
    for (auto& [name, shard] : weight_map.items()) {
      auto it = c.where_.find(CanonicalName(name));
      size_t want = file_index[shard.get<std::string>()];
      if (it == c.where_.end() || it->second.first != want || it->second.second != name)
        Fail(index, "tensor '" + name + "' is listed in weight_map under " +
                        shard.get<std::string>() + " but that shard does not hold it");
    }
    if (weight_map.size() != c.where_.size()) {
      for (auto& [canon, loc] : c.where_)
        if (!weight_map.contains(loc.second))
          Fail(c.files_[loc.first]->path(),
               "tensor '" + loc.second + "' is missing from " + index.filename().string());
    }
  }
  return c;
}

torch::Tensor Checkpoint::Get(const std::string& canonical) const {
  auto it = where_.find(canonical);
  if (it == where_.end()) Fail(path_, "no tensor '" + canonical + "' in the checkpoint");
  return files_[it->second.first]->Get(it->second.second);
}

const TensorInfo& Checkpoint::Info(const std::string& canonical) const {
  auto it = where_.find(canonical);
  if (it == where_.end()) Fail(path_, "no tensor '" + canonical + "' in the checkpoint");
  return files_[it->second.first]->tensors().at(it->second.second);
}

const std::filesystem::path& Checkpoint::FileOf(const std::string& canonical) const {
  auto it = where_.find(canonical);
  if (it == where_.end()) Fail(path_, "no tensor '" + canonical + "' in the checkpoint");
  return files_[it->second.first]->path();
}

std::vector<std::string> Checkpoint::Names() const {
  std::vector<std::string> out;
  out.reserve(where_.size());
  for (auto& [k, v] : where_) out.push_back(k);
  return out;
}

void SaveSafetensors(const NamedTensors& tensors, const std::filesystem::path& file,
                     const std::map<std::string, std::string>& metadata) {
  std::vector<torch::Tensor> data;
  data.reserve(tensors.size());
  nlohmann::ordered_json header;
  if (!metadata.empty()) {
    nlohmann::ordered_json m = nlohmann::ordered_json::object();
    for (auto& [k, v] : metadata) m[k] = v;
    header["__metadata__"] = m;
  }
  std::set<std::string> names;
  uint64_t offset = 0;
  for (auto& [name, t] : tensors) {
    if (name == "__metadata__" || !names.insert(name).second)
      Fail(file, "tensor name '" + name + "' is reserved or repeated");
    if (!t.defined()) Fail(file, "tensor '" + name + "' is undefined");
    DType d = FromScalarType(t.scalar_type());
    torch::Tensor c = t.detach().to(torch::kCPU).contiguous();
    uint64_t bytes = static_cast<uint64_t>(c.numel()) * DTypeSize(d);
    header[name] = {{"dtype", DTypeName(d)},
                    {"shape", c.sizes().vec()},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    data.push_back(c);
  }
  std::string h = header.dump();
  while (h.size() % 8 != 0) h.push_back(' ');  // the Python package pads with spaces to 8 bytes
  std::filesystem::path tmp = file;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) Fail(file, "cannot write");
    uint64_t n = h.size();
    unsigned char len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(n >> (8 * i));
    out.write(reinterpret_cast<const char*>(len), 8);
    out.write(h.data(), static_cast<std::streamsize>(h.size()));
    for (auto& t : data)
      out.write(static_cast<const char*>(t.data_ptr()),
                static_cast<std::streamsize>(t.numel() * t.element_size()));
    out.flush();
    if (!out) Fail(file, "write failed (disk full?)");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, file, ec);
  if (ec) Fail(file, "cannot rename the temporary file: " + ec.message());
}

std::vector<std::filesystem::path> SaveCheckpoint(const NamedTensors& tensors,
                                                  const std::filesystem::path& dir,
                                                  const SaveOptions& options) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) Fail(dir, "cannot create the directory: " + ec.message());

  NamedTensors renamed;
  renamed.reserve(tensors.size());
  uint64_t total = 0;
  for (auto& [name, t] : tensors) {
    std::string canon = CanonicalName(name);
    renamed.emplace_back(options.hub_layout ? canon : NewLayoutName(canon), t);
    total += static_cast<uint64_t>(t.numel()) * t.element_size();
  }
  // Greedy split in the given order, as transformers' shard_checkpoint does: start a new shard when
  // the next tensor would overflow the current one.
  std::vector<NamedTensors> shards(1);
  uint64_t cur = 0;
  for (auto& nt : renamed) {
    uint64_t bytes = static_cast<uint64_t>(nt.second.numel()) * nt.second.element_size();
    if (options.max_shard_bytes && !shards.back().empty() &&
        cur + bytes > options.max_shard_bytes) {
      shards.emplace_back();
      cur = 0;
    }
    shards.back().push_back(nt);
    cur += bytes;
  }
  std::vector<fs::path> written;
  const std::map<std::string, std::string> meta{{"format", "pt"}};
  if (shards.size() == 1) {
    fs::remove(dir / "model.safetensors.index.json", ec);
    SaveSafetensors(shards[0], dir / "model.safetensors", meta);
    written.push_back(dir / "model.safetensors");
    return written;
  }
  fs::remove(dir / "model.safetensors", ec);
  nlohmann::ordered_json weight_map = nlohmann::ordered_json::object();
  std::vector<std::pair<std::string, std::string>> entries;
  for (size_t i = 0; i < shards.size(); ++i) {
    char name[64];
    std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", i + 1, shards.size());
    SaveSafetensors(shards[i], dir / name, meta);
    written.push_back(dir / name);
    for (auto& [n, t] : shards[i]) entries.emplace_back(n, name);
  }
  std::sort(entries.begin(), entries.end());  // transformers writes the weight_map sorted by name
  for (auto& [n, f] : entries) weight_map[n] = f;
  nlohmann::ordered_json index;
  index["metadata"] = {{"total_size", total}};
  index["weight_map"] = weight_map;
  fs::path ip = dir / "model.safetensors.index.json";
  std::ofstream out(ip, std::ios::binary | std::ios::trunc);
  if (!out) Fail(ip, "cannot write");
  out << index.dump(2) << "\n";
  if (!out) Fail(ip, "write failed");
  written.push_back(ip);
  return written;
}

}  // namespace vstar::model
