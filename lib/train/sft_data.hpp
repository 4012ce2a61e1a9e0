#pragma once
// SFT data: one JSON line per video, {"id": ..., "messages": [...]} in the chat format of
// TRL/HF conversational datasets (plus "turn2_messages", a second conversation, when turn 2 has a
// context of its own), validated field by field; tokenised with the Qwen2.5-VL chat
// template and labelled for the causal-LM loss (which tokens are trained), then collated into
// right-padded batches. vs-decompose writes these records; so can any script.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "model/config.hpp"
#include "model/processor.hpp"
#include "model/qwen_vl.hpp"
#include "model/tokenizer.hpp"

namespace CLI {
class App;
}

namespace vstar::train {

// A record that cannot be used; the message names the message and field ("messages[3].content[0].frames[2]: ...").
struct SftRecordError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct SftItem {
  enum class Kind { kText, kVideo, kImage };
  Kind kind = Kind::kText;
  std::string text;                 // kText
  std::vector<std::string> frames;  // kVideo: frame files in order
  double sample_fps = 0;            // kVideo: 0 = absent (the data options' default applies)
  std::string path;                 // kImage
};

struct SftMessage {
  std::string role;  // system | user | assistant
  std::vector<SftItem> content;
};

struct SftRecord {
  std::string id;
  std::vector<SftMessage> messages;
  std::string field =
      "messages";  // the record's key the conversation came from (for error messages)
};

// Validates one parsed JSON line's "messages". Unknown fields are ignored (they pass through to
// error records). Throws SftRecordError naming the first problem.
SftRecord ParseSftRecord(const nlohmann::ordered_json& record);
// Every conversation of a line, each trained as a sequence of its own: "messages", then
// "turn2_messages" when present (vs-decompose writes it for a profile whose turn 2 starts a fresh
// context, so turn 2 is learned without the turn-1 exchange before it, as inference asks it).
std::vector<SftRecord> ParseSftConversations(const nlohmann::ordered_json& record);

enum class TrainOn {
  kAssistant,  // content of every assistant turn and its <|im_end|>
  kPrompt,     // every token except vision tokens (the authors' SFT labels)
};
enum class OverLength { kTruncate, kDrop };

struct DataOptions {
  std::string train_on = "assistant";  // --train-on assistant|prompt
  int64_t max_length = 0;              // --max-length (0 = no limit)
  std::string over_length = "drop";    // --over-length truncate|drop
  double default_fps = 2.0;            // --fps: a video item without sample_fps
  int64_t video_max_pixels = 768 * 28 * 28;  // --video-max-pixels

  void Register(CLI::App& app);
  TrainOn train_on_mode() const;
  OverLength over_length_mode() const;
};

// A tokenised conversation. labels[i] = input_ids[i] where trained, -100 elsewhere (unshifted, as
// transformers' labels; the loss shifts them).
struct Example {
  std::string id;
  std::vector<int64_t> input_ids;
  std::vector<int64_t> labels;
  bool truncated = false;
  int64_t trained_tokens() const;
};

// Outcome of encoding one record: an example, or the reason it was dropped for its length.
struct Encoded {
  std::optional<Example> example;
  std::string dropped;  // non-empty when dropped (over --max-length)
};

struct Media {
  model::VisionInput images, videos;  // in prompt order
};

class SftEncoder {
 public:
  SftEncoder(const model::Tokenizer& tokenizer, const model::QwenVLConfig& config, const DataOptions& options);

  // Frames and images of the record, processed as the policy engine processes them. Throws
  // SftRecordError naming the item whose file cannot be read.
  Media LoadMedia(const SftRecord& record) const;
  // Renders, tokenises and labels the record with the grids of `media` (LoadMedia's output).
  // Throws SftRecordError (e.g. text that the tokenizer's NFC normalisation would change).
  Encoded Encode(const SftRecord& record, const Media& media) const;

  const model::ProcessorOptions& processor() const { return proc_; }
  int64_t pad_id() const { return pad_id_; }

 private:
  const model::Tokenizer& tok_;
  model::QwenVLConfig cfg_;
  DataOptions opt_;
  model::ProcessorOptions proc_;
  std::vector<int64_t> vision_ids_;  // vision start/end, image and video pads
  int64_t pad_id_ = 0;
};

// A right-padded batch (pad id in input_ids, 0 in attention_mask, -100 in labels).
struct Batch {
  model::ModelInputs inputs;
  torch::Tensor labels;  // [B, L] int64
  int64_t trained_tokens = 0;  // labels != -100 (transformers' num_items_in_batch count)
  int64_t tokens = 0;          // real (unpadded) tokens
};
Batch Collate(const std::vector<const Example*>& examples, const std::vector<const Media*>& media, int64_t pad_id);
// The batch's tensors on `device`: token ids, mask, labels and pixel values. The grids stay on the
// host, where the model reads them (rope and window indices are built there from their values).
Batch ToDevice(Batch batch, const torch::Device& device);

}  // namespace vstar::train
