// The two-turn policy's plumbing with a scripted responder (a random tiny model writes random text, so
// decisions and answers are forced here): candidate-list forms, tools run only when chosen, reuse of
// upstream keys, overlay frames in turn 2, byte-identical official prompts, no leaks in clean prompts.
#include <fstream>
#include <functional>

#include <nlohmann/json.hpp>

#include "io/record.hpp"
#include "policy/two_turn.hpp"
#include "tools/stage.hpp"
#include "recog/prompt.hpp"
#include "recog/text.hpp"
#include "support.hpp"

using namespace vstar;
using Json = nlohmann::ordered_json;

namespace {

// Binary PPM frames with a bright upright figure on a dark background (OpenCV reads PPM).
std::vector<std::string> WriteFrames(const std::filesystem::path& dir, int n) {
  std::filesystem::create_directories(dir);
  std::vector<std::string> out;
  const int w = 192, h = 160;
  for (int f = 0; f < n; ++f) {
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
    out.push_back(p.string());
  }
  return out;
}

// Answers from a script; remembers every turn it saw.
class ScriptedResponder : public policy::Responder {
 public:
  std::function<std::string(int call, const policy::Turn&)> script;
  std::vector<std::vector<policy::Turn>> calls;
  std::vector<recog::Sampling> samplings;
  std::vector<policy::Response> Respond(const std::vector<policy::Turn>& turns, const recog::Sampling& s) override {
    calls.push_back(turns);
    samplings.push_back(s);
    std::vector<policy::Response> out;
    for (const auto& t : turns) {
      policy::Response r;
      r.text = script(static_cast<int>(calls.size()) - 1, t);
      r.tokens.assign(3, 1);
      out.push_back(r);
    }
    return out;
  }
};

const char* kCleanYesDetectExplain =
    "<think>[1] Scene: one person.\n[2] Helper needs: boxes and definitions.</think>\n"
    "<pose_estimation>no</pose_estimation>\n<person_detection> YES </person_detection>\n"
    "<action_explanation>yes</action_explanation>\n<video_description>no</video_description>";

io::Record MakeRecord(const Json& j) { return io::Record(j.dump(), "test", 1); }

Json RunOne(policy::TwoTurnPolicy& pol, io::Record& rec) {
  io::Record* p = &rec;
  pol.Run(std::span<io::Record*>(&p, 1));
  return Json::parse(rec.text());
}

recog::ClassList CleanCandidates() { return recog::ParseClassList("brush_hair\ncartwheel\nkick_ball\nwave\n", "inline"); }

std::string Turn2Text(int call, const policy::Turn&, const std::string& t1, const std::string& t2) {
  return call == 0 ? t1 : t2;
}

}  // namespace

TEST_CASE("candidates: --candidates is required and read by the one class-list reader", "[policy][two-turn]") {
  auto dir = test::TempDir("two-turn-candidates");
  test::WriteFile(dir / "c.txt", "Brush hair: comb the hair\nwave\n");
  auto c = policy::LoadCandidates((dir / "c.txt").string());
  CHECK(c.Names() == std::vector<std::string>{"Brush hair", "wave"});
  CHECK(c.items[0].explanation == "comb the hair");
  CHECK_THROWS_WITH(policy::LoadCandidates(""), Catch::Contains("--candidates"));
  CHECK_THROWS_WITH(policy::LoadCandidates("/nonexistent/classes.txt"), Catch::Contains("/nonexistent/classes.txt"));
}

