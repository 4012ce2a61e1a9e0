// vs-decompose: teacher chains as SFT records. A scripted teacher (in process) and a loopback
// OpenAI-compatible endpoint (through the openai plugin and the real binary) write good and bad
// chains: verification and error records, retries with other seeds, resume, alignment of every output
// with its own input across batch boundaries, the clean profile's leak check, the authors' teacher
// templates byte for byte, and the output training with vs-sft.
#include <fstream>
#include <functional>
#include <regex>

#include <nlohmann/json.hpp>

#include "io/cache.hpp"
#include "io/record.hpp"
#include "net/loopback.hpp"
#include "policy/decompose.hpp"
#include "recog/prompt.hpp"
#include "recog/text.hpp"
#include "support.hpp"

using namespace vstar;
using Json = nlohmann::ordered_json;
namespace fs = std::filesystem;

namespace {

const char* kCandidates = "brush_hair\ncartwheel\nkick_ball\nwave\n";

// The tiny model's frames (84x56 PNG), so the pipeline test can train on what vs-decompose wrote.
Json TinyFrames() {
  Json paths = Json::array();
  for (int i = 0; i < 4; ++i)
    paths.push_back((test::FixtureDir() / "model/tiny/media" / ("vid4_" + std::to_string(i) + ".png")).string());
  return {{"paths", paths}, {"sample_fps", 2.0}};
}

// Frames large enough for the HOG detector (a bright upright figure on a dark background, PPM).
Json Frames() {
  static const Json frames = [] {
    fs::path dir = test::TempDir("decompose-frames");
    Json paths = Json::array();
    const int w = 192, h = 160;
    for (int f = 0; f < 4; ++f) {
      auto p = dir / ("f" + std::to_string(f) + ".ppm");
      std::ofstream o(p, std::ios::binary);
      o << "P6\n" << w << " " << h << "\n255\n";
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
          bool body = x > 80 + f && x < 110 + f && y > 20 && y < 150;
          unsigned char v = body ? 220 : static_cast<unsigned char>((x + y + 7 * f) % 40);
          const unsigned char px[3] = {v, static_cast<unsigned char>(v / 2 + 10), v};
          o.write(reinterpret_cast<const char*>(px), 3);
        }
      paths.push_back(p.string());
    }
    return Json{{"paths", paths}, {"sample_fps", 2.0}};
  }();
  return frames;
}

Json Rec(const std::string& id, const std::string& label) { return {{"id", id}, {"label", label}, {"frames", Frames()}}; }

std::string TurnOne(bool detect) {
  return std::string("<think>\n[1] Scene: one person moving.\n[2] Helper needs: boxes only.\n</think>\n"
                     "<pose_estimation>no</pose_estimation>\n<person_detection>") +
         (detect ? "yes" : "no") +
         "</person_detection>\n<action_explanation>no</action_explanation>\n<video_description>no</video_description>";
}

std::string Chain(const std::string& tag, const std::string& answer) {
  return "<think>\n[1] Body-part movements:\n- Arms: move " + tag + "\n[2] Candidate labels:\n- " + answer +
         ": fits " + tag + "\n- wave: arms too\n[3] Candidate comparison:\n- " + answer + ": 9 - matches " + tag +
         "\n- wave: 3 - no\n</think>\n<answer>" + answer + "</answer>";
}

// All text of a request's last user message.
std::string LastUserText(const plugin::TeachRequest& r) {
  for (auto it = r.messages.rbegin(); it != r.messages.rend(); ++it) {
    if (it->role != "user") continue;
    std::string out;
    for (const auto& c : it->content)
      if (c.type == plugin::ContentItem::Type::kText) out += c.text;
    return out;
  }
  return {};
}

class ScriptedTeacher : public plugin::Teacher {
 public:
  std::function<std::string(const plugin::TeachRequest&)> script;
  std::vector<std::vector<plugin::TeachRequest>> calls;
  plugin::Info info() const override { return {"scripted", plugin::Kind::kTeacher, "0", "test", {}}; }
  std::vector<plugin::TeachReply> Teach(const std::vector<plugin::TeachRequest>& requests) override {
    calls.push_back(requests);
    std::vector<plugin::TeachReply> out;
    for (const auto& r : requests) out.push_back({script(r), "scripted", ""});
    return out;
  }
};

