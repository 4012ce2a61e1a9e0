// The text tools (tools/text.hpp) and vs-explain end to end: the real binary and plugins against
// loopback OpenAI-compatible servers.
#include <fstream>

#include <nlohmann/json.hpp>

#include "net/image.hpp"
#include "net/loopback.hpp"
#include "support.hpp"
#include "tools/text.hpp"
#include "video/sampling.hpp"

using vstar::test::LoopbackServer;
using Json = nlohmann::json;

namespace {

std::vector<Json> Records(const std::string& out) {
  std::vector<Json> r;
  for (const auto& l : vstar::test::Lines(out))
    if (!l.empty()) r.push_back(Json::parse(l));
  return r;
}

// A small binary PPM (OpenCV reads it) filled with one grey level.
void WritePpm(const std::filesystem::path& p, int w, int h, unsigned char level) {
  std::ofstream f(p, std::ios::binary);
  f << "P6\n" << w << " " << h << "\n255\n";
  std::string px(static_cast<size_t>(w * h * 3), static_cast<char>(level));
  f << px;
}

// Answers a class request with "Legs: <class word>" and a video request with the image count.
void Echo(const httplib::Request& req, httplib::Response& res, int) {
  auto body = Json::parse(req.body);
  const auto& content = body["messages"].back()["content"];
  if (content.is_string()) {
    std::string ask = content.get<std::string>();
    auto a = ask.find('"'), b = ask.find('"', a + 1);
    std::string name = ask.substr(a + 1, b - a - 1);
    if (name == "Forbidden") {
      res.status = 401;
      res.set_content(R"({"error":{"message":"no access"}})", "application/json");
      return;
    }
    res.set_content(LoopbackServer::Completion("Legs: " + name + "\n"), "application/json");
    return;
  }
  int images = 0;
  bool data_urls = true;
  for (const auto& part : content)
    if (part["type"] == "image_url") {
      ++images;
      data_urls &= part["image_url"]["url"].get<std::string>().rfind("data:image/jpeg;base64,/9j/", 0) == 0;
    }
  res.set_content(LoopbackServer::Completion(std::to_string(images) + " frames" + (data_urls ? "" : " (bad urls)")),
                  "application/json");
}

}  // namespace

TEST_CASE("explain: frames are chosen evenly over the whole clip") {
  using vstar::video::EvenFrameIndices;
  CHECK(EvenFrameIndices(30, 3) == std::vector<size_t>{5, 15, 25});  // the authors' code takes 0, 10, 20
  CHECK(EvenFrameIndices(16, 4) == std::vector<size_t>{2, 6, 10, 14});
  CHECK(EvenFrameIndices(3, 8) == std::vector<size_t>{0, 1, 2});
  CHECK(EvenFrameIndices(0, 8).empty());
  for (size_t total : {7, 10, 64, 301})
    for (size_t n : {1, 2, 3, 5}) {
      auto idx = EvenFrameIndices(total, n);
      if (n >= 2) CHECK(idx.back() * 3 >= 2 * total - 3);  // the last third is represented
      CHECK(std::is_sorted(idx.begin(), idx.end()));
      CHECK(idx.back() < total);
    }
}

TEST_CASE("explain: base64 and JPEG data URLs") {
  using vstar::net::Base64;
  CHECK(Base64("") == "");
  CHECK(Base64("f") == "Zg==");
  CHECK(Base64("fo") == "Zm8=");
  CHECK(Base64("foo") == "Zm9v");
  CHECK(Base64("foobar") == "Zm9vYmFy");
  std::vector<std::uint8_t> px(40 * 20 * 3, 128);
  vstar::plugin::Image img{40, 20, 120, px.data(), "x"};
  auto url = vstar::net::JpegDataUrl(img, 16, 85);
  CHECK(url.rfind("data:image/jpeg;base64,/9j/", 0) == 0);  // "/9j/" = FF D8 FF, the JPEG start
  vstar::plugin::Image bad{40, 20, 10, px.data(), "bad"};
  CHECK_THROWS_AS(vstar::net::JpegDataUrl(bad, 0, 85), vstar::plugin::Error);
}

