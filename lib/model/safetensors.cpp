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

constexpr uint64_t kMaxHeader = 100ull << 20;  // the Python package's limit is 100 MB

[[noreturn]] void Fail(const std::filesystem::path& file, const std::string& why) {
  throw SafetensorsError(file.string() + ": " + why);
}

DType ParseDType(const std::string& s, const std::filesystem::path& file, const std::string& name) {
  static const std::pair<const char*, DType> kTable[] = {
      {"BF16", DType::kBF16}, {"F16", DType::kF16},  {"F32", DType::kF32}, {"F64", DType::kF64},
      {"I64", DType::kI64},   {"I32", DType::kI32},  {"I16", DType::kI16}, {"I8", DType::kI8},
      {"U8", DType::kU8},     {"BOOL", DType::kBool}};
  for (auto& [n, d] : kTable)
    if (s == n) return d;
  Fail(file, "tensor '" + name + "': unsupported dtype '" + s + "'");
}

bool StartsWith(const std::string& s, const char* p) {
  return s.rfind(p, 0) == 0;
}

}  // namespace

const char* DTypeName(DType d) {
  switch (d) {
    case DType::kBF16:
      return "BF16";
    case DType::kF16:
      return "F16";
    case DType::kF32:
      return "F32";
    case DType::kF64:
      return "F64";
    case DType::kI64:
      return "I64";
    case DType::kI32:
      return "I32";
    case DType::kI16:
      return "I16";
    case DType::kI8:
      return "I8";
    case DType::kU8:
      return "U8";
    case DType::kBool:
      return "BOOL";
  }
  return "?";
}

size_t DTypeSize(DType d) {
  switch (d) {
    case DType::kF64:
    case DType::kI64:
      return 8;
    case DType::kF32:
    case DType::kI32:
      return 4;
    case DType::kBF16:
    case DType::kF16:
    case DType::kI16:
      return 2;
    case DType::kI8:
    case DType::kU8:
    case DType::kBool:
      return 1;
  }
  return 0;
}

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

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
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

  if (size < 8) Fail(file, "truncated: " + std::to_string(size) + " bytes, no header length");
  const auto* base = static_cast<const unsigned char*>(f->map_->addr);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | base[i];
  if (n > kMaxHeader)
    Fail(file, "bad header: header length " + std::to_string(n) + " is too large");
  if (8 + n > size)
    Fail(file, "truncated: header length " + std::to_string(n) + " exceeds the file size " +
                   std::to_string(size));
  json header;
  try {
    header = json::parse(reinterpret_cast<const char*>(base + 8),
                         reinterpret_cast<const char*>(base + 8 + n));
  } catch (const json::exception& e) {
    Fail(file, std::string("bad header: invalid JSON: ") + e.what());
  }
  if (!header.is_object()) Fail(file, "bad header: not a JSON object");
  f->data_offset_ = 8 + n;
  uint64_t data_size = size - f->data_offset_;

  std::vector<std::tuple<uint64_t, uint64_t, std::string>> ranges;
  for (auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) Fail(file, "bad header: __metadata__ is not an object");
      for (auto& [k, v] : entry.items()) {
        if (!v.is_string()) Fail(file, "bad header: __metadata__." + k + " is not a string");
        f->metadata_[k] = v.get<std::string>();
      }
      continue;
    }
    auto bad = [&](const std::string& why) {
      Fail(file, "bad header: tensor '" + name + "': " + why);
    };
    if (!entry.is_object()) bad("entry is not an object");
    auto dt = entry.find("dtype");
    auto sh = entry.find("shape");
    auto off = entry.find("data_offsets");
    if (dt == entry.end() || !dt->is_string()) bad("missing dtype");
    if (sh == entry.end() || !sh->is_array()) bad("missing shape");
    if (off == entry.end() || !off->is_array() || off->size() != 2) bad("missing data_offsets");
    TensorInfo info;
    info.name = name;
    info.dtype = ParseDType(dt->get<std::string>(), file, name);
    for (auto& s : *sh) {
      if (!s.is_number_unsigned() && !(s.is_number_integer() && s.get<int64_t>() >= 0))
        bad("shape entries must be non-negative integers");
      info.shape.push_back(s.get<int64_t>());
    }
    for (auto& o : *off)
      if (!o.is_number_unsigned() && !(o.is_number_integer() && o.get<int64_t>() >= 0))
        bad("data_offsets must be non-negative integers");
    info.begin = (*off)[0].get<uint64_t>();
    info.end = (*off)[1].get<uint64_t>();
    if (info.end < info.begin) bad("data_offsets end < begin");
    uint64_t want = static_cast<uint64_t>(info.numel()) * DTypeSize(info.dtype);
    if (info.end - info.begin != want)
      bad("data_offsets span " + std::to_string(info.end - info.begin) +
          " bytes but shape and dtype need " + std::to_string(want));
    if (info.end > data_size)
      Fail(file, "truncated: tensor '" + name + "' ends at data byte " + std::to_string(info.end) +
                     " but the file holds only " + std::to_string(data_size) + " data bytes");
    ranges.emplace_back(info.begin, info.end, name);
    f->tensors_.emplace(name, std::move(info));
  }
  // The Python package requires the tensors to tile the data section without holes or overlaps.
  std::sort(ranges.begin(), ranges.end());
  uint64_t at = 0;
  for (auto& [b, e, name] : ranges) {
    if (b < at) Fail(file, "bad header: tensor '" + name + "' overlaps the previous tensor");
    if (b > at)
      Fail(file,
           "bad header: hole of " + std::to_string(b - at) + " bytes before tensor '" + name + "'");
    at = e;
  }
  if (at != data_size)
    Fail(file, "bad header: tensors cover " + std::to_string(at) + " data bytes but the file has " +
                   std::to_string(data_size));
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
    json j;
    try {
      j = json::parse(in);
    } catch (const json::exception& e) {
      Fail(index, std::string("invalid JSON: ") + e.what());
    }
    auto wm = j.find("weight_map");
    if (wm == j.end() || !wm->is_object()) Fail(index, "no weight_map object");
    weight_map = *wm;
    std::set<std::string> seen;
    for (auto& [name, shard] : weight_map.items()) {
      if (!shard.is_string()) Fail(index, "weight_map['" + name + "'] is not a file name");
      std::string s = shard.get<std::string>();
      if (seen.insert(s).second) files.push_back(index.parent_path() / s);
    }
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