TEST_CASE("dynamic mode runs only the chosen tools and turn 2 sees their output", "[policy][two-turn]") {
  auto dir = test::TempDir("two-turn-dynamic");
  auto frames = WriteFrames(dir / "frames", 4);
  tools::ToolRunnerOptions opt;  // defaults: detector hog, explainer local, no pose plugin, no describer
  tools::ToolRunner tools(opt, "cpu");
  ScriptedResponder resp;
  resp.script = [](int call, const policy::Turn& t) {
    return Turn2Text(call, t, kCleanYesDetectExplain, "<think>...</think>\n<answer>**Brush hair**</answer>");
  };
  policy::TwoTurnPolicy pol(resp, recog::LoadProfile("clean"), CleanCandidates(), recog::ToolMode::kDynamic, tools,
                            /*keep_prompts=*/true);
  auto rec = MakeRecord({{"id", "clip1"}, {"label", "brush_hair"},
                         {"frames", {{"paths", frames}, {"sample_fps", 2.0}}}});
  Json out = RunOne(pol, rec);
  INFO(out.dump(2));
  REQUIRE(out.contains("policy"));
  const Json& p = out["policy"];
  CHECK(p["decisions"]["pose"]["answer"] == "no");
  CHECK(p["decisions"]["detect"]["answer"] == "yes");
  CHECK(p["decisions"]["describe"]["answer"] == "no");
  CHECK(p["tools"]["detect"]["chosen"] == true);
  CHECK(p["tools"]["detect"]["source"] == "ran");
  CHECK(p["tools"]["detect"]["plugin"] == "hog");
  CHECK(p["tools"]["pose"]["chosen"] == false);
  CHECK(p["tools"]["pose"]["used"] == false);
  CHECK_FALSE(p["tools"]["pose"].contains("source"));
  CHECK(p["tools"]["explain"]["source"] == "ran");
  CHECK(p["tools"]["explain"]["plugin"] == "local");
  CHECK(out.contains("detect"));       // the stage ran in process and left its key
  CHECK_FALSE(out.contains("pose"));   // never chosen, never run
  CHECK(p["turn2_frames"] == "bound");
  CHECK(p["answer"] == "Brush hair");  // the clean rule drops markdown
  CHECK(p["mapped"] == "brush_hair");
  CHECK(p["unmapped"] == false);
  for (const char* k : {"turn1_s", "tools_s", "turn2_s", "total_s"}) CHECK(p["timing"][k].get<double>() >= 0);
  CHECK(p["turn1"]["text"] == kCleanYesDetectExplain);

  // What the responder saw: turn 1 on the original frames, turn 2 on box overlays of the same count.
  REQUIRE(resp.calls.size() == 2);
  const auto& t1 = resp.calls[0][0];
  const auto& t2 = resp.calls[1][0];
  CHECK(t1.videos[0]["paths"] == Json(frames));
  REQUIRE(t2.videos[0]["paths"].size() == frames.size());
  for (size_t i = 0; i < frames.size(); ++i) {
    auto path = t2.videos[0]["paths"][i].get<std::string>();
    CHECK(path != frames[i]);
    CHECK(std::filesystem::exists(path));
  }
  CHECK(t2.videos[0]["sample_fps"] == 2.0);
  std::string prompt2 = policy::UserText(t2);
  CHECK(prompt2 == p["turn2"]["prompt"].get<std::string>());
  CHECK(prompt2.find("box drawn around every person") != std::string::npos);
  CHECK(prompt2.find("skeleton") == std::string::npos);
  CHECK(prompt2.find("A description of the clip") == std::string::npos);
  // The sampling of each turn is the profile's.
  CHECK(resp.samplings[0].max_new_tokens == 512);
  CHECK(resp.samplings[1].max_new_tokens == 1024);
  // Clean: a system message, turn 2 in a fresh context.
  CHECK(t2.messages.size() == 2);
  CHECK(t2.messages[0].role == "system");
}

