#pragma once
// TensorBoard event files of scalars, written without TensorFlow: TFRecord framing (length, masked
// CRC-32C of the length, data, masked CRC-32C of the data; tensorboard's record_writer.py) around
// Event protocol buffers (event.proto: wall_time = 1, step = 2, file_version = 3, summary = 5;
// summary.proto: Summary.value = 1, Value.tag = 1, Value.simple_value = 2), hand-encoded.
// `tensorboard --logdir DIR` shows the run.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vstar::train {

// CRC-32C (Castagnoli), as TFRecord uses it.
uint32_t Crc32c(std::string_view data);

class EventWriter {
 public:
  // Creates DIR/events.out.tfevents.<seconds>.<host>.<pid> and writes the file_version event.
  explicit EventWriter(const std::filesystem::path& dir);
  // One event holding the scalars of `step`; flushed at once so a killed run keeps what it logged.
  void Scalars(int64_t step, const std::vector<std::pair<std::string, double>>& values);
  const std::filesystem::path& path() const { return path_; }

 private:
  void WriteRecord(const std::string& data);
  std::filesystem::path path_;
  std::ofstream out_;
};

}  // namespace vstar::train