struct Harness {
  policy::DecomposeOptions opt;
  tools::ToolRunnerOptions runner_opt;
  std::unique_ptr<tools::ToolRunner> runner;
  ScriptedTeacher teacher;
  std::unique_ptr<policy::Decomposer> dec;

  explicit Harness(const std::string& profile = "clean", const fs::path& templates = {}, bool leak_check = true,
                   const std::string& candidates = kCandidates) {
    opt.retries = 2;
    opt.seed = 40;
    opt.leak_check = leak_check;
    runner = std::make_unique<tools::ToolRunner>(runner_opt, "cpu");
    auto student = recog::LoadProfile(profile, templates);
    auto prompts = policy::LoadTeacherPrompts(student, "", templates.string());
    dec = std::make_unique<policy::Decomposer>(teacher, std::move(student), std::move(prompts),
                                               recog::ParseClassList(candidates, "inline"), recog::ToolMode::kDynamic,
                                               *runner, opt);
  }
  // Runs the records in batches of `batch`, as io::RunStream hands them over.
  std::vector<Json> Run(const std::vector<Json>& in, size_t batch = 8) {
    std::vector<io::Record> recs;
    for (size_t i = 0; i < in.size(); ++i) recs.emplace_back(in[i].dump(), "test", i + 1);
    for (size_t i = 0; i < recs.size(); i += batch) {
      std::vector<io::Record*> b;
      for (size_t k = i; k < std::min(recs.size(), i + batch); ++k) b.push_back(&recs[k]);
      dec->Run(std::span<io::Record*>(b));
    }
    std::vector<Json> out;
    for (const auto& r : recs) out.push_back(Json::parse(r.text()));
    return out;
  }
};

std::string Text(const Json& message) {
  std::string out;
  for (const auto& c : message["content"])
    if (c["type"] == "text") out += c["text"].get<std::string>();
  return out;
}

}  // namespace

TEST_CASE("a verified chain becomes an SFT record, and the teacher sees the student's turns plus the truth",
          "[policy][decompose]") {
  Harness h;
  h.teacher.script = [](const plugin::TeachRequest& r) {
    return r.stage == "turn1" ? TurnOne(true) : Chain("forward", r.label);
  };
  auto out = h.Run({Rec("v1", "Kick Ball")});
  REQUIRE(out.size() == 1);
  const Json& o = out[0];
  INFO(o.dump());
  REQUIRE_FALSE(o.contains("error"));
  CHECK(o["label"] == "Kick Ball");  // input fields pass through
  CHECK(o.contains("frames"));
  // The clean profile asks turn 2 in a fresh context, so the record holds two conversations: turn 1
  // with its answer, and turn 2 alone with the chain, as inference asks each.
  const Json& m = o["messages"];
  REQUIRE(m.size() == 3);
  REQUIRE(o.contains("turn2_messages"));
  const Json& m2 = o["turn2_messages"];
  REQUIRE(m2.size() == 3);
  CHECK(m2[0]["role"] == "system");
  CHECK(m[0]["role"] == "system");
  CHECK(m[1]["role"] == "user");
  CHECK(m[1]["content"][0]["type"] == "video");
  CHECK(m[1]["content"][0]["frames"] == Frames()["paths"]);
  CHECK(m[1]["content"][0]["sample_fps"] == 2.0);
  CHECK(Text(m[1]) == recog::RenderTurn1(recog::LoadProfile("clean")));
  CHECK(Text(m[2]) == TurnOne(true));
  CHECK(m[2]["role"] == "assistant");
  CHECK(m2[1]["role"] == "user");
  CHECK(m2[2]["role"] == "assistant");
  // Turn 2 shows the detector's boxes, exactly as vs-policy builds it (hog ran on the frames).
  CHECK(m2[1]["content"][0]["type"] == "video");
  CHECK(m2[1]["content"][0]["frames"] != Frames()["paths"]);
  CHECK(o["teacher"]["turn2_frames"] == "bound");
  CHECK(Text(m2[1]).find("box drawn around every person") != std::string::npos);
  CHECK(Text(m2[2]) == Chain("forward", "kick_ball"));
  CHECK(o["teacher"]["label"] == "kick_ball");
  CHECK(o["teacher"]["attempts"] == Json::array({1, 1}));
  CHECK(o["teacher"]["decisions"]["person_detection"] == true);
  CHECK(o.contains("detect"));  // the tool's output is written as vs-detect writes it

  // The teacher saw the student's turn with its instruction naming the truth appended; the student's
  // prompts do not name it outside the candidate list.
  REQUIRE(h.teacher.calls.size() == 2);
  const auto& t1 = h.teacher.calls[0][0];
  const auto& t2 = h.teacher.calls[1][0];
  CHECK(t1.stage == "turn1");
  CHECK(t1.id == "v1");
  CHECK(t1.label == "kick_ball");
  CHECK(LastUserText(t1).rfind(Text(m[1]), 0) == 0);
  CHECK(LastUserText(t1).find("\"kick_ball\"") != std::string::npos);
  CHECK(LastUserText(t2).rfind(Text(m2[1]), 0) == 0);
  CHECK(LastUserText(t2).find("<answer>kick_ball</answer>") != std::string::npos);
  CHECK(t2.tools == std::vector<std::string>{"detect"});
  CHECK(t2.turn1 == TurnOne(true));
  CHECK(t2.messages.back().content[0].type == plugin::ContentItem::Type::kVideo);
  CHECK(t2.messages.back().content[0].frames ==
        m2[1]["content"][0]["frames"].get<std::vector<std::string>>());
  CHECK(t2.temperature == 0.0);
  CHECK(t2.max_tokens == 1024);
  CHECK(Text(m[1]).find("kick") == std::string::npos);
  std::string shown = Text(m2[1]);
  CHECK(recog::ReplaceAll(shown, "brush_hair\ncartwheel\nkick_ball\nwave", "").find("kick") == std::string::npos);
}

