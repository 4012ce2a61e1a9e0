// SFT records: validation with per-field errors, tokenisation with the chat template, the label mask
// (against tools/golden/sft_goldens.py's independent construction and by decoding what is trained),
// --max-length and collation.
#include "model/config.hpp"
#include "model/tokenizer.hpp"
#include "train/sft_data.hpp"
#include "train_fixture.hpp"

using namespace vstar;
using namespace vstar::train;
using vstar::io::Json;

namespace {

struct Tiny {
  model::Tokenizer tok = model::Tokenizer::Load(test::TinyModelDir());
  model::QwenVLConfig cfg = model::LoadConfig(test::TinyModelDir());
};
const Tiny& T() {
  static Tiny t;
  return t;
}

DataOptions Opts(const std::string& train_on = "assistant") {
  DataOptions d;
  d.train_on = train_on;
  d.video_max_pixels = test::kTinyVideoPixels;
  return d;
}

Encoded EncodeJson(const Json& j, const DataOptions& d = Opts()) {
  SftEncoder enc(T().tok, T().cfg, d);
  auto rec = ParseSftRecord(j);
  return enc.Encode(rec, enc.LoadMedia(rec));
}

std::string ErrorOf(const Json& j, const DataOptions& d = Opts()) {
  try {
    EncodeJson(j, d);
  } catch (const SftRecordError& e) {
    return e.what();
  }
  return "<no error>";
}

}  // namespace

TEST_CASE("sft data: ids and labels equal the golden construction (assistant and prompt modes)", "[train][sft-data]") {
  auto golden = model::SafetensorsFile::Open(test::TrainFixtures() / "golden.safetensors");
  auto records = test::GoldenRecords();
  REQUIRE(records.size() == 2);
  for (size_t k = 0; k < records.size(); ++k) {
    INFO("record " << k);
    auto a = EncodeJson(records[k]);
    REQUIRE(a.example);
    CHECK(a.example->id == records[k]["id"].get<std::string>());
    CHECK(a.example->input_ids == test::ToVector(golden->Get("ids." + std::to_string(k))));
    CHECK(a.example->labels == test::ToVector(golden->Get("labels." + std::to_string(k))));
    auto p = EncodeJson(records[k], Opts("prompt"));
    REQUIRE(p.example);
    CHECK(p.example->labels == test::ToVector(golden->Get("labels_prompt." + std::to_string(k))));
  }
}

TEST_CASE("sft data: exactly the assistant contents and their <|im_end|> are trained", "[train][sft-data]") {
  auto rec = test::GoldenRecords()[0];
  auto e = EncodeJson(rec);
  REQUIRE(e.example);
  const auto& ids = e.example->input_ids;
  const auto& labels = e.example->labels;
  // Contiguous trained runs, decoded: one per assistant turn, content + <|im_end|>.
  std::vector<std::string> runs;
  std::vector<int64_t> cur;
  for (size_t i = 0; i <= ids.size(); ++i) {
    if (i < ids.size() && labels[i] != -100) {
      CHECK(labels[i] == ids[i]);
      cur.push_back(ids[i]);
    } else if (!cur.empty()) {
      runs.push_back(T().tok.Decode(cur));
      cur.clear();
    }
  }
  REQUIRE(runs.size() == 2);
  CHECK(runs[0] == rec["messages"][2]["content"][0]["text"].get<std::string>() + "<|im_end|>");
  CHECK(runs[1] == rec["messages"][4]["content"][0]["text"].get<std::string>() + "<|im_end|>");
  // Nothing of the system/user turns, no vision token, no assistant header is trained.
  const int64_t video = T().cfg.video_token_id;
  for (size_t i = 0; i < ids.size(); ++i)
    if (ids[i] == video || ids[i] == T().cfg.vision_start_token_id) CHECK(labels[i] == -100);
  // --train-on prompt trains all but the vision tokens.
  auto p = EncodeJson(rec, Opts("prompt"));
  for (size_t i = 0; i < ids.size(); ++i) {
    const bool vision = ids[i] == video || ids[i] == T().cfg.vision_start_token_id ||
                        ids[i] == T().cfg.vision_end_token_id || ids[i] == T().cfg.image_token_id;
    CHECK((p.example->labels[i] == -100) == vision);
  }
}

