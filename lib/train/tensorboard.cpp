#include "train/tensorboard.hpp"

#include <unistd.h>

#include <array>
#include <chrono>
#include <cstring>
#include <stdexcept>

namespace vstar::train {
namespace {

std::array<uint32_t, 256> MakeTable() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    t[i] = c;
  }
  return t;
}

// tensorboard summary/writer/record_writer.py: masked_crc32c.
uint32_t Masked(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

void Varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}

template <typename T>
void Fixed(std::string& out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));  // little-endian hosts (x86-64, aarch64), as the wire format
  out.append(b, sizeof(T));
}

void Bytes(std::string& out, uint32_t field, const std::string& data) {
  Varint(out, (field << 3) | 2);
  Varint(out, data.size());
  out += data;
}

std::string Event(double wall_time, int64_t step) {
  std::string e;
  Varint(e, (1 << 3) | 1);
  Fixed(e, wall_time);
  Varint(e, (2 << 3) | 0);
  Varint(e, static_cast<uint64_t>(step));
  return e;
}

double Now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

uint32_t Crc32c(std::string_view data) {
  static const auto kTable = MakeTable();
  uint32_t c = 0xffffffffu;
  for (unsigned char ch : data) c = kTable[(c ^ ch) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

EventWriter::EventWriter(const std::filesystem::path& dir) {
  char host[256] = "localhost";
  ::gethostname(host, sizeof host - 1);
  const auto secs = static_cast<int64_t>(Now());
  path_ = dir / ("events.out.tfevents." + std::to_string(secs) + "." + host + "." + std::to_string(::getpid()));
  out_.open(path_, std::ios::binary | std::ios::app);
  if (!out_) throw std::runtime_error("cannot write the event file " + path_.string());
  std::string e = Event(Now(), 0);
  Bytes(e, 3, "brain.Event:2");
  WriteRecord(e);
}

void EventWriter::Scalars(int64_t step, const std::vector<std::pair<std::string, double>>& values) {
  std::string summary;
  for (const auto& [tag, v] : values) {
    std::string value;
    Bytes(value, 1, tag);
    Varint(value, (2 << 3) | 5);
    Fixed(value, static_cast<float>(v));
    Bytes(summary, 1, value);
  }
  std::string e = Event(Now(), step);
  Bytes(e, 5, summary);
  WriteRecord(e);
}

void EventWriter::WriteRecord(const std::string& data) {
  std::string header;
  Fixed(header, static_cast<uint64_t>(data.size()));
  std::string framed = header;
  Fixed(framed, Masked(Crc32c(header)));
  framed += data;
  Fixed(framed, Masked(Crc32c(data)));
  out_.write(framed.data(), static_cast<std::streamsize>(framed.size()));
  out_.flush();
  if (!out_) throw std::runtime_error("cannot write the event file " + path_.string());
}

}  // namespace vstar::train