TEST_CASE("vs-decompose --chain answer writes only the answer of a verified chain, and a failed chain stays refused",
          "[policy][decompose]") {
  Harness h;
  h.opt.chain = "answer";
  h.teacher.script = [](const plugin::TeachRequest& r) {
    return r.stage == "turn1" ? TurnOne(true) : Chain("forward", r.label);
  };
  auto out = h.Run({Rec("v1", "Kick Ball")});
  REQUIRE(out.size() == 1);
  INFO(out[0].dump());
  REQUIRE_FALSE(out[0].contains("error"));
  CHECK(Text(out[0]["turn2_messages"][2]) == "<answer>kick_ball</answer>");
  // The chain is still verified in full first: one without [1] is refused, not cut down to its answer.
  Harness bad;
  bad.opt.chain = "answer";
  bad.teacher.script = [](const plugin::TeachRequest& r) {
    return r.stage == "turn1" ? TurnOne(true) : std::string("<think>\n</think>\n<answer>kick_ball</answer>");
  };
  auto refused = bad.Run({Rec("v1", "Kick Ball")});
  CHECK(refused[0].contains("error"));
}

TEST_CASE("vs-decompose --alias-labels renames the candidates through the whole conversation",
          "[policy][decompose]") {
  Harness h;
  h.opt.alias_labels = 1.0;
  h.teacher.script = [](const plugin::TeachRequest& r) {
    return r.stage == "turn1" ? TurnOne(false) : Chain("forward", r.label);
  };
  auto out = h.Run({Rec("v1", "Kick Ball")});
  INFO(out[0].dump());
  REQUIRE_FALSE(out[0].contains("error"));
  CHECK(out[0]["label"] ==
        "Kick Ball");  // the record keeps its truth; only the conversation is renamed
  const Json& aliases = out[0]["teacher"]["aliases"];
  REQUIRE(aliases.size() == 4);
  const std::string kick = aliases["kick_ball"];
  const Json& t2 = out[0]["turn2_messages"];
  CHECK(Text(t2[2]).find("<answer>" + kick + "</answer>") != std::string::npos);
  for (const char* name : {"brush_hair", "cartwheel", "kick_ball", "wave"}) {
    CHECK(Text(t2[1]).find(name) == std::string::npos);
    CHECK(Text(t2[2]).find(name) == std::string::npos);
    CHECK(Text(t2[1]).find(aliases[name].get<std::string>()) != std::string::npos);
  }
}

