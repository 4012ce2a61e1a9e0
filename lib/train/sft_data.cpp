#include "train/sft_data.hpp"

#include <CLI/CLI.hpp>

#include "model/chat_template.hpp"

namespace vstar::train {
namespace {

using Json = nlohmann::ordered_json;

std::string At(const std::string& field, size_t m) {
  return field + "[" + std::to_string(m) + "]";
}
std::string At(const std::string& field, size_t m, size_t k) {
  return At(field, m) + ".content[" + std::to_string(k) + "]";
}

SftItem ParseItem(const Json& it, const std::string& where, const std::string& role) {
  if (!it.is_object()) throw SftRecordError(where + ": must be an object");
  auto type = it.find("type");
  if (type == it.end() || !type->is_string())
    throw SftRecordError(where + ".type: must be \"text\", \"video\" or \"image\"");
  const std::string t = type->get<std::string>();
  SftItem item;
  if (t == "text") {
    auto text = it.find("text");
    if (text == it.end() || !text->is_string()) throw SftRecordError(where + ".text: must be a string");
    item.text = text->get<std::string>();
    return item;
  }
  if (role == "assistant") throw SftRecordError(where + ": assistant content must be text, not " + t);
  if (t == "video") {
    item.kind = SftItem::Kind::kVideo;
    auto frames = it.find("frames");
    if (frames == it.end() || !frames->is_array() || frames->empty())
      throw SftRecordError(where + ".frames: must be a non-empty array of frame paths");
    for (size_t f = 0; f < frames->size(); ++f) {
      if (!(*frames)[f].is_string())
        throw SftRecordError(where + ".frames[" + std::to_string(f) + "]: must be a string");
      item.frames.push_back((*frames)[f].get<std::string>());
    }
    if (auto fps = it.find("sample_fps"); fps != it.end() && !fps->is_null()) {
      if (!fps->is_number() || !(fps->get<double>() > 0))
        throw SftRecordError(where + ".sample_fps: must be a positive number");
      item.sample_fps = fps->get<double>();
    }
    return item;
  }
  if (t == "image") {
    item.kind = SftItem::Kind::kImage;
    auto path = it.find("path");
    if (path == it.end() || !path->is_string() || path->get<std::string>().empty())
      throw SftRecordError(where + ".path: must be an image file path");
    item.path = path->get<std::string>();
    return item;
  }
  throw SftRecordError(where + ".type: unknown item type \"" + t + "\" (text, video or image)");
}

std::vector<SftMessage> ParseMessages(const Json& rec, const std::string& field) {
  auto messages = rec.find(field);
  if (messages == rec.end() || !messages->is_array() || messages->empty())
    throw SftRecordError(field + ": must be a non-empty array");
  std::vector<SftMessage> out;
  bool has_assistant = false;
  for (size_t m = 0; m < messages->size(); ++m) {
    const Json& msg = (*messages)[m];
    if (!msg.is_object()) throw SftRecordError(At(field, m) + ": must be an object");
    auto role = msg.find("role");
    if (role == msg.end() || !role->is_string())
      throw SftRecordError(At(field, m) + ".role: must be \"system\", \"user\" or \"assistant\"");
    SftMessage sm;
    sm.role = role->get<std::string>();
    if (sm.role != "system" && sm.role != "user" && sm.role != "assistant")
      throw SftRecordError(At(field, m) + ".role: \"" + sm.role +
                           "\" is not system, user or assistant");
    auto content = msg.find("content");
    if (content == msg.end()) throw SftRecordError(At(field, m) + ".content: missing");
    if (content->is_string()) {
      sm.content.push_back({SftItem::Kind::kText, content->get<std::string>(), {}, 0, {}});
    } else if (content->is_array()) {
      for (size_t k = 0; k < content->size(); ++k)
        sm.content.push_back(ParseItem((*content)[k], At(field, m, k), sm.role));
    } else {
      throw SftRecordError(At(field, m) + ".content: must be a string or an array of items");
    }
    has_assistant = has_assistant || sm.role == "assistant";
    out.push_back(std::move(sm));
  }
  if (!has_assistant) throw SftRecordError(field + ": no assistant turn (nothing to train on)");
  return out;
}

std::string ParseId(const Json& rec) {
  if (!rec.is_object()) throw SftRecordError("record must be a JSON object");
  auto id = rec.find("id");
  if (id == rec.end() || !(id->is_string() || id->is_number_integer()))
    throw SftRecordError("id: must be a string or an integer");
  return id->is_string() ? id->get<std::string>() : id->dump();
}

}  // namespace

SftRecord ParseSftRecord(const Json& rec) {
  std::string id = ParseId(rec);
  return {std::move(id), ParseMessages(rec, "messages"), "messages"};
}

std::vector<SftRecord> ParseSftConversations(const Json& rec) {
  std::vector<SftRecord> out{ParseSftRecord(rec)};
  if (rec.contains("turn2_messages"))
    out.push_back({out.front().id, ParseMessages(rec, "turn2_messages"), "turn2_messages"});
  return out;
}

void DataOptions::Register(CLI::App& app) {
  app.add_option("--train-on", train_on,
                 "Tokens trained: assistant (assistant contents and their <|im_end|>) or prompt (every "
                 "token but vision tokens, as the authors' SFT)")
      ->check(CLI::IsMember({"assistant", "prompt"}))
      ->capture_default_str();
  app.add_option("--max-length", max_length, "Longest tokenised conversation (0 = no limit)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 30))
      ->capture_default_str();
  app.add_option("--over-length", over_length, "A conversation longer than --max-length: truncate or drop")
      ->check(CLI::IsMember({"truncate", "drop"}))
      ->capture_default_str();
  app.add_option("--fps", default_fps, "Frame rate of a video item without sample_fps")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--video-max-pixels", video_max_pixels, "Largest frame area fed to the vision tower")
      ->check(CLI::Range(int64_t{3136}, int64_t{1} << 40))
      ->capture_default_str();
}

TrainOn DataOptions::train_on_mode() const {
  if (train_on == "assistant") return TrainOn::kAssistant;
  if (train_on == "prompt") return TrainOn::kPrompt;
  throw std::invalid_argument("--train-on must be assistant or prompt, not " + train_on);
}

OverLength DataOptions::over_length_mode() const {
  if (over_length == "truncate") return OverLength::kTruncate;
  if (over_length == "drop") return OverLength::kDrop;
  throw std::invalid_argument("--over-length must be truncate or drop, not " + over_length);
}

int64_t Example::trained_tokens() const {
  return std::count_if(labels.begin(), labels.end(), [](int64_t l) { return l != -100; });
}

SftEncoder::SftEncoder(const model::Tokenizer& tokenizer, const model::QwenVLConfig& config,
                       const DataOptions& options)
    : tok_(tokenizer), cfg_(config), opt_(options) {
  opt_.train_on_mode();
  opt_.over_length_mode();
  // The policy engine's processor settings (PolicyEngine::Load), so training sees what inference sees.
  proc_.patch_size = cfg_.vision.patch_size;
  proc_.merge_size = cfg_.vision.spatial_merge_size;
  proc_.temporal_patch_size = cfg_.vision.temporal_patch_size;
  proc_.video_max_pixels = opt_.video_max_pixels;
  proc_.video_min_pixels = std::min(proc_.video_min_pixels, opt_.video_max_pixels);
  vision_ids_ = {cfg_.vision_start_token_id, cfg_.vision_end_token_id, cfg_.image_token_id, cfg_.video_token_id};
  auto end = tok_.TokenToId("<|im_end|>");
  if (!end) throw std::runtime_error("the tokenizer has no <|im_end|> token");
  pad_id_ = tok_.pad_token_id().value_or(*end);
}

Media SftEncoder::LoadMedia(const SftRecord& rec) const {
  Media media;
  for (size_t m = 0; m < rec.messages.size(); ++m) {
    const auto& content = rec.messages[m].content;
    for (size_t k = 0; k < content.size(); ++k) {
      const SftItem& it = content[k];
      if (it.kind == SftItem::Kind::kText) continue;
      try {
        if (it.kind == SftItem::Kind::kVideo) {
          std::vector<std::filesystem::path> files(it.frames.begin(), it.frames.end());
          media.videos.Append(model::ProcessVideoFiles(files, it.sample_fps > 0 ? it.sample_fps : opt_.default_fps, proc_));
        } else {
          media.images.Append(model::ProcessImage(model::LoadImageRgb(it.path), proc_));
        }
      } catch (const std::exception& e) {
        throw SftRecordError(At(rec.field, m, k) +
                             (it.kind == SftItem::Kind::kVideo ? ".frames: " : ".path: ") +
                             e.what());
      }
    }
  }
  return media;
}

namespace {

std::vector<model::GridTHW> Grids(const model::VisionInput& v) {
  std::vector<model::GridTHW> out;
  if (v.rows() == 0) return out;
  auto g = v.grid_thw.to(torch::kCPU, torch::kInt64).contiguous();
  for (int64_t r = 0; r < g.size(0); ++r)
    out.push_back({g[r][0].item<int64_t>(), g[r][1].item<int64_t>(), g[r][2].item<int64_t>()});
  return out;
}

model::ChatMessage ToChat(const SftMessage& m) {
  std::vector<model::ChatItem> items;
  for (const auto& it : m.content) {
    switch (it.kind) {
      case SftItem::Kind::kText: items.push_back(model::ChatItem::Text(it.text)); break;
      case SftItem::Kind::kVideo: items.push_back(model::ChatItem::Video()); break;
      case SftItem::Kind::kImage: items.push_back(model::ChatItem::Image()); break;
    }
  }
  return model::ChatMessage::List(m.role, std::move(items));
}

}  // namespace

Encoded SftEncoder::Encode(const SftRecord& rec, const Media& media) const {
  const auto image_grids = Grids(media.images), video_grids = Grids(media.videos);
  const int64_t merge = cfg_.vision.spatial_merge_size;
  // The rendering of messages [0, k) is a prefix of the rendering of [0, k+1) (the template appends
  // one block per message), so each assistant turn's byte span is read off consecutive prefixes.
  std::vector<model::ChatMessage> chat;
  size_t images = 0, videos = 0;
  std::string prev;  // rendering of the messages so far, vision pads expanded
  std::vector<std::pair<size_t, size_t>> trained;  // byte spans [begin, end) of the full text
  for (const auto& m : rec.messages) {
    chat.push_back(ToChat(m));
    for (const auto& it : m.content) {
      images += it.kind == SftItem::Kind::kImage;
      videos += it.kind == SftItem::Kind::kVideo;
    }
    if (images > image_grids.size() || videos > video_grids.size())
      throw SftRecordError("the record's media do not match its vision items (LoadMedia first)");
    std::string cur = model::ExpandVisionPads(
        model::RenderChat(chat), std::vector<model::GridTHW>(image_grids.begin(), image_grids.begin() + images),
        std::vector<model::GridTHW>(video_grids.begin(), video_grids.begin() + videos), merge);
    if (cur.compare(0, prev.size(), prev) != 0) throw std::logic_error("chat rendering is not prefix-stable");
    if (m.role == "assistant") {
      // Skip "<|im_start|>assistant\n"; keep the content and "<|im_end|>", not the newline after it.
      const size_t header = std::string("<|im_start|>assistant\n").size();
      trained.emplace_back(prev.size() + header, cur.size() - 1);
    }
    prev = std::move(cur);
  }
  if (images != image_grids.size() || videos != video_grids.size())
    throw SftRecordError("the record's media do not match its vision items");

  Example ex;
  ex.id = rec.id;
  ex.input_ids = tok_.Encode(prev);
  // Byte offsets of every token; byte-level BPE reproduces the text exactly unless NFC changed it.
  std::vector<size_t> begin(ex.input_ids.size() + 1, 0);
  std::string joined;
  joined.reserve(prev.size());
  for (size_t i = 0; i < ex.input_ids.size(); ++i) {
    begin[i] = joined.size();
    joined += tok_.TokenBytes(ex.input_ids[i]);
  }
  begin[ex.input_ids.size()] = joined.size();
  if (joined != prev)
    throw SftRecordError("messages: the text is not in Unicode NFC form (the tokenizer would change it); "
                         "normalise it first");
  const TrainOn mode = opt_.train_on_mode();
  ex.labels.assign(ex.input_ids.size(), -100);
  for (size_t i = 0; i < ex.input_ids.size(); ++i) {
    const int64_t id = ex.input_ids[i];
    if (mode == TrainOn::kPrompt) {
      if (std::find(vision_ids_.begin(), vision_ids_.end(), id) == vision_ids_.end()) ex.labels[i] = id;
      continue;
    }
    // A token is trained when its bytes overlap an assistant span (as transformers' assistant
    // masks do with the fast tokenizer's offsets).
    for (const auto& [b, e] : trained)
      if (begin[i] < e && begin[i + 1] > b) ex.labels[i] = id;
  }

  Encoded out;
  const int64_t n = static_cast<int64_t>(ex.input_ids.size());
  if (opt_.max_length > 0 && n > opt_.max_length) {
    if (opt_.over_length_mode() == OverLength::kDrop) {
      out.dropped = std::to_string(n) + " tokens > --max-length " + std::to_string(opt_.max_length);
      return out;
    }
    // Truncation may not cut a vision block: its features would not match its tokens.
    int64_t last_vision = -1;
    for (int64_t i = 0; i < n; ++i)
      if (std::find(vision_ids_.begin(), vision_ids_.end(), ex.input_ids[i]) != vision_ids_.end()) last_vision = i;
    if (last_vision >= opt_.max_length) {
      out.dropped = std::to_string(n) + " tokens > --max-length " + std::to_string(opt_.max_length) +
                    " and truncating would cut a video or image";
      return out;
    }
    ex.input_ids.resize(opt_.max_length);
    ex.labels.resize(opt_.max_length);
    ex.truncated = true;
    if (ex.trained_tokens() == 0) {
      out.dropped = "no trained token left after truncating to --max-length " + std::to_string(opt_.max_length);
      return out;
    }
  }
  out.example = std::move(ex);
  return out;
}

Batch Collate(const std::vector<const Example*>& examples, const std::vector<const Media*>& media, int64_t pad_id) {
  if (examples.empty() || examples.size() != media.size()) throw std::invalid_argument("Collate: bad batch");
  size_t L = 0;
  for (const auto* e : examples) L = std::max(L, e->input_ids.size());
  const int64_t B = static_cast<int64_t>(examples.size());
  Batch b;
  b.inputs.input_ids = torch::full({B, static_cast<int64_t>(L)}, pad_id, torch::kInt64);
  b.inputs.attention_mask = torch::zeros({B, static_cast<int64_t>(L)}, torch::kInt64);
  b.labels = torch::full({B, static_cast<int64_t>(L)}, -100, torch::kInt64);
  for (int64_t i = 0; i < B; ++i) {
    const auto& e = *examples[i];
    const int64_t n = static_cast<int64_t>(e.input_ids.size());
    b.inputs.input_ids[i].narrow(0, 0, n).copy_(torch::tensor(e.input_ids, torch::kInt64));
    b.inputs.attention_mask[i].narrow(0, 0, n).fill_(1);
    b.labels[i].narrow(0, 0, n).copy_(torch::tensor(e.labels, torch::kInt64));
    b.trained_tokens += e.trained_tokens();
    b.tokens += n;
    b.inputs.images.Append(media[i]->images);
    b.inputs.videos.Append(media[i]->videos);
  }
  return b;
}

Batch ToDevice(Batch batch, const torch::Device& device) {
  if (device.is_cpu()) return batch;
  auto to = [&](torch::Tensor& t) {
    if (t.defined()) t = t.to(device);
  };
  to(batch.inputs.input_ids);
  to(batch.inputs.attention_mask);
  to(batch.labels);
  to(batch.inputs.images.pixel_values);
  to(batch.inputs.videos.pixel_values);
  return batch;
}

}  // namespace vstar::train