TEST_CASE("tools all and none override the decisions, and unavailable tools are reported, not faked", "[policy][two-turn]") {
  auto dir = test::TempDir("two-turn-modes");
  auto frames = WriteFrames(dir / "frames", 3);
  tools::ToolRunnerOptions opt;
  tools::ToolRunner tools(opt, "cpu");
  auto cands = recog::ParseClassList("brush_hair: hand moves a brush through the hair\nwave: hand swings\n", "c");
  const std::string t1 = "<pose_estimation>no</pose_estimation><person_detection>no</person_detection>";
  ScriptedResponder resp;
  resp.script = [&](int call, const policy::Turn& t) { return Turn2Text(call % 2, t, t1, "<answer>jumping</answer>"); };

  policy::TwoTurnPolicy all(resp, recog::LoadProfile("clean"), cands, recog::ToolMode::kAll, tools, true);
  auto rec = MakeRecord({{"id", "a"}, {"frames", {{"paths", frames}}}});
  Json a = RunOne(all, rec);
  INFO(a.dump(2));
  const Json& pa = a["policy"];
  CHECK(pa["decisions"]["pose"]["answer"] == "no");
  CHECK(pa["decisions"]["explain"]["answer"] == nullptr);  // absent tag
  for (const char* t : {"pose", "detect", "explain", "describe"}) CHECK(pa["tools"][t]["chosen"] == true);
  CHECK(pa["tools"]["pose"]["source"] == "unavailable");
  CHECK(pa["tools"]["pose"]["used"] == false);
  CHECK(pa["tools"]["describe"]["source"] == "unavailable");
  CHECK(pa["tools"]["detect"]["used"] == true);
  CHECK(pa["tools"]["explain"]["source"] == "candidates");  // the list carried explanations
  CHECK(pa["turn2_frames"] == "bound");                    // pose could not be delivered
  std::string p2 = pa["turn2"]["prompt"];
  CHECK(p2.find("skeleton") == std::string::npos);
  CHECK(p2.find("brush_hair: hand moves a brush through the hair") != std::string::npos);
  CHECK(pa["mapped"] == nullptr);
  CHECK(pa["unmapped"] == true);
  CHECK(pa["map_status"] == "unmapped");
  CHECK(a.contains("detect"));

  policy::TwoTurnPolicy none(resp, recog::LoadProfile("clean"), cands, recog::ToolMode::kNone, tools, true);
  auto rec2 = MakeRecord({{"id", "b"}, {"frames", {{"paths", frames}}}});
  resp.script = [&](int, const policy::Turn&) {
    return std::string("<pose_estimation>yes</pose_estimation><person_detection>yes</person_detection>"
                       "<answer>wave</answer>");
  };
  Json n = RunOne(none, rec2);
  const Json& pn = n["policy"];
  CHECK(pn["decisions"]["pose"]["answer"] == "yes");
  for (const char* t : {"pose", "detect", "explain", "describe"}) {
    CHECK(pn["tools"][t]["chosen"] == false);
    CHECK(pn["tools"][t]["used"] == false);
  }
  CHECK_FALSE(n.contains("detect"));
  CHECK(pn["turn2_frames"] == "original");
  CHECK(resp.calls.back()[0].videos[0]["paths"] == Json(frames));
  std::string pn2 = pn["turn2"]["prompt"];
  CHECK(pn2.find("\nbrush_hair\nwave\n") != std::string::npos);  // names only
  CHECK(pn["mapped"] == "wave");
}

