#include "model/safetensors_header.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <set>
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

// A JSON number that is an integer in [0, INT64_MAX] (shape entries and offsets are stored as such;
// the Python package's Rust reader takes usize).
bool NonNegativeInt64(const json& v) {
  if (v.is_number_unsigned())
    return v.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  return v.is_number_integer() && v.get<int64_t>() >= 0;
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

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

SafetensorsHeader ParseSafetensorsHeader(const unsigned char* base, uint64_t size,
                                         const std::filesystem::path& file) {
  // torch.save files (a zip archive since PyTorch 1.6, a bare pickle before: protocol 2-5 opcode)
  // are recognised and refused by name: unpickling can run arbitrary code, so they are never read.
  // A safetensors header is JSON from byte 8 on, which tells the two apart.
  const bool json_at_8 = size > 8 && base[8] == '{';
  const bool zip = size >= 4 && std::memcmp(base, "PK\x03\x04", 4) == 0;
  const bool pickle = size >= 2 && base[0] == 0x80 && base[1] >= 2 && base[1] <= 5;
  if (!json_at_8 && (zip || pickle))
    Fail(file,
         "a PyTorch pickle (torch.save) file, which vstar never loads because unpickling can run "
         "code; "
         "convert the checkpoint to safetensors (transformers: "
         "save_pretrained(safe_serialization=True))");
  if (size < 8) Fail(file, "truncated: " + std::to_string(size) + " bytes, no header length");
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
  SafetensorsHeader out;
  out.data_offset = 8 + n;
  const uint64_t data_size = size - out.data_offset;

  std::vector<std::tuple<uint64_t, uint64_t, std::string>> ranges;
  for (auto& item : header.items()) {
    const std::string& name = item.key();  // a plain name: clang 14 lambdas cannot capture bindings
    const json& entry = item.value();
    if (name == "__metadata__") {
      if (!entry.is_object()) Fail(file, "bad header: __metadata__ is not an object");
      for (auto& [k, v] : entry.items()) {
        if (!v.is_string()) Fail(file, "bad header: __metadata__." + k + " is not a string");
        out.metadata[k] = v.get<std::string>();
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
    // The byte size is computed with overflow checks: a shape whose product wraps around could
    // otherwise match a small data_offsets span and describe a tensor far larger than the file.
    uint64_t want = DTypeSize(info.dtype);
    bool overflow = false;
    for (auto& s : *sh) {
      if (!NonNegativeInt64(s)) bad("shape entries must be non-negative integers");
      info.shape.push_back(s.get<int64_t>());
      overflow = overflow || __builtin_mul_overflow(want, s.get<uint64_t>(), &want);
    }
    if (overflow || want > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      bad("shape " + sh->dump() + " overflows");
    for (auto& o : *off)
      if (!NonNegativeInt64(o)) bad("data_offsets must be non-negative integers");
    info.begin = (*off)[0].get<uint64_t>();
    info.end = (*off)[1].get<uint64_t>();
    if (info.end < info.begin) bad("data_offsets end < begin");
    if (info.end - info.begin != want)
      bad("data_offsets span " + std::to_string(info.end - info.begin) +
          " bytes but shape and dtype need " + std::to_string(want));
    if (info.end > data_size)
      Fail(file, "truncated: tensor '" + name + "' ends at data byte " + std::to_string(info.end) +
                     " but the file holds only " + std::to_string(data_size) + " data bytes");
    ranges.emplace_back(info.begin, info.end, name);
    out.tensors.emplace(name, std::move(info));
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
  return out;
}

SafetensorsIndex ParseSafetensorsIndex(const std::string& text,
                                       const std::filesystem::path& index) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    Fail(index, std::string("invalid JSON: ") + e.what());
  }
  if (!j.is_object()) Fail(index, "not a JSON object");
  auto wm = j.find("weight_map");
  if (wm == j.end() || !wm->is_object()) Fail(index, "no weight_map object");
  SafetensorsIndex out;
  out.weight_map = *wm;
  std::set<std::string> seen;
  for (auto& [name, shard] : out.weight_map.items()) {
    if (!shard.is_string()) Fail(index, "weight_map['" + name + "'] is not a file name");
    std::string s = shard.get<std::string>();
    if (!seen.insert(s).second) continue;
    // transformers joins the name to the checkpoint folder; a name that leaves it would read (and
    // map) any file the user can read.
    std::filesystem::path rel(s);
    bool escapes = s.empty() || rel.is_absolute() || rel.has_root_name();
    for (auto& part : rel) escapes = escapes || part == "..";
    if (escapes)
      Fail(index, "weight_map['" + name + "'] names '" + s +
                      "', which is not a file inside the checkpoint directory");
    out.files.push_back(index.parent_path() / rel);
  }
  return out;
}

}  // namespace vstar::model