TEST_CASE("chains that fail verification are asked again with another seed, then become error records",
          "[policy][decompose]") {
  Harness h;
  // v-retry: turn 1 lacks a tag on the first attempt; v-nosec: [2] never appears; v-wrong: answers
  // another label; v-bullet: [1] has no bullet; v-order: [3] before [2]; v-err: the teacher fails.
  h.teacher.script = [](const plugin::TeachRequest& r) -> std::string {
    bool first = r.seed == 40;
    if (r.stage == "turn1") return r.id == "v-retry" && first ? "<pose_estimation>no</pose_estimation>" : TurnOne(false);
    if (r.id == "v-nosec") return "<think>\n[1] Body:\n- Arms: up\n[3] Candidate comparison:\n- wave: 2 - x\n</think><answer>wave</answer>";
    if (r.id == "v-wrong") return Chain("x", "cartwheel");
    if (r.id == "v-bullet") return recog::ReplaceAll(Chain("x", r.label), "- Arms: move x", "arms move");
    if (r.id == "v-order") return "[1] A:\n- Arms: up\n[3] C:\n- wave: 1 - y\n[2] B:\n- wave: z\n<answer>wave</answer>";
    if (r.id == "v-unmapped") return Chain("x", "juggling");
    return Chain("x", r.label);
  };
  auto out = h.Run({Rec("v-retry", "wave"), Rec("v-nosec", "wave"), Rec("v-wrong", "wave"), Rec("v-bullet", "wave"),
                    Rec("v-order", "wave"), Rec("v-unmapped", "wave"), Rec("v-nolabel", "juggling"),
                    Json{{"id", "v-noframes"}, {"label", "wave"}}});
  REQUIRE(out.size() == 8);
  CHECK_FALSE(out[0].contains("error"));
  CHECK(out[0]["teacher"]["attempts"] == Json::array({2, 1}));
  CHECK(out[0]["teacher"]["rejected"][0]["seed"] == 40);
  CHECK(out[0]["teacher"]["rejected"][0]["reason"].get<std::string>().find("<person_detection>") != std::string::npos);
  auto error = [&](size_t i) { return out[i]["error"]["message"].get<std::string>(); };
  CHECK(error(1).find("section [2] is missing") != std::string::npos);
  CHECK(error(1).find("3 attempt(s)") != std::string::npos);
  CHECK(error(2).find("is not the ground truth 'wave'") != std::string::npos);
  CHECK(error(3).find("section [1] has no \"- Name: text\" bullet") != std::string::npos);
  CHECK(error(4).find("section [3] is missing") != std::string::npos);
  CHECK(error(5).find("unmapped") != std::string::npos);
  CHECK(error(6).find("'juggling' is unmapped in the candidate list") != std::string::npos);
  CHECK(error(7).find("no frames") != std::string::npos);
  for (size_t i = 1; i <= 5; ++i) {
    INFO(out[i].dump());
    CHECK_FALSE(out[i].contains("messages"));
    REQUIRE(out[i]["teacher"]["rejected"].size() == 3);
    std::set<uint64_t> seeds;
    for (const auto& r : out[i]["teacher"]["rejected"]) seeds.insert(r["seed"].get<uint64_t>());
    CHECK(seeds == std::set<uint64_t>{40, 41, 42});
  }
  // The teacher was never asked about records that could not be prepared.
  for (const auto& call : h.teacher.calls)
    for (const auto& r : call) CHECK((r.id != "v-nolabel" && r.id != "v-noframes"));
}

TEST_CASE("every output's decisions and chain belong to its own input across batch boundaries",
          "[policy][decompose]") {
  Harness h;
  const std::vector<std::string> labels = {"brush_hair", "cartwheel", "kick_ball", "wave"};
  // The answers encode the id: decisions by the id's parity, the chain names it.
  h.teacher.script = [](const plugin::TeachRequest& r) {
    int n = std::stoi(r.id.substr(1));
    return r.stage == "turn1" ? TurnOne(n % 2 == 1) : Chain("for " + r.id, r.label);
  };
  std::vector<Json> in;
  for (int i = 0; i < 7; ++i) in.push_back(Rec("r" + std::to_string(i), labels[(i * 3) % 4]));
  auto out = h.Run(in, 3);
  REQUIRE(out.size() == 7);
  CHECK(h.teacher.calls.size() == 6);  // three batches, two turns each
  for (int i = 0; i < 7; ++i) {
    INFO(out[i].dump());
    REQUIRE_FALSE(out[i].contains("error"));
    CHECK(out[i]["id"] == "r" + std::to_string(i));
    const Json& m = out[i]["messages"];
    CHECK(Text(m[2]) == TurnOne(i % 2 == 1));
    CHECK(out[i]["teacher"]["decisions"]["person_detection"] == (i % 2 == 1));
    CHECK(out[i]["teacher"]["turn2_frames"] == (i % 2 == 1 ? "bound" : "original"));
    CHECK(Text(out[i]["turn2_messages"][2]) ==
          Chain("for r" + std::to_string(i), labels[(i * 3) % 4]));
  }
}