TEST_CASE("upstream detect/pose/explain keys are reused, and their overlays drawn when absent", "[policy][two-turn]") {
  auto dir = test::TempDir("two-turn-reuse");
  auto frames = WriteFrames(dir / "frames", 2);
  Json kp = Json::array();
  for (int k = 0; k < 17; ++k) kp.push_back({90 + k, 30 + 6 * k, 0.9});
  Json person = {{"xyxy", {80, 20, 112, 150}}, {"score", 0.9}, {"class", 0}, {"label", "person"}, {"keypoints", kp}};
  Json pose = {{"plugin", "upstream-pose"},
               {"frames", {{{"path", frames[0]}, {"people", {person}}}, {{"path", frames[1]}, {"people", {person}}}}}};
  Json detect = {{"plugin", "upstream-det"},
                 {"frames", {{{"path", frames[0]}, {"boxes", Json::array()}}, {{"path", frames[1]}, {"boxes", Json::array()}}}}};
  tools::ToolRunnerOptions opt;
  opt.detector.plugin = "no-such-detector";  // would fail loudly if it were ever loaded
  tools::ToolRunner tools(opt, "cpu");
  ScriptedResponder resp;
  resp.script = [](int call, const policy::Turn& t) {
    return Turn2Text(call, t,
                     "<pose_estimation>yes</pose_estimation><person_detection>yes</person_detection>"
                     "<action_explanation>no</action_explanation><video_description>yes</video_description>",
                     "<answer>cartwheel</answer>");
  };
  policy::TwoTurnPolicy pol(resp, recog::LoadProfile("clean"), CleanCandidates(), recog::ToolMode::kDynamic, tools, true);
  auto rec = MakeRecord({{"id", "r"},
                         {"frames", {{"paths", frames}, {"sample_fps", 1.0}}},
                         {"detect", detect},
                         {"pose", pose},
                         {"explain", {{"video", "A person turns over sideways on the hands."}}}});
  Json out = RunOne(pol, rec);
  INFO(out.dump(2));
  const Json& p = out["policy"];
  CHECK(p["tools"]["pose"]["source"] == "record");
  CHECK(p["tools"]["pose"]["plugin"] == "upstream-pose");
  CHECK(p["tools"]["detect"]["source"] == "record");
  CHECK(p["tools"]["describe"]["source"] == "record");
  CHECK(p["turn2_frames"] == "pose");
  CHECK(out["pose"] == pose);  // untouched
  std::string p2 = p["turn2"]["prompt"];
  CHECK(p2.find("A description of the clip: A person turns over sideways on the hands.") != std::string::npos);
  CHECK(p2.find("skeleton lines") != std::string::npos);
  const auto& v2 = resp.calls[1][0].videos[0]["paths"];
  REQUIRE(v2.size() == 2);
  CHECK(std::filesystem::exists(v2[0].get<std::string>()));
  CHECK(v2[0] != frames[0]);
  CHECK(p["mapped"] == "cartwheel");

  // Overlays the keys already list are reused as they are.
  auto listed = MakeRecord({{"frames", {{"paths", frames}}},
                            {"detect", {{"frames", detect["frames"]}, {"overlays", {{"bound", {frames[1], frames[0]}}}}}}});
  std::string variant;
  Json f = tools::OverlayFrames(listed, false, true, &variant);
  CHECK(variant == "bound");
  CHECK(f["paths"] == Json({frames[1], frames[0]}));
  // A key whose frame count disagrees with `frames` fails the record clearly.
  Json one_frame = Json::array({detect["frames"][0]});
  auto bad = MakeRecord({{"frames", {{"paths", frames}}}, {"detect", {{"frames", one_frame}}}});
  CHECK_THROWS_WITH(tools::OverlayFrames(bad, false, true, &variant), Catch::Contains("1 frames"));
}