TEST_CASE("vs-explain classes: local plugin by default, JSONL per class") {
  auto dir = vstar::test::TempDir("explain-local");
  vstar::test::WriteFile(dir / "c.json", R"({"0": "Brush hair: uses a brush", "1": "Xyzzy"})");
  auto r = vstar::test::Run({"vs-explain", "--what", "classes", "--classes", (dir / "c.json").string()});
  INFO(r.err);
  CHECK(r.status == 0);
  auto recs = Records(r.out);
  REQUIRE(recs.size() == 2);
  CHECK(recs[0]["id"] == "0");
  CHECK(recs[0]["class"] == "Brush hair");
  CHECK(recs[0]["description"] == "uses a brush");
  CHECK(recs[0]["explain"]["found"] == true);
  CHECK(recs[0]["explain"]["plugin"] == "local");
  CHECK(recs[1]["explain"]["found"] == false);
  CHECK(recs[1]["explain"]["text"].is_null());
  // An unknown class's nearest entries are offered, marked, and never count as its explanation.
  vstar::test::WriteFile(dir / "u.txt", "Swimming backstroke\n");
  auto u = vstar::test::Run({"vs-explain", "--classes", (dir / "u.txt").string()});
  INFO(u.err);
  REQUIRE(u.status == 0);
  auto unknown = Records(u.out);
  REQUIRE(unknown.size() == 1);
  CHECK(unknown[0]["explain"]["found"] == false);
  CHECK(unknown[0]["explain"]["text"].is_null());
  CHECK(unknown[0]["explain"]["offered"].get<std::string>().rfind("No definition of 'Swimming backstroke'", 0) == 0);
}

TEST_CASE("text tools: the describer's frames and the explainer's entries") {
  auto dir = vstar::test::TempDir("text-frames");
  Json paths = Json::array();
  for (int i = 0; i < 5; ++i) {
    auto p = dir / ("f" + std::to_string(i) + ".ppm");
    WritePpm(p, 8, 6, static_cast<unsigned char>(40 * i));
    paths.push_back(p.string());
  }
  auto picked = vstar::tools::FramesToDescribe({{"paths", paths}, {"indices", {0, 3, 6, 9, 12}}}, 2);
  CHECK(picked.chosen.dump() == "[3,9]");  // frames 1 and 3 of 5
  REQUIRE(picked.images.size() == 2);
  CHECK(picked.images[0].width == 8);
  CHECK(picked.images[1].data[0] == 120);
  CHECK(vstar::tools::FramesToDescribe(Json::object(), 4).images.empty());
  CHECK_THROWS_AS(vstar::tools::FramesToDescribe({{"paths", {(dir / "absent.ppm").string()}}}, 1), vstar::plugin::Error);
  CHECK(vstar::tools::ExplainerEntry({"Wave", "hand swings", "", ""}) == "Wave: hand swings");
  CHECK(vstar::tools::ExplainerEntry({"Wave", "", "", ""}) == "Wave");
}

TEST_CASE("vs-explain classes over openai: records, a failing class, and a fully cached rerun") {
  LoopbackServer s(Echo);
  auto dir = vstar::test::TempDir("explain-openai");
  vstar::test::WriteFile(dir / "c.txt", "Brush hair\nForbidden\nCartwheel: wheels sideways\nWave\n");
  std::map<std::string, std::string> env = {{"VSTAR_CACHE", (dir / "cache").string()}};
  std::vector<std::string> argv = {"vs-explain", "--what", "classes", "--classes", (dir / "c.txt").string(),
                                   "--plugin", "openai", "--endpoint", s.endpoint(), "--api-model", "echo",
                                   "--jobs", "2", "--retries", "0"};
  auto r = vstar::test::Run(argv, "", env);
  INFO(r.err);
  CHECK(r.status == 3);  // finished, one record carries an error
  auto recs = Records(r.out);
  REQUIRE(recs.size() == 4);
  CHECK(recs[0]["explain"]["text"] == "Legs: Brush hair");
  CHECK(recs[0]["explain"]["plugin"] == "openai");
  CHECK(recs[1]["error"]["stage"] == "vs-explain");
  CHECK(recs[1]["error"]["message"].get<std::string>().find("HTTP 401") != std::string::npos);
  CHECK(recs[2]["explain"]["text"] == "Legs: Cartwheel");
  CHECK(recs[3]["explain"]["found"] == true);
  int first = s.calls();
  CHECK(first == 4);
  CHECK(s.last_body().find("\"model\":\"echo\"") != std::string::npos);

  auto again = vstar::test::Run(argv, "", env);
  CHECK(again.status == 3);
  CHECK(s.calls() == first + 1);  // only the failed class asks again; the rest come from the cache
  auto recs2 = Records(again.out);
  CHECK(recs2[0]["explain"]["source"].get<std::string>().find("(cached)") != std::string::npos);
  CHECK(recs2[0]["explain"]["text"] == recs[0]["explain"]["text"]);

  auto argv_nc = argv;
  argv_nc.push_back("--no-cache");
  vstar::test::Run(argv_nc, "", env);
  CHECK(s.calls() == first + 1 + 4);
}