TEST_CASE("a student prompt that names the ground truth is refused in the clean profile", "[policy][decompose]") {
  Harness h;
  h.teacher.script = [](const plugin::TeachRequest& r) {
    return r.stage == "turn1" ? recog::ReplaceAll(TurnOne(false), "<video_description>no", "<video_description>yes")
                              : Chain("x", r.label);
  };
  Json leaky = Rec("leak", "cartwheel");
  leaky["explain"] = {{"video", "A child does a cartwheel on the grass."}};
  Json clean = Rec("fine", "cartwheel");
  clean["explain"] = {{"video", "A child turns sideways over the hands on the grass."}};
  auto out = h.Run({leaky, clean});
  CHECK(out[0]["error"]["message"].get<std::string>().find("turn-2 prompt names the ground truth") != std::string::npos);
  CHECK_FALSE(out[1].contains("error"));
  CHECK(Text(out[1]["turn2_messages"][1]).find("turns sideways") != std::string::npos);

  Harness allowed("clean", {}, false);
  allowed.teacher.script = h.teacher.script;
  CHECK_FALSE(allowed.Run({leaky})[0].contains("error"));
}

TEST_CASE("official profile: the teacher gets the authors' teacher templates byte for byte", "[policy][decompose]") {
  VSTAR_REQUIRE_SHARED("reference/official/templates/teacher.turn2.txt");
  const fs::path ref = test::SharedDir() / "reference" / "official";
  const auto cases = Json::parse(test::ReadFile(test::FixtureDir() / "recog/official_prompts.json"));
  const Json* golden1 = nullptr;
  const Json* golden2 = nullptr;
  for (const auto& c : cases) {
    if (c["profile"] != "official-teacher") continue;
    if (c["turn"] == 1) golden1 = &c;
    else if (c["questions"] == "data/json/hmdb51/val.json" && c["index"] == 0 && c["explain"] == false) golden2 = &c;
  }
  REQUIRE(golden1);
  REQUIRE(golden2);
  const auto questions = Json::parse(test::ReadFile(ref / "data/json/hmdb51/val.json"));
  Json rec = questions.at(0);
  rec["id"] = "hmdb-0";
  rec["frames"] = Frames();
  const std::string classes = test::ReadFile(ref / "data/json/hmdb51/train_rephrased.json");
  auto list = recog::ClassListFromJson(Json::parse(classes), "train_rephrased.json");
  std::string names;
  for (const auto& n : list.Names()) names += n + "\n";

  // The student profile official-sft: its annotated path names the class folder, a leak by design.
  Harness refused("official-sft", ref / "templates", true, names);
  refused.teacher.script = [](const plugin::TeachRequest& r) {
    return r.stage == "turn1" ? std::string("<pose_estimation>no</pose_estimation><person_detection>no</person_detection>"
                                            "<noun_explanation>no</noun_explanation>")
                              : Chain("x", r.label);
  };
  auto leak = refused.Run({rec});
  CHECK(leak[0]["error"]["message"].get<std::string>().find("names the ground truth") != std::string::npos);

  Harness h("official-sft", ref / "templates", false, names);
  h.teacher.script = refused.teacher.script;
  auto out = h.Run({rec});
  INFO(out[0].dump().substr(0, 2000));
  REQUIRE_FALSE(out[0].contains("error"));
  REQUIRE(h.teacher.calls.size() == 2);
  const std::string t1 = LastUserText(h.teacher.calls[0][0]), t2 = LastUserText(h.teacher.calls[1][0]);
  CHECK(t1.size() == (*golden1)["length"].get<size_t>());
  CHECK(io::Sha256Hex(t1) == (*golden1)["sha256"]);
  CHECK(t2.size() == (*golden2)["length"].get<size_t>());
  CHECK(io::Sha256Hex(t2) == (*golden2)["sha256"]);
  CHECK(h.teacher.calls[1][0].temperature == 0.6);  // the teacher profile's sampling (acot.py)
  // The student's record is official-sft's: two videos, the SFT templates, the authors' system prompt.
  const Json& m = out[0]["messages"];
  REQUIRE(m.size() == 5);
  CHECK_FALSE(out[0].contains("turn2_messages"));  // turn 2 continues the conversation
  CHECK(Text(m[0]) == "You are a helpful assistant");
  CHECK(Text(m[1]) == recog::RenderTurn1(recog::LoadProfile("official-sft", ref / "templates")));
  CHECK(Text(m[3]).find("Ground Truth") == std::string::npos);
  CHECK(Text(m[4]) == Chain("x", out[0]["teacher"]["label"].get<std::string>()));
}