TEST_CASE("clean prompts never show the label, the video path or its file name", "[policy][two-turn]") {
  auto dir = test::TempDir("two-turn-leak");
  auto frames = WriteFrames(dir / "frames", 2);
  const std::string video = "/data/hmdb51/brush_hair/April_09_brush_hair_u_nm_np1_ba_goo_0.avi";
  tools::ToolRunnerOptions opt;
  tools::ToolRunner tools(opt, "cpu");
  auto cands = CleanCandidates();
  for (auto mode : {recog::ToolMode::kAll, recog::ToolMode::kNone, recog::ToolMode::kDynamic}) {
    ScriptedResponder resp;
    resp.script = [](int call, const policy::Turn& t) {
      return Turn2Text(call, t, kCleanYesDetectExplain, "<answer>brush_hair</answer>");
    };
    policy::TwoTurnPolicy pol(resp, recog::LoadProfile("clean"), cands, mode, tools, true);
    auto rec = MakeRecord({{"id", "x1"},
                           {"video", video},
                           {"path", "brush_hair/April_09_brush_hair_u_nm_np1_ba_goo_0.avi"},
                           {"label", "brush_hair"},
                           {"solution", "<answer>brush_hair</answer>"},
                           {"frames", {{"paths", frames}}}});
    Json out = RunOne(pol, rec);
    REQUIRE(out.contains("policy"));
    std::map<std::string, std::string> expl;
    tools.Explain(cands, &expl);
    for (const auto& call : resp.calls)
      for (const auto& turn : call) {
        std::string seen;
        for (const auto& m : turn.messages) {
          seen += m.text;
          for (const auto& item : m.items) seen += item.text;
        }
        // The candidate list is the one place class names belong: take it out, then nothing may remain.
        for (bool explained : {true, false}) {
          std::string list = recog::FormatCandidates(pol.profile(), cands, explained, &expl);
          auto at = seen.find(list);
          if (at != std::string::npos) seen.erase(at, list.size());
        }
        INFO(seen);
        for (const std::string& leak : {std::string("brush_hair"), std::string("brush hair"), std::string("April_09"),
                                        std::string("hmdb51"), std::string(".avi"), video})
          CHECK(recog::Lower(seen).find(recog::Lower(leak)) == std::string::npos);
      }
  }
}

TEST_CASE("official profile: turn 2 is lib/recog's rendering byte for byte, on the original video", "[policy][two-turn]") {
  VSTAR_REQUIRE_SHARED("reference/official/templates/eval.turn2.txt");
  auto templates = test::SharedDir() / "reference" / "official" / "templates";
  auto dir = test::TempDir("two-turn-official");
  auto frames = WriteFrames(dir / "frames", 2);
  recog::ProfileOptions po;
  po.profile = "official";
  po.templates = templates.string();
  po.annotated_root = "/datasets/hmdb51_pose";
  recog::Profile profile = po.Load();
  auto cands = recog::ParseClassList(
      R"({"0": "Brush hair: moving a brush through the hair", "1": "Cartwheel: rolling sideways", "2": "Wave"})", "d");
  tools::ToolRunnerOptions opt;
  tools::ToolRunner tools(opt, "cpu");
  for (bool noun : {true, false}) {
    ScriptedResponder resp;
    std::string t1 = std::string("<pose_estimation>yes</pose_estimation><person_detection>yes</person_detection>") +
                     "<noun_explanation>" + (noun ? "yes" : "no") + "</noun_explanation>";
    resp.script = [&](int call, const policy::Turn& t) {
      return Turn2Text(call, t, t1, "<think>x</think>\n<answer>Cartwheel</answer>");
    };
    policy::TwoTurnPolicy pol(resp, profile, cands, recog::ToolMode::kDynamic, tools, true);
    auto rec = MakeRecord({{"id", 7}, {"path", "cartwheel/clip_7.avi"}, {"frames", {{"paths", frames}}}});
    Json out = RunOne(pol, rec);
    INFO(out.dump(2));
    recog::Turn2Input in;
    in.candidates = &cands;
    in.tools.use = {{"pose", true}, {"detect", true}, {"explain", noun}};
    in.path = "cartwheel/clip_7.avi";
    std::string expected = recog::RenderTurn2(profile, in);
    const auto& t2 = resp.calls[1][0];
    CHECK(policy::UserText(t2) == expected);
    CHECK(out["policy"]["turn2"]["prompt"] == expected);
    CHECK(expected.find("/datasets/hmdb51_pose/cartwheel/clip_7.avi") != std::string::npos);
    CHECK(policy::UserText(resp.calls[0][0]) == profile.turn1_template);
    // The authors' eval: no system message (the chat template's default), fresh turn 2, original video.
    CHECK(t2.messages.size() == 1);
    CHECK(t2.videos[0]["paths"] == Json(frames));
    CHECK(out["policy"]["turn2_frames"] == "original");
    // The eval rule keeps the tags; mapping looks inside them.
    CHECK(out["policy"]["answer"] == "<answer>Cartwheel</answer>");
    CHECK(out["policy"]["mapped"] == "Cartwheel");
    CHECK(resp.samplings[0].top_p == Approx(0.001));
  }
  // A record without a path cannot fill the official template: an error for that record only.
  ScriptedResponder resp;
  resp.script = [](int, const policy::Turn&) { return std::string("<noun_explanation>no</noun_explanation>"); };
  policy::TwoTurnPolicy pol(resp, profile, cands, recog::ToolMode::kDynamic, tools);
  auto rec = MakeRecord({{"id", "np"}, {"frames", {{"paths", frames}}}});
  Json out = RunOne(pol, rec);
  CHECK(out["error"]["stage"] == "vs-policy");
  CHECK(out["error"]["message"].get<std::string>().find("\"path\"") != std::string::npos);
}

