// The synthetic world's teacher: its chains pass vs-decompose's own verification on every class, name the
// true sub-motions first, and score the true class highest.
#include <fstream>

#include <nlohmann/json.hpp>

#include "policy/decompose.hpp"
#include "recog/classlist.hpp"
#include "recog/profile.hpp"
#include "support.hpp"
#include "synth/teacher.hpp"

namespace fs = std::filesystem;

TEST_CASE("synth teacher: chains of every class verify, true class first and best", "[synth][teacher]") {
  VSTAR_REQUIRE_BINARY("vs-synth");
  const fs::path dir = vstar::test::TempDir("synth-teacher");
  auto r = vstar::test::Run({"vs-synth", "--out", dir.string(), "--per-class", "1", "--seed", "3"});
  INFO(r.err);
  REQUIRE(r.status == 0);
  const auto candidates = vstar::recog::LoadClassList(dir / "classes.txt");
  const std::vector<std::string> names = candidates.Names();
  const auto profile = vstar::recog::LoadProfile("clean", "");
  std::ifstream in(dir / "truth.jsonl");
  size_t n = 0;
  for (std::string line; std::getline(in, line); ++n) {
    const auto truth = nlohmann::ordered_json::parse(line);
    const std::string label = truth["label"];
    INFO(label);
    // A text-reading student is sent to the motion summary and the definitions; a frame-reading one to
    // the skeleton overlays (and to definitions only when a candidate is novel: here some always are).
    const std::string t1 = vstar::synth::TeacherTurn1(truth, names);
    CHECK(vstar::policy::VerifyTurn1(profile, t1).empty());
    CHECK(t1.find("<pose_estimation>no</pose_estimation>") != std::string::npos);
    CHECK(t1.find("<video_description>yes</video_description>") != std::string::npos);
    CHECK(t1.find("<action_explanation>yes</action_explanation>") != std::string::npos);
    CHECK(t1.find(label) == std::string::npos);  // turn 1 never names the answer
    const std::string f1 = vstar::synth::TeacherTurn1(truth, names, vstar::synth::Student::kFrames);
    CHECK(vstar::policy::VerifyTurn1(profile, f1).empty());
    CHECK(f1.find("<pose_estimation>yes</pose_estimation>") != std::string::npos);
    CHECK(f1.find("<video_description>no</video_description>") != std::string::npos);
    CHECK(f1.find(label) == std::string::npos);
    const std::string t2 = vstar::synth::TeacherTurn2(truth, names);
    INFO(t2);
    CHECK(vstar::policy::VerifyTurn2(profile, candidates, label, t2).empty());
    // [2] starts with the true class, and its [3] score is 10 and the highest.
    const size_t s2 = t2.find("[2]"), s3 = t2.find("[3]");
    CHECK(t2.find("- " + label + ":", s2) < t2.find("\n", t2.find("\n", s2) + 1));
    const size_t own = t2.find("- " + label + ": 10 - ", s3);
    CHECK(own != std::string::npos);
  }
  CHECK(n == names.size());
}

TEST_CASE("synth teacher: refuses a missing truth file and answers unknown ids with an error", "[synth][teacher]") {
  CHECK_THROWS_WITH(vstar::synth::MakeTeacher({}), Catch::Contains("truth="));
  CHECK_THROWS_WITH(vstar::synth::MakeTeacher({"truth=/nonexistent/truth.jsonl"}), Catch::Contains("cannot open"));
  CHECK_THROWS_WITH(vstar::synth::MakeTeacher({"truth=x", "student=pixels"}), Catch::Contains("student=text|frames"));
  const fs::path dir = vstar::test::TempDir("synth-teacher-ids");
  vstar::test::WriteFile(dir / "truth.jsonl", "");
  auto teacher = vstar::synth::MakeTeacher({"truth=" + (dir / "truth.jsonl").string()});
  vstar::plugin::TeachRequest req;
  req.id = "nope";
  req.stage = "turn2";
  auto replies = teacher->Teach({req});
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].error.find("no truth for id nope") != std::string::npos);
}

TEST_CASE("synth teacher: answers the ids of a real truth file", "[synth][teacher]") {
  VSTAR_REQUIRE_BINARY("vs-synth");
  const fs::path dir = vstar::test::TempDir("synth-teacher-file");
  auto r = vstar::test::Run({"vs-synth", "--out", dir.string(), "--per-class", "1", "--seed", "4", "--classes", "wave,clap"});
  INFO(r.err);
  REQUIRE(r.status == 0);
  auto teacher = vstar::synth::MakeTeacher({"truth=" + (dir / "truth.jsonl").string()});
  std::ifstream in(dir / "truth.jsonl");
  std::vector<vstar::plugin::TeachRequest> reqs;
  for (std::string line; std::getline(in, line);) {
    vstar::plugin::TeachRequest req;
    req.id = nlohmann::ordered_json::parse(line)["id"];
    req.stage = "turn2";
    req.candidates = {"Wave", "Clap"};
    reqs.push_back(req);
  }
  REQUIRE(reqs.size() == 2);
  auto replies = teacher->Teach(reqs);
  REQUIRE(replies.size() == 2);
  for (const auto& reply : replies) {
    INFO(reply.error);
    CHECK(reply.error.empty());
    CHECK(reply.text.find("<answer>") != std::string::npos);
  }
}