TEST_CASE("vs-decompose with the openai teacher on a loopback endpoint is resumable, and vs-sft trains on it",
          "[policy][decompose][pipeline]") {
  VSTAR_REQUIRE_BINARY("vs-decompose");
  VSTAR_REQUIRE_BINARY("vs-sft");
  // The endpoint answers from the request: turn 1 when it shows the helper list, else a chain with the
  // label the teacher's instruction names; it also checks that frames arrive as images.
  std::atomic<int> images{0};
  test::LoopbackServer server([&](const httplib::Request& req, httplib::Response& res, int) {
    auto body = nlohmann::json::parse(req.body);
    std::string text;
    for (const auto& c : body["messages"].back()["content"]) {
      if (c["type"] == "text") text += c["text"].get<std::string>();
      if (c["type"] == "image_url" && c["image_url"]["url"].get<std::string>().rfind("data:image/jpeg;base64,", 0) == 0)
        ++images;
    }
    std::smatch m;
    std::string answer;
    if (text.find("Helpers:") != std::string::npos) answer = TurnOne(false);
    else if (std::regex_search(text, m, std::regex("correct label is \"([^\"]+)\""))) answer = Chain("y", m[1]);
    res.set_content(test::LoopbackServer::Completion(answer), "application/json");
  });
  auto dir = test::TempDir("decompose-pipeline");
  test::WriteFile(dir / "classes.txt", kCandidates);
  std::string first3, all;
  const std::vector<std::string> labels = {"wave", "cartwheel", "brush_hair", "kick_ball"};
  for (int i = 0; i < 4; ++i) {
    Json r = Rec("c" + std::to_string(i), labels[i]);
    r["frames"] = TinyFrames();
    all += r.dump() + "\n";
    if (i < 3) first3 = all;
  }
  const fs::path out = dir / "chains.jsonl";
  auto args = [&](const std::string& input) {
    test::WriteFile(dir / "in.jsonl", input);
    return std::vector<std::string>{"vs-decompose", "-i", (dir / "in.jsonl").string(), "-o", out.string(),
                                    "--teacher", "openai", "--teacher-model", "loop", "--teacher-opt",
                                    "endpoint=" + server.endpoint(), "--teacher-opt", "no_cache=1", "--candidates",
                                    (dir / "classes.txt").string(), "--batch", "2", "--log-level", "warn"};
  };
  // First run: the first three records.
  auto first = test::Run(args(first3));
  INFO(first.err);
  REQUIRE(first.status == 0);
  CHECK(test::Lines(test::ReadFile(out)).size() == 3);
  CHECK(server.calls() == 6);
  CHECK(images.load() == 6 * 4);
  // A crash mid-write leaves a partial line: the rerun drops it, skips the finished ids and appends.
  { std::ofstream(out, std::ios::app) << "{\"id\":\"c3\",\"mess"; }
  auto second = test::Run(args(all));
  INFO(second.err);
  REQUIRE(second.status == 0);
  CHECK(server.calls() == 8);
  auto lines = test::Lines(test::ReadFile(out));
  std::vector<std::string> ids;
  for (const auto& l : lines)
    if (!l.empty()) ids.push_back(Json::parse(l)["id"]);
  CHECK(ids == std::vector<std::string>{"c0", "c1", "c2", "c3"});
  for (size_t i = 0; i < ids.size(); ++i) {
    Json j = Json::parse(lines[i]);
    CHECK(j["teacher"]["source"] == "openai:echo-model");
    CHECK(Text(j["turn2_messages"][2]) == Chain("y", labels[i]));
  }

  auto sft = test::Run({"vs-sft", "--model", (test::FixtureDir() / "model/tiny/model").string(), "--output",
                        (dir / "sft").string(), "-i", out.string(), "--max-steps", "2", "--video-max-pixels",
                        std::to_string(84 * 56), "--log-level", "warn"});
  INFO(sft.err);
  CHECK(sft.status == 0);
  CHECK(fs::exists(dir / "sft" / "config.json"));
}