TEST_CASE("sft data: invalid records name the message and the field", "[train][sft-data]") {
  const auto good = test::GoldenRecords()[0];
  auto with = [&](auto&& edit) {
    Json j = good;
    edit(j);
    return ErrorOf(j);
  };
  CHECK(ErrorOf(good) == "<no error>");
  CHECK(with([](Json& j) { j.erase("id"); }).find("id:") == 0);
  CHECK(with([](Json& j) { j["messages"] = Json::array(); }).find("messages:") == 0);
  CHECK(with([](Json& j) { j["messages"][2]["role"] = "bot"; }).find("messages[2].role") == 0);
  CHECK(with([](Json& j) { j["messages"][1]["content"][1].erase("text"); }).find("messages[1].content[1].text") == 0);
  CHECK(with([](Json& j) { j["messages"][1]["content"][0]["frames"] = Json::array(); })
            .find("messages[1].content[0].frames") == 0);
  CHECK(with([](Json& j) { j["messages"][1]["content"][0]["sample_fps"] = -1; })
            .find("messages[1].content[0].sample_fps") == 0);
  CHECK(with([](Json& j) { j["messages"][1]["content"][0]["type"] = "audio"; })
            .find("messages[1].content[0].type") == 0);
  CHECK(with([](Json& j) { j["messages"][4]["content"] = Json::array({{{"type", "image"}, {"path", "x.png"}}}); })
            .find("messages[4].content[0]: assistant content must be text") == 0);
  // No assistant turn.
  CHECK(with([](Json& j) { j["messages"] = Json::array({j["messages"][0], j["messages"][1]}); })
            .find("no assistant turn") != std::string::npos);
  // A frame that cannot be read names its item.
  std::string unreadable =
      with([](Json& j) { j["messages"][1]["content"][0]["frames"][2] = "/nonexistent/frame.png"; });
  CHECK(unreadable.find("messages[1].content[0].frames: ") == 0);
  CHECK(unreadable.find("/nonexistent/frame.png") != std::string::npos);
}

TEST_CASE("sft data: --max-length drops or truncates when no video is cut", "[train][sft-data]") {
  const auto rec = test::GoldenRecords()[0];
  const auto full = EncodeJson(rec);
  REQUIRE(full.example);
  const int64_t n = static_cast<int64_t>(full.example->input_ids.size());
  DataOptions d = Opts();
  d.max_length = n;
  CHECK(EncodeJson(rec, d).example);  // exactly at the limit: kept whole
  d.max_length = n - 5;
  auto dropped = EncodeJson(rec, d);
  CHECK(!dropped.example);
  CHECK(dropped.dropped.find("--max-length " + std::to_string(n - 5)) != std::string::npos);
  d.over_length = "truncate";
  auto cut = EncodeJson(rec, d);
  REQUIRE(cut.example);
  CHECK(cut.example->truncated);
  CHECK(cut.example->input_ids ==
        std::vector<int64_t>(full.example->input_ids.begin(), full.example->input_ids.begin() + (n - 5)));
  // Cutting inside the video block is refused.
  d.max_length = 20;
  auto through_video = EncodeJson(rec, d);
  CHECK(!through_video.example);
  CHECK(through_video.dropped.find("would cut a video") != std::string::npos);
}

TEST_CASE("sft data: collation pads on the right with masked labels", "[train][sft-data]") {
  auto records = test::GoldenRecords();
  SftEncoder enc(T().tok, T().cfg, Opts());
  std::vector<Example> ex;
  std::vector<Media> media;
  for (auto& r : records) {
    auto rec = ParseSftRecord(r);
    media.push_back(enc.LoadMedia(rec));
    ex.push_back(*enc.Encode(rec, media.back()).example);
  }
  Batch b = Collate({&ex[0], &ex[1]}, {&media[0], &media[1]}, enc.pad_id());
  const int64_t L = std::max(ex[0].input_ids.size(), ex[1].input_ids.size());
  REQUIRE(b.inputs.input_ids.sizes() == torch::IntArrayRef({2, L}));
  CHECK(b.trained_tokens == ex[0].trained_tokens() + ex[1].trained_tokens());
  CHECK(b.tokens == static_cast<int64_t>(ex[0].input_ids.size() + ex[1].input_ids.size()));
  const int64_t n1 = static_cast<int64_t>(ex[1].input_ids.size());
  CHECK(b.inputs.attention_mask[1].narrow(0, n1, L - n1).sum().item<int64_t>() == 0);
  CHECK((b.labels[1].narrow(0, n1, L - n1) == -100).all().item<bool>());
  CHECK((b.inputs.input_ids[1].narrow(0, n1, L - n1) == enc.pad_id()).all().item<bool>());
  CHECK(b.inputs.videos.grid_thw.size(0) == 2);
}
