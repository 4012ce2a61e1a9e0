// Training sees each turn in the context inference gives it: vs-decompose's SFT record, tokenised
// by the SFT encoder, must begin with exactly the tokens the policy engine prompts with for that
// turn (the engine renders, tokenises and processes the video on its own path), for a turn 2 asked
// in a fresh context (its own conversation, "turn2_messages") and for one that continues turn 1.
#include "policy/decompose.hpp"
#include "policy/engine.hpp"
#include "recog/profile.hpp"
#include "train/sft_data.hpp"
#include "train_fixture.hpp"

using namespace vstar;
using vstar::io::Json;

namespace {

Json TinyVideo(int first) {
  Json paths = Json::array();
  for (int i = first; i < first + 2; ++i)
    paths.push_back(
        (test::FixtureDir() / "model/tiny/media" / ("vid4_" + std::to_string(i) + ".png"))
            .string());
  return {{"paths", paths}, {"sample_fps", 2.0}};
}

model::ChatMessage User(const std::string& text) {
  model::ChatMessage m{"user", {}, {model::ChatItem::Video(), model::ChatItem::Text(text)}, true};
  return m;
}

struct Setup {
  std::unique_ptr<policy::PolicyEngine> engine;
  model::Tokenizer tok = model::Tokenizer::Load(test::TinyModelDir());
  model::QwenVLConfig cfg = model::LoadConfig(test::TinyModelDir());
  train::DataOptions data;
  Setup() {
    policy::PolicyOptions po;
    po.model_dir = test::TinyModelDir().string();
    po.dtype = "fp32";
    po.video_max_pixels = test::kTinyVideoPixels;
    engine = policy::PolicyEngine::Load(po, torch::kCPU);
    data.video_max_pixels = test::kTinyVideoPixels;
  }
  // The engine's prompt for a turn (ending in the generation prompt), as vs-policy sends it.
  std::vector<int64_t> Prompt(const policy::Turn& turn) const {
    policy::Conversation conv{turn.messages, {}};
    for (const auto& v : turn.videos) conv.videos.push_back(engine->VideoFromFrames(v));
    auto enc = engine->Encode({conv});
    return test::ToVector(enc.inputs.input_ids[0]);
  }
  train::Example Train(const train::SftRecord& rec) const {
    train::SftEncoder encoder(tok, cfg, data);
    auto encoded = encoder.Encode(rec, encoder.LoadMedia(rec));
    REQUIRE(encoded.example);
    return *encoded.example;
  }
};

// The tokens trained after the prompt are the answer's and its end-of-turn token, and nothing
// before.
void CheckContinuation(const train::Example& ex, const std::vector<int64_t>& prompt,
                       const model::Tokenizer& tok, const std::string& answer) {
  REQUIRE(ex.input_ids.size() > prompt.size());
  CHECK(std::vector<int64_t>(ex.input_ids.begin(),
                             ex.input_ids.begin() + static_cast<long>(prompt.size())) == prompt);
  std::vector<int64_t> trained;
  for (size_t i = prompt.size(); i < ex.labels.size(); ++i)
    if (ex.labels[i] != -100) trained.push_back(ex.labels[i]);
  CHECK(tok.Decode(trained, false) == answer + "<|im_end|>");
}

}  // namespace

TEST_CASE("sft records train each turn in its inference context (fresh and continued turn 2)",
          "[train][sft-data]") {
  Setup s;
  const std::string a1 = "<pose_estimation>no</pose_estimation>", a2 = "<answer>wave</answer>";
  policy::Turn turn1{{model::ChatMessage::Plain("system", "Be brief."), User("Which helpers?")},
                     {TinyVideo(0)}};

  SECTION("fresh: turn 2 is a conversation of its own, without the turn-1 exchange") {
    recog::Profile profile;
    profile.turn2_context = "fresh";
    policy::Turn turn2{{User("Which action?")}, {TinyVideo(2)}};
    auto sft = policy::SftMessages(profile, turn1, a1, turn2, a2);
    REQUIRE(sft.turn2_messages.is_array());
    auto convs = train::ParseSftConversations(
        Json{{"id", "v"}, {"messages", sft.messages}, {"turn2_messages", sft.turn2_messages}});
    REQUIRE(convs.size() == 2);
    CheckContinuation(s.Train(convs[0]), s.Prompt(turn1), s.tok, a1);
    auto ex2 = s.Train(convs[1]);
    CheckContinuation(ex2, s.Prompt(turn2), s.tok, a2);
    // Only the chain is trained in the turn-2 sequence; the turn-1 answer is not in it at all.
    CHECK(s.tok.Decode(ex2.input_ids, false).find(a1) == std::string::npos);
  }
  SECTION("continued-video: one conversation whose turn 2 follows the turn-1 exchange") {
    recog::Profile profile;
    profile.turn2_context = "continued-video";
    policy::Turn turn2{{turn1.messages[0], turn1.messages[1],
                        model::ChatMessage::Plain("assistant", a1), User("Which action?")},
                       {TinyVideo(0), TinyVideo(2)}};
    auto sft = policy::SftMessages(profile, turn1, a1, turn2, a2);
    CHECK(sft.turn2_messages.is_null());
    auto convs = train::ParseSftConversations(Json{{"id", "v"}, {"messages", sft.messages}});
    REQUIRE(convs.size() == 1);
    auto ex = s.Train(convs[0]);
    CheckContinuation(ex, s.Prompt(turn2), s.tok, a2);
  }
}

TEST_CASE("sft data: turn2_messages is validated like messages and names its own field",
          "[train][sft-data]") {
  Json rec = test::GoldenRecords()[0];
  Json j = {{"id", "x"},
            {"messages", Json::array({rec["messages"][0], rec["messages"][1], rec["messages"][2]})},
            {"turn2_messages", Json::array({rec["messages"][3], rec["messages"][4]})}};
  CHECK(train::ParseSftConversations(j).size() == 2);
  auto error = [&](auto&& edit) {
    Json k = j;
    edit(k);
    try {
      train::ParseSftConversations(k);
    } catch (const train::SftRecordError& e) {
      return std::string(e.what());
    }
    return std::string("<no error>");
  };
  CHECK(error([](Json& k) {
          k["turn2_messages"][0]["role"] = "bot";
        }).find("turn2_messages[0].role") == 0);
  CHECK(error([](Json& k) {
          k["turn2_messages"] = Json::array({k["turn2_messages"][0]});
        }).find("turn2_messages: no assistant turn") == 0);
  CHECK(error([](Json& k) {
          k["turn2_messages"] = Json::object();
        }).find("turn2_messages: must be a non-empty array") == 0);
}