TEST_CASE("records without frames fail alone", "[policy][two-turn]") {
  auto dir = test::TempDir("two-turn-noframes");
  auto frames = WriteFrames(dir / "frames", 2);
  tools::ToolRunnerOptions opt;
  tools::ToolRunner tools(opt, "cpu");
  ScriptedResponder resp;
  resp.script = [](int, const policy::Turn&) { return std::string("<answer>wave</answer>"); };
  policy::TwoTurnPolicy pol(resp, recog::LoadProfile("clean"), CleanCandidates(), recog::ToolMode::kNone, tools);
  auto a = MakeRecord({{"id", "a"}, {"note", "no frames"}});
  auto b = MakeRecord({{"id", "b"}, {"frames", {{"paths", frames}}}});
  std::vector<io::Record*> batch = {&a, &b};
  pol.Run(batch);
  CHECK(Json::parse(a.text())["error"]["stage"] == "vs-policy");
  CHECK(Json::parse(b.text())["policy"]["mapped"] == "wave");
  REQUIRE(resp.calls.size() == 2);
  CHECK(resp.calls[0].size() == 1);  // only the record with frames reached the model
}

TEST_CASE("a record's own candidates win over --candidates for that record", "[policy][two-turn]") {
  auto dir = test::TempDir("two-turn-own-candidates");
  auto frames = WriteFrames(dir / "frames", 2);
  tools::ToolRunnerOptions opt;
  tools::ToolRunner tools(opt, "cpu");
  ScriptedResponder resp;
  resp.script = [](int, const policy::Turn&) { return std::string("<answer>jump</answer>"); };
  policy::TwoTurnPolicy pol(resp, recog::LoadProfile("clean"), CleanCandidates(),
                            recog::ToolMode::kNone, tools);
  auto own =
      MakeRecord({{"id", "a"}, {"frames", {{"paths", frames}}}, {"candidates", {"run", "jump"}}});
  auto plain = MakeRecord({{"id", "b"}, {"frames", {{"paths", frames}}}});
  auto bad =
      MakeRecord({{"id", "c"}, {"frames", {{"paths", frames}}}, {"candidates", Json::array()}});
  std::vector<io::Record*> batch = {&own, &plain, &bad};
  pol.Run(batch);
  // "jump" is one of the record's own candidates and no --candidates entry.
  CHECK(Json::parse(own.text())["policy"]["mapped"] == "jump");
  CHECK(Json::parse(plain.text())["policy"]["map_status"] != "exact");
  CHECK(Json::parse(bad.text())["error"]["message"].get<std::string>().find(
            "\"candidates\": no classes") != std::string::npos);
  REQUIRE(resp.calls.size() == 2);
  const std::string shown_own = policy::UserText(resp.calls[1][0]),
                    shown_plain = policy::UserText(resp.calls[1][1]);
  CHECK(shown_own.find("jump") != std::string::npos);
  CHECK(shown_own.find("cartwheel") == std::string::npos);
  CHECK(shown_plain.find("cartwheel") != std::string::npos);
}