TEST_CASE(
    "vs-decompose --teacher policy asks a local checkpoint and reports the chains it cannot verify",
    "[policy][decompose][pipeline]") {
  VSTAR_REQUIRE_BINARY("vs-decompose");
  // The tiny random model writes no decision tags, so every chain fails turn 1's check: each record
  // is asked 1 + --retries times through the policy engine and comes out as an error record saying
  // why.
  auto dir = test::TempDir("decompose-policy-teacher");
  test::WriteFile(dir / "classes.txt", kCandidates);
  std::string in;
  for (int i = 0; i < 2; ++i) {
    Json r = Rec("p" + std::to_string(i), "wave");
    r["frames"] = TinyFrames();
    in += r.dump() + "\n";
  }
  auto r =
      test::Run({"vs-decompose", "--teacher", "policy", "--teacher-model",
                 (test::FixtureDir() / "model/tiny/model").string(), "--teacher-opt", "dtype=fp32",
                 "--teacher-opt", "video_max_pixels=" + std::to_string(84 * 56), "--candidates",
                 (dir / "classes.txt").string(), "--tools", "none", "--retries", "1"},
                in);
  INFO(r.err);
  CHECK(r.status == 3);  // the stream finished; its records carry errors
  CHECK(r.err.find("policy model") != std::string::npos);  // the engine loaded the checkpoint
  auto lines = test::Lines(r.out);
  REQUIRE(lines.size() == 2);
  for (size_t i = 0; i < lines.size(); ++i) {
    Json j = Json::parse(lines[i]);
    CHECK(j["id"] == "p" + std::to_string(i));
    const std::string msg = j["error"]["message"];
    CHECK(msg.find("2 attempt(s)") != std::string::npos);
    CHECK(msg.find("turn 1") != std::string::npos);
    CHECK_FALSE(j.contains("messages"));
  }
  auto bad = test::Run({"vs-decompose", "--teacher", "policy", "--teacher-model",
                        (test::FixtureDir() / "model/tiny/model").string(), "--teacher-opt",
                        "temperature=1", "--candidates", (dir / "classes.txt").string()},
                       "");
  CHECK(bad.status == 2);
  CHECK(bad.err.find("dtype=fp32|bf16, fps=N, video_max_pixels=N") != std::string::npos);
}

namespace {

// A teacher request and its reply as an SFT record: what a local teacher is fine-tuned on.
Json TeacherSftRecord(const plugin::TeachRequest& r, const std::string& reply) {
  Json messages = Json::array();
  for (const auto& m : r.messages) {
    Json content = Json::array();
    for (const auto& c : m.content) {
      if (c.type == plugin::ContentItem::Type::kText)
        content.push_back({{"type", "text"}, {"text", c.text}});
      if (c.type == plugin::ContentItem::Type::kVideo)
        content.push_back({{"type", "video"}, {"frames", c.frames}, {"sample_fps", c.sample_fps}});
    }
    messages.push_back({{"role", m.role}, {"content", content}});
  }
  messages.push_back(
      {{"role", "assistant"}, {"content", Json::array({{{"type", "text"}, {"text", reply}}})}});
  return {{"id", r.id + "/" + r.stage}, {"messages", messages}};
}

}  // namespace

