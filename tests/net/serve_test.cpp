// vs-serve end to end (issue 5's proof): the real server binary with the tiny Qwen2.5-VL fixture on a
// loopback port, vs-explain --what classes and --what video against it, a rerun that sends nothing
// (cache), and a clean stop on SIGTERM.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "serve_process.hpp"
#include "support.hpp"

namespace fs = std::filesystem;
using Json = nlohmann::json;

namespace {

std::vector<Json> Records(const std::string& out) {
  std::vector<Json> r;
  for (const auto& l : vstar::test::Lines(out))
    if (!l.empty()) r.push_back(Json::parse(l));
  return r;
}

void WritePpm(const fs::path& p, int w, int h, int seed) {
  std::ofstream f(p, std::ios::binary);
  f << "P6\n" << w << " " << h << "\n255\n";
  for (int i = 0; i < w * h * 3; ++i) f.put(static_cast<char>((i * 7 + seed * 31) & 0xFF));
}

}  // namespace

TEST_CASE("vs-serve: vs-explain against the tiny model, cached rerun, SIGTERM") {
  VSTAR_REQUIRE_BINARY("vs-serve");
  fs::path serve = vstar::test::BinDir() / "vs-serve";
  fs::path model = vstar::test::FixtureDir() / "model/tiny/model";
  REQUIRE(fs::exists(model / "config.json"));
  auto dir = vstar::test::TempDir("serve-e2e");
  std::string cache = (dir / "cache").string();
  vstar::test::ServeProcess server(
      {serve.string(), "--model", model.string(), "--port", "0", "--device", "cpu", "--dtype",
       "fp32", "--max-new-tokens", "6", "--served-model-name", "tiny", "--max-batch", "2"},
      dir, cache);
  INFO(vstar::test::ReadFile(server.log));
  REQUIRE(server.port > 0);
  std::string endpoint = "http://127.0.0.1:" + std::to_string(server.port) + "/v1";
  std::map<std::string, std::string> env = {{"VSTAR_CACHE", cache}};

  vstar::test::WriteFile(dir / "classes.txt", "brush_hair\ncartwheel\nwave\n");
  std::vector<std::string> classes = {"vs-explain", "--what", "classes", "--classes", (dir / "classes.txt").string(),
                                      "--plugin", "openai", "--endpoint", endpoint, "--api-model", "tiny",
                                      "--plugin-opt", "max_tokens=6"};
  auto first = vstar::test::Run(classes, "", env);
  INFO(first.err);
  auto recs = Records(first.out);
  REQUIRE(recs.size() == 3);
  for (const auto& r : recs) {
    // A random tiny model may answer only special tokens (empty text): then the record says so.
    if (r.contains("error")) CHECK(r["error"]["message"].get<std::string>().find("empty text") != std::string::npos);
    else CHECK(r["explain"]["source"] == "openai:tiny");
  }

  Json paths = Json::array();
  for (int i = 0; i < 6; ++i) {
    auto p = dir / ("f" + std::to_string(i) + ".ppm");
    WritePpm(p, 64, 48, i);
    paths.push_back(p.string());
  }
  std::string input = Json{{"id", "clip"}, {"frames", {{"paths", paths}}}}.dump() + "\n";
  std::vector<std::string> video = {"vs-explain", "--what", "video", "--plugin", "openai", "--num-frames", "4",
                                    "--endpoint", endpoint, "--api-model", "tiny", "--plugin-opt", "max_tokens=6"};
  auto v = vstar::test::Run(video, input, env);
  INFO(v.err);
  auto vrecs = Records(v.out);
  REQUIRE(vrecs.size() == 1);
  if (!vrecs[0].contains("error")) {
    CHECK(vrecs[0]["explain"]["video_frames"] == Json::array({0, 2, 3, 5}));
  } else {
    CHECK(vrecs[0]["error"]["message"].get<std::string>().find("empty text") != std::string::npos);
  }

  // Everything again: answered from the cache, so only the requests that failed reach the server.
  size_t failed = 0;
  for (const auto& r : recs) failed += r.contains("error");
  failed += vrecs[0].contains("error");
  auto again = vstar::test::Run(classes, "", env);
  auto again_v = vstar::test::Run(video, input, env);
  CHECK(Records(again.out).size() == 3);
  CHECK(Records(again_v.out).size() == 1);

  CHECK(server.Stop() == 0);
  std::string log = vstar::test::ReadFile(server.log);
  INFO(log);
  CHECK(log.find("SIGTERM") != std::string::npos);
  CHECK(log.find("stopped after " + std::to_string(4 + failed) + " requests") != std::string::npos);
}