TEST_CASE("turn-2 contexts: fresh, continued (turn-1 text only) and continued-video (two videos)", "[policy][two-turn]") {
  auto dir = test::TempDir("two-turn-context");
  auto frames = WriteFrames(dir / "frames", 2);
  test::WriteFile(dir / "t1.txt", "Which tools? <pose_estimation>yes|no</pose_estimation>");
  test::WriteFile(dir / "t2.txt", "Answer with one of:\n{ALLOWED_ANSWERS}");
  tools::ToolRunnerOptions opt;
  tools::ToolRunner tools(opt, "cpu");
  const std::string t1 = "<pose_estimation>no</pose_estimation>";
  for (std::string context : {"fresh", "continued", "continued-video"}) {
    auto pdir = dir / context;
    std::filesystem::create_directories(pdir);
    std::filesystem::copy_file(dir / "t1.txt", pdir / "turn1.txt");
    std::filesystem::copy_file(dir / "t2.txt", pdir / "turn2.txt");
    test::WriteFile(pdir / "profile.json",
                    Json{{"name", context},
                         {"templates", {{"dir", "profile"}, {"turn1", "turn1.txt"}, {"turn2", "turn2.txt"}}},
                         {"tools", {{{"name", "pose"}, {"tag", "pose_estimation"}, {"kind", "frames"}}}},
                         {"turn2", {{"frames", "selected"}, {"context", context}}}}
                        .dump());
    ScriptedResponder resp;
    resp.script = [&](int call, const policy::Turn& t) { return Turn2Text(call, t, t1, "<answer>wave</answer>"); };
    policy::TwoTurnPolicy pol(resp, recog::LoadProfile(pdir.string()), CleanCandidates(), recog::ToolMode::kDynamic,
                              tools);
    auto rec = MakeRecord({{"id", "c"}, {"frames", {{"paths", frames}}}});
    Json out = RunOne(pol, rec);
    INFO(context << ": " << out.dump(2));
    REQUIRE(out.contains("policy"));
    const auto& turn2 = resp.calls.at(1).at(0);
    size_t video_items = 0;
    for (const auto& m : turn2.messages)
      for (const auto& item : m.items) video_items += item.kind == model::ChatItem::Kind::kVideo;
    CHECK(video_items == turn2.videos.size());
    if (context == "fresh") {
      CHECK(turn2.messages.size() == 1);
      CHECK(turn2.videos.size() == 1);
    } else {
      REQUIRE(turn2.messages.size() == 3);
      CHECK(turn2.messages[1].role == "assistant");
      CHECK(turn2.messages[1].text == t1);
      // GRPO drops the turn-1 video; SFT keeps it, so turn 2 carries the original and the turn-2 video.
      CHECK(turn2.videos.size() == (context == "continued" ? 1u : 2u));
      if (context == "continued-video") CHECK(turn2.videos[0]["paths"] == Json(frames));
    }
  }
}

TEST_CASE("official-sft keeps the turn-1 video in turn 2, official-grpo drops it", "[policy][two-turn]") {
  VSTAR_REQUIRE_SHARED("reference/official/templates/sft.turn2.txt");
  auto templates = test::SharedDir() / "reference" / "official" / "templates";
  CHECK(recog::LoadProfile("official-sft", templates).turn2_context == "continued-video");
  CHECK(recog::LoadProfile("official-grpo", templates).turn2_context == "continued");
}