TEST_CASE("vs-explain video over openai: evenly spread frames as data URLs, other records kept") {
  LoopbackServer s(Echo);
  auto dir = vstar::test::TempDir("explain-video");
  Json paths = Json::array(), indices = Json::array();
  for (int i = 0; i < 12; ++i) {
    auto p = dir / ("f" + std::to_string(i) + ".ppm");
    WritePpm(p, 32, 24, static_cast<unsigned char>(10 * i));
    paths.push_back(p.string());
    indices.push_back(i * 5);
  }
  Json good = {{"id", "v1"}, {"frames", {{"paths", paths}, {"indices", indices}}}};
  Json missing = {{"id", "v2"}, {"frames", {{"paths", {(dir / "absent.ppm").string()}}}}};
  Json passthrough = {{"id", "v3"}, {"error", {{"stage", "vs-decode"}, {"message", "earlier"}}}};
  std::string input = good.dump() + "\n" + missing.dump() + "\n" + passthrough.dump() + "\n";
  auto r = vstar::test::Run({"vs-explain", "--what", "video", "--plugin", "openai", "--num-frames", "3",
                             "--endpoint", s.endpoint(), "--api-model", "vlm"},
                            input, {{"VSTAR_CACHE", (dir / "cache").string()}});
  INFO(r.err);
  CHECK(r.status == 3);
  auto recs = Records(r.out);
  REQUIRE(recs.size() == 3);
  CHECK(recs[0]["explain"]["video"] == "3 frames");
  CHECK(recs[0]["explain"]["video_frames"] == Json::array({10, 30, 50}));  // frames 2, 6, 10 of 12
  CHECK(recs[0]["explain"]["video_plugin"] == "openai");
  CHECK(recs[1]["error"]["message"].get<std::string>().find("cannot read frame") != std::string::npos);
  CHECK(recs[2]["error"]["stage"] == "vs-decode");
  CHECK(s.calls() == 1);
}

TEST_CASE("vs-explain video over precomputed descriptions") {
  auto dir = vstar::test::TempDir("explain-pre");
  vstar::test::WriteFile(dir / "d.json",
                         R"([{"path": "walk/a.avi", "problem_id": 1, "analysis": "Legs step forward."}])");
  std::string input = R"({"id":"x","video":"/data/hmdb51/walk/a.avi"})" "\n" R"({"id":"y","video":"/data/run/b.avi"})" "\n";
  auto r = vstar::test::Run({"vs-explain", "--what", "video", "--plugin", "precomputed", "--plugin-opt",
                             "descriptions=" + (dir / "d.json").string()},
                            input);
  INFO(r.err);
  CHECK(r.status == 0);
  auto recs = Records(r.out);
  REQUIRE(recs.size() == 2);
  CHECK(recs[0]["video"] == "/data/hmdb51/walk/a.avi");  // untouched
  CHECK(recs[0]["explain"]["video"] == "Legs step forward.");
  CHECK(recs[1]["explain"]["video"].is_null());
  CHECK(recs[1]["explain"]["video_found"] == false);
}

TEST_CASE("vs-explain usage errors") {
  CHECK(vstar::test::Run({"vs-explain", "--what", "video"}, "").status == 2);
  CHECK(vstar::test::Run({"vs-explain", "--what", "classes"}, "").status == 2);
  CHECK(vstar::test::Run({"vs-explain", "--what", "nonsense"}, "").status == 2);
  auto dir = vstar::test::TempDir("explain-usage");
  vstar::test::WriteFile(dir / "c.txt", "run\n");
  auto r = vstar::test::Run({"vs-explain", "--classes", (dir / "c.txt").string(), "--plugin-opt", "bogus=1"});
  CHECK(r.status == 2);
  CHECK(r.err.find("no option 'bogus'") != std::string::npos);
  auto r2 = vstar::test::Run({"vs-explain", "--classes", (dir / "c.txt").string(), "--plugin", "nope"});
  CHECK(r2.status == 1);
  CHECK(r2.err.find("unknown plugin 'nope'") != std::string::npos);
  auto r3 = vstar::test::Run({"vs-explain", "--classes", (dir / "absent.txt").string()});
  CHECK(r3.status == 1);
  CHECK(r3.err.find("cannot open") != std::string::npos);
}