TEST_CASE(
    "vs-decompose --teacher policy: a checkpoint fine-tuned on a teacher's conversations writes "
    "verified chains",
    "[policy][decompose][pipeline]") {
  VSTAR_REQUIRE_BINARY("vs-decompose");
  VSTAR_REQUIRE_BINARY("vs-sft");
  // A scripted teacher answers three records; its requests and replies (the teacher's view: the
  // student's turns plus the instruction naming the truth) train the tiny model with vs-sft. That
  // checkpoint, as --teacher policy, must then write the same chains through the real binary: every
  // one verified, no error record.
  Harness h;
  h.teacher.script = [](const plugin::TeachRequest& r) {
    return r.stage == "turn1" ? TurnOne(false) : Chain("up", r.label);
  };
  const std::vector<std::string> labels = {"wave", "cartwheel", "kick_ball"};
  std::vector<Json> in;
  std::string input;
  for (size_t i = 0; i < labels.size(); ++i) {
    Json r = Rec("t" + std::to_string(i), labels[i]);
    r["frames"] = TinyFrames();
    input += r.dump() + "\n";
    in.push_back(std::move(r));
  }
  auto want = h.Run(in);
  std::string teacher_data;
  for (const auto& call : h.teacher.calls)
    for (const auto& r : call)
      teacher_data += TeacherSftRecord(r, h.teacher.script(r)).dump() + "\n";
  REQUIRE(test::Lines(teacher_data).size() >= 2 * labels.size());
  auto dir = test::TempDir("decompose-trained-teacher");
  test::WriteFile(dir / "teacher.jsonl", teacher_data);
  test::WriteFile(dir / "classes.txt", kCandidates);
  const std::string pixels = std::to_string(84 * 56);
  auto sft =
      test::Run({"vs-sft", "--model", (test::FixtureDir() / "model/tiny/model").string(),
                 "--output", (dir / "teacher").string(), "-i", (dir / "teacher.jsonl").string(),
                 "--max-steps", "100", "--lr", "1e-2", "--schedule", "constant", "--batch", "6",
                 "--video-max-pixels", pixels, "--log-level", "warn"});
  INFO(sft.err);
  REQUIRE(sft.status == 0);

  auto r = test::Run(
      {"vs-decompose", "--teacher", "policy", "--teacher-model", (dir / "teacher").string(),
       "--teacher-opt", "dtype=fp32", "--teacher-opt", "video_max_pixels=" + pixels, "--candidates",
       (dir / "classes.txt").string(), "--retries", "0", "--log-level", "warn"},
      input);
  INFO(r.err);
  CHECK(r.status == 0);
  auto lines = test::Lines(r.out);
  REQUIRE(lines.size() == labels.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    Json j = Json::parse(lines[i]);
    INFO(j.dump());
    REQUIRE_FALSE(j.contains("error"));
    CHECK(j["id"] == want[i]["id"]);
    CHECK(j["teacher"]["source"] == "policy:" + (dir / "teacher").string());
    CHECK(j["teacher"]["label"] == labels[i]);
    CHECK(j["teacher"]["attempts"] == Json::array({1, 1}));
    CHECK(j["messages"] == want[i]["messages"]);
    CHECK(j["turn2_messages"] == want[i]["turn2_messages"]);
    CHECK(Text(j["turn2_messages"][2]) == Chain("up", labels[i]));
  }
}

TEST_CASE("vs-decompose refuses a profile without teacher templates and an unknown teacher option",
          "[policy][decompose]") {
  VSTAR_REQUIRE_BINARY("vs-decompose");
  auto dir = test::TempDir("decompose-usage");
  test::WriteFile(dir / "classes.txt", kCandidates);
  auto bad_opt = test::Run({"vs-decompose", "--teacher", "openai", "--teacher-opt", "bogus=1", "--candidates",
                            (dir / "classes.txt").string()},
                           "");
  CHECK(bad_opt.status == 2);
  CHECK(bad_opt.err.find("has no option 'bogus'") != std::string::npos);
  auto no_policy_model = test::Run({"vs-decompose", "--teacher", "policy"}, "");
  CHECK(no_policy_model.status == 2);
  CHECK(no_policy_model.err.find("--teacher-model") != std::string::npos);
  // A profile of our own without teacher templates names what is missing.
  fs::path prof = dir / "mine";
  fs::create_directories(prof);
  for (const char* f : {"profile.json", "turn1.txt", "turn2.txt"})
    fs::copy_file(test::SourceDir() / "share/vstar/profiles/clean" / f, prof / f);
  CHECK_THROWS_WITH(policy::LoadTeacherPrompts(recog::LoadProfile(prof.string()), "", ""),
                    Catch::Contains("no teacher templates") && Catch::Contains("--teacher-profile"));
  auto clean = policy::LoadTeacherPrompts(recog::LoadProfile("clean"), "", "");
  CHECK_FALSE(clean.profile);
  CHECK(clean.note2.find("{LABEL}") != std::string::npos);
}
