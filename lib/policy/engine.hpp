#pragma once
// The policy engine as vs-policy (and later the two-turn tool-augmented policy) uses it: a Qwen2.5-VL
// checkpoint, its tokenizer and chat template, the processor and the generator, behind one call that
// turns conversations (chat messages + videos) into responses. Prompt plumbing lives here; the
// network lives in lib/model.
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "io/record.hpp"
#include "model/chat_template.hpp"
#include "model/generate.hpp"
#include "model/processor.hpp"
#include "model/qwen_vl.hpp"
#include "model/tokenizer.hpp"
#include "policy/prompt.hpp"
#include "policy/turn.hpp"

namespace CLI {
class App;
}

namespace vstar::policy {

struct PolicyOptions {
  std::string model_dir;       // --model: HF layout (config.json, safetensors, tokenizer files)
  std::string template_file;   // --template
  int64_t max_new_tokens = 256;
  double temperature = 0.0;    // 0 = greedy
  double top_p = 1.0;
  int64_t top_k = 0;
  double repetition_penalty = 1.0;
  uint64_t seed = 0;
  size_t batch = 1;
  std::string dtype = "bf16";  // fp32 | bf16
  std::string temporal_index_mode = "float_then_trunc";
  double default_fps = 2.0;    // when a record's frames carry no sample_fps
  int64_t video_max_pixels = 768 * 28 * 28;

  void Register(CLI::App& app);
  model::SamplingOptions Sampling() const;
  // The sampling settings given on the command line ("temperature", "top_p", "top_k",
  // "max_new_tokens", "repetition_penalty"): EngineResponder lets them override a profile's.
  static std::vector<std::string> GivenSampling(const CLI::App& app);
};

// Resolves --device: "auto" picks CUDA when available.
torch::Device ResolveDevice(const std::string& device);

// One conversation to answer: chat messages whose video items are filled, in order, by `videos`.
struct Conversation {
  std::vector<model::ChatMessage> messages;
  std::vector<model::VisionInput> videos;
};

struct BatchTiming {
  double prefill_seconds = 0, decode_seconds = 0;
  int64_t batch = 0, decode_steps = 0;
};

class PolicyEngine {
 public:
  // Throws with a clear message when the directory lacks config/weights/tokenizer.
  static std::unique_ptr<PolicyEngine> Load(const PolicyOptions& options, const torch::Device& device);

  // Answers the conversations together (one left-padded batch).
  std::vector<Response> Respond(const std::vector<Conversation>& conversations, BatchTiming* timing = nullptr) const;
  // The same with sampling settings other than --temperature/--top-p/... (the two-turn policy samples
  // each turn as its profile says); stop and pad tokens are the engine's.
  std::vector<Response> Respond(const std::vector<Conversation>& conversations, model::SamplingOptions sampling,
                                BatchTiming* timing = nullptr) const;

  // The two halves of Respond, for callers that keep the prompt batch (GRPO trains on the very
  // inputs it sampled from): the conversations rendered, tokenised and left-padded into one batch
  // with their vision items, and generation from such a batch.
  struct Encoded {
    model::ModelInputs inputs;
    std::vector<int64_t> prompt_tokens;  // per row, unpadded
  };
  Encoded Encode(const std::vector<Conversation>& conversations) const;
  std::vector<Response> Generate(const Encoded& batch, model::SamplingOptions sampling,
                                 BatchTiming* timing = nullptr) const;
  int64_t pad_id() const { return pad_id_; }
  // A response's text from its generated ids: a final stop id dropped, special tokens skipped.
  std::string Text(std::vector<int64_t> tokens) const;

  // Frames of a record's "frames" field (vs-decode), processed as one video.
  model::VisionInput VideoFromFrames(const io::Json& frames) const;

  const model::QwenVL& model() const { return *model_; }
  const model::Tokenizer& tokenizer() const { return *tokenizer_; }
  const PolicyOptions& options() const { return opt_; }

 private:
  PolicyOptions opt_;
  std::unique_ptr<model::QwenVL> model_;
  std::unique_ptr<model::Tokenizer> tokenizer_;
  model::ProcessorOptions proc_;
  std::vector<int64_t> stop_ids_;
  int64_t pad_id_ = 0;
};

// The policy engine as a responder: each turn's sampling is the profile's, except for the settings
// given on the command line (names in `given`, e.g. "max_new_tokens"), which take PolicyOptions' value.
class EngineResponder : public Responder {
 public:
  EngineResponder(const PolicyEngine& engine, std::vector<std::string> given)
      : engine_(engine), given_(std::move(given)) {}
  std::vector<Response> Respond(const std::vector<Turn>& turns, const recog::Sampling& sampling) override;
  model::SamplingOptions Effective(const recog::Sampling& sampling) const;

 private:
  const PolicyEngine& engine_;
  std::vector<std::string> given_;
};

// vs-policy's per-batch step: renders each record's prompt, answers the batch and sets "policy".
// Records that cannot be prepared (no frames, missing template field, unreadable frame) get an error.
class TemplatePolicy {
 public:
  TemplatePolicy(const PolicyEngine& engine, PromptTemplate prompt) : engine_(engine), prompt_(std::move(prompt)) {}
  void Run(std::span<io::Record*> batch) const;

 private:
  const PolicyEngine& engine_;
  PromptTemplate prompt_;
};

}  // namespace vstar::policy