TEST_CASE(
    "vs-serve --api-key-env: only keyed clients get answers, and the key is in no log, record or "
    "cache file") {
  VSTAR_REQUIRE_BINARY("vs-serve");
  VSTAR_REQUIRE_BINARY("vs-explain");
  const std::string key = "sk-vstar-serve-0123456789abcdef";
  ::setenv("VSTAR_TEST_SERVE_E2E_KEY", key.c_str(), 1);  // the server inherits it
  fs::path model = vstar::test::FixtureDir() / "model/tiny/model";
  auto dir = vstar::test::TempDir("serve-key");
  std::string cache = (dir / "cache").string();
  vstar::test::ServeProcess server(
      {(vstar::test::BinDir() / "vs-serve").string(), "--model", model.string(), "--port", "0",
       "--device", "cpu", "--dtype", "fp32", "--max-new-tokens", "4", "--served-model-name", "tiny",
       "--api-key-env", "VSTAR_TEST_SERVE_E2E_KEY", "--log-level", "debug"},
      dir, cache);
  INFO(vstar::test::ReadFile(server.log));
  REQUIRE(server.port > 0);
  vstar::test::WriteFile(dir / "classes.txt", "wave\n");
  std::vector<std::string> ask = {"vs-explain",
                                  "--what",
                                  "classes",
                                  "--classes",
                                  (dir / "classes.txt").string(),
                                  "--plugin",
                                  "openai",
                                  "--endpoint",
                                  "http://127.0.0.1:" + std::to_string(server.port) + "/v1",
                                  "--api-model",
                                  "tiny",
                                  "--plugin-opt",
                                  "max_tokens=4",
                                  "--log-level",
                                  "debug",
                                  "--retries",
                                  "0"};
  std::map<std::string, std::string> env = {{"VSTAR_CACHE", cache},
                                            {"VSTAR_TEST_SERVE_E2E_KEY", key}};
  auto anonymous = vstar::test::Run(ask, "", env);
  INFO(anonymous.err);
  CHECK(anonymous.status == 3);
  CHECK(anonymous.out.find("HTTP 401") != std::string::npos);
  ask.insert(ask.end(), {"--api-key-env", "VSTAR_TEST_SERVE_E2E_KEY"});
  auto keyed = vstar::test::Run(ask, "", env);
  INFO(keyed.err);
  CHECK(keyed.out.find("HTTP 401") == std::string::npos);
  auto recs = Records(keyed.out);
  REQUIRE(recs.size() == 1);
  // A random tiny model may answer only special tokens (empty text): then the record says so.
  if (recs[0].contains("error"))
    CHECK(recs[0]["error"]["message"].get<std::string>().find("empty text") != std::string::npos);
  else
    CHECK(recs[0]["explain"]["source"] == "openai:tiny");
  CHECK(server.Stop() == 0);

  const std::string log = vstar::test::ReadFile(server.log);
  INFO(log);
  CHECK(log.find("stopped after 2 requests") != std::string::npos);
  for (const std::string* text : std::vector<const std::string*>{
           &log, &anonymous.out, &anonymous.err, &keyed.out, &keyed.err}) {
    CHECK(text->find(key) == std::string::npos);
    CHECK(text->find(key.substr(3, 16)) == std::string::npos);
  }
  size_t files = 0;
  for (auto& e : fs::recursive_directory_iterator(cache)) {
    if (!e.is_regular_file()) continue;
    ++files;
    INFO(e.path());
    CHECK(vstar::test::ReadFile(e.path()).find(key.substr(3, 16)) == std::string::npos);
  }
  CHECK(files > 0);
}