TEST_CASE("the explain tool counts only classes the explainer knows", "[policy][two-turn]") {
  tools::ToolRunnerOptions opt;  // the local explainer
  tools::ToolRunner tools(opt, "cpu");
  auto cands = recog::ParseClassList("wave\nswimming backstroke\n", "c");
  std::map<std::string, std::string> expl;
  auto r = tools.Explain(cands, &expl);
  INFO(r.report.dump());
  CHECK(r.used);
  CHECK(r.report["explained"] == 1);
  CHECK(expl.count("wave") == 1);
  CHECK(expl.count("swimming backstroke") == 0);  // its nearest entries are offered, not its definition
}

TEST_CASE("vs-policy --profile: two turns with the tiny model, and clear usage errors", "[policy][two-turn][pipeline]") {
  auto dir = test::TempDir("two-turn-cli");
  auto frames = WriteFrames(dir / "frames", 2);
  const auto model = (test::FixtureDir() / "model" / "tiny" / "model").string();
  auto cands = dir / "classes.txt";
  test::WriteFile(cands, "brush_hair\nwave\n");
  std::string input = Json{{"id", "a"}, {"frames", {{"paths", frames}, {"sample_fps", 2.0}}}}.dump() + "\n" +
                      Json{{"id", "b"}}.dump() + "\n";
  auto r = test::Run({"vs-policy", "--model", model, "--profile", "clean", "--candidates", cands.string(), "--tools",
                      "none", "--dtype", "fp32", "--device", "cpu", "--max-new-tokens", "5", "--progress", "never"},
                     input);
  INFO(r.err);
  CHECK(r.status == 3);  // record b has no frames
  auto lines = test::Lines(r.out);
  REQUIRE(lines.size() == 2);
  auto a = Json::parse(lines[0]);
  REQUIRE(a.contains("policy"));
  CHECK(a["policy"]["profile"] == "clean");
  CHECK(a["policy"]["turn1"]["tokens"].get<int>() <= 5);  // --max-new-tokens overrides the profile's 512
  CHECK(a["policy"]["turn2"]["tokens"].get<int>() <= 5);
  CHECK(a["policy"]["turn2_frames"] == "original");
  CHECK_FALSE(a["policy"].contains("turn2_prompt"));
  CHECK(Json::parse(lines[1])["error"]["stage"] == "vs-policy");

  auto tmpl = dir / "t.txt";
  test::WriteFile(tmpl, "{{video}}Describe.");
  CHECK(test::Run({"vs-policy", "--model", model, "--template", tmpl.string(), "--profile", "clean"}, "").status == 2);
  CHECK(test::Run({"vs-policy", "--model", model, "--profile", "clean", "--tools", "some"}, "").status == 2);
  auto nocand = test::Run({"vs-policy", "--model", model, "--profile", "clean"}, "");
  CHECK(nocand.status == 1);
  CHECK_THAT(nocand.err, Catch::Contains("--candidates"));
  // Without --profile (and without --template) the clean two-turn profile runs.
  auto bare = test::Run({"vs-policy", "--model", model, "--candidates", cands.string(), "--tools", "none", "--dtype",
                         "fp32", "--device", "cpu", "--max-new-tokens", "2", "--progress", "never"},
                        Json{{"id", "a"}, {"frames", {{"paths", frames}, {"sample_fps", 2.0}}}}.dump() + "\n");
  INFO(bare.err);
  CHECK(bare.status == 0);
  REQUIRE(test::Lines(bare.out).size() == 1);
  CHECK(Json::parse(test::Lines(bare.out)[0])["policy"]["profile"] == "clean");
  CHECK(test::Run({"vs-policy", "--model", model}, "").status == 1);  // clean needs --candidates
  auto notemplates = test::Run({"vs-policy", "--model", model, "--profile", "official", "--candidates", cands.string()}, "");
  CHECK(notemplates.status == 1);
  CHECK_THAT(notemplates.err, Catch::Contains("--templates"));
  auto noprofile = test::Run({"vs-policy", "--model", model, "--profile", "nosuch", "--candidates", cands.string()}, "");
  CHECK(noprofile.status == 1);
  CHECK_THAT(noprofile.err, Catch::Contains("unknown profile"));
}
