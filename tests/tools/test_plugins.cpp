// The plugin system: discovery through $VSTAR_PLUGIN_PATH, ABI and kind checks, unknown names, options.
#include <filesystem>
#include <map>
#include <set>

#include "tools/plugins.hpp"
#include "tools_support.hpp"

namespace fs = std::filesystem;
using namespace vstar::test;
using vstar::io::Json;

TEST_CASE("example plugin is found through VSTAR_PLUGIN_PATH before the default directory") {
  fs::path dir = TempDir("plugin-path");
  fs::copy_file(PluginDir() / "vstar-example.so", dir / "vstar-example.so");
  auto r = Run({"vs-plugins", "--json", "example"}, "", {{"VSTAR_PLUGIN_PATH", dir.string()}});
  REQUIRE(r.status == 0);
  auto lines = Lines(r.out);
  REQUIRE(lines.size() == 1);
  Json j = ParseLine(lines[0]);
  CHECK(j["name"] == "example");
  CHECK(j["kind"] == "detect");
  CHECK(fs::path(j["path"].get<std::string>()).parent_path() == dir);
  CHECK(j["options"][0]["name"] == "threshold");

  // And it really runs: the box of a white rectangle on black.
  WritePpm(dir / "frame.ppm", 64, 48, 10, 5, 30, 40);
  auto d = Run({"vs-detect", "--plugin", "example"}, FramesRecord("v", {dir / "frame.ppm"}),
               {{"VSTAR_PLUGIN_PATH", dir.string()}});
  REQUIRE(d.status == 0);
  Json rec = ParseLine(Lines(d.out).at(0));
  auto boxes = rec["detect"]["frames"][0]["boxes"];
  REQUIRE(boxes.size() == 1);
  CHECK(boxes[0]["xyxy"] == Json::array({10.0, 5.0, 30.0, 40.0}));
  CHECK(boxes[0]["score"] == 1.0);
  CHECK(rec["detect"]["plugin"] == "example");
}

TEST_CASE("a world-writable plugin directory or plugin file is refused with a warning") {
  fs::path dir = TempDir("plugin-world-writable");
  fs::copy_file(PluginDir() / "vstar-example.so", dir / "vstar-example.so");
  CHECK(vstar::tools::FindPlugins({dir}).size() == 1);
  fs::permissions(dir, fs::perms::others_write, fs::perm_options::add);
  CHECK(vstar::tools::FindPlugins({dir}).empty());
  // Through a binary: the warning names the directory, and the example comes from the default one.
  auto r = Run({"vs-plugins", "--json", "example"}, "", {{"VSTAR_PLUGIN_PATH", dir.string()}});
  CHECK(r.status == 0);
  CHECK(r.err.find(dir.string() + " is world-writable") != std::string::npos);
  CHECK(fs::path(ParseLine(Lines(r.out).at(0))["path"].get<std::string>()).parent_path() != dir);
  fs::permissions(dir, fs::perms::others_write, fs::perm_options::remove);
  fs::permissions(dir / "vstar-example.so", fs::perms::others_write, fs::perm_options::add);
  CHECK(vstar::tools::FindPlugins({dir}).empty());
  fs::permissions(dir / "vstar-example.so", fs::perms::others_write, fs::perm_options::remove);
  CHECK(vstar::tools::FindPlugins({dir}).size() == 1);
}

TEST_CASE("the loader refuses a plugin built for another ABI, with the numbers in the message") {
  fs::path dir = BinaryDir() / "test-plugins";
  REQUIRE(fs::exists(dir / "vstar-wrongabi.so"));
  using namespace vstar::tools;
  try {
    LoadTool("wrongabi", {dir}, {});
    FAIL("loaded a plugin with a wrong ABI");
  } catch (const PluginError& e) {
    std::string m = e.what();
    CHECK(m.find("plugin ABI " + std::to_string(vstar::plugin::kAbiVersion + 100)) != std::string::npos);
    CHECK(m.find("speaks ABI " + std::to_string(vstar::plugin::kAbiVersion)) != std::string::npos);
  }
  auto r = Run({"vs-detect", "--plugin", "wrongabi", "--plugin-path", dir.string()}, "");
  CHECK(r.status == 1);
  CHECK(r.err.find("rebuild the plugin") != std::string::npos);
  // Listing shows it as unusable rather than failing.
  auto l = Run({"vs-plugins", "--plugin-path", dir.string()});
  CHECK(l.status == 0);
  CHECK(l.out.find("wrongabi  (unusable)") != std::string::npos);
}

TEST_CASE("an unknown plugin name lists the plugins that exist") {
  auto r = Run({"vs-detect", "--plugin", "nosuchtool"}, "");
  CHECK(r.status == 1);
  CHECK(r.err.find("unknown plugin 'nosuchtool'") != std::string::npos);
  CHECK(r.err.find("hog") != std::string::npos);
  CHECK(r.err.find("example") != std::string::npos);
  CHECK(r.err.find(PluginDir().lexically_normal().string()) != std::string::npos);
}

TEST_CASE("a plugin of the wrong kind and unknown plugin options are refused") {
  auto r = Run({"vs-pose", "--plugin", "hog"}, "");
  CHECK(r.status == 1);
  CHECK(r.err.find("is a detect tool, not a pose tool") != std::string::npos);
  auto o = Run({"vs-detect", "--plugin", "hog", "--plugin-opt", "bogus=1"}, "");
  CHECK(o.status == 1);
  CHECK(o.err.find("has no option 'bogus'") != std::string::npos);
  auto bad = Run({"vs-detect", "--plugin-opt", "novalue"}, "");
  CHECK(bad.status == 2);
  auto val = Run({"vs-detect", "--plugin", "example", "--plugin-opt", "threshold=300"}, "");
  CHECK(val.status == 1);
  CHECK(val.err.find("threshold must be an integer in 0..255") != std::string::npos);
}

TEST_CASE("vs-plugins lists every built plugin with kind and options") {
  auto r = Run({"vs-plugins", "--json"});
  REQUIRE(r.status == 0);
  std::map<std::string, std::set<std::string>> kinds;
  for (const auto& line : Lines(r.out)) {
    Json j = ParseLine(line);
    REQUIRE_FALSE(j.contains("error"));
    kinds[j["name"]].insert(j["kind"].get<std::string>());
  }
  CHECK(kinds["hog"] == std::set<std::string>{"detect"});
  CHECK(kinds["example"] == std::set<std::string>{"detect"});
  if (kinds.count("yolo")) CHECK(kinds["yolo"] == std::set<std::string>{"detect", "pose"});
  if (kinds.count("topdown")) CHECK(kinds["topdown"] == std::set<std::string>{"pose"});
  CHECK(kinds["openai"] == std::set<std::string>{"describe", "explain", "teacher"});
  auto t = Run({"vs-plugins", "--kind", "teacher", "--json"});
  REQUIRE(t.status == 0);
  for (const auto& line : Lines(t.out)) CHECK(ParseLine(line)["kind"] == "teacher");
  auto p = Run({"vs-plugins", "--paths"}, "", {{"VSTAR_PLUGIN_PATH", "/a:/b"}});
  auto dirs = Lines(p.out);
  REQUIRE(dirs.size() == 3);
  CHECK(dirs[0] == "/a");
  CHECK(dirs[1] == "/b");
}

TEST_CASE("records without frames or with unreadable frames fail alone, and the stream goes on") {
  fs::path dir = TempDir("bad-frames");
  WritePpm(dir / "ok.ppm", 32, 32, 4, 4, 20, 20);
  std::string in = FramesRecord("a", {dir / "missing.png"}) + "{\"id\":\"b\"}\n" + FramesRecord("c", {dir / "ok.ppm"});
  auto r = Run({"vs-detect", "--plugin", "example"}, in);
  CHECK(r.status == 3);
  auto lines = Lines(r.out);
  REQUIRE(lines.size() == 3);
  CHECK(ParseLine(lines[0])["error"]["message"].get<std::string>().find("missing.png") != std::string::npos);
  CHECK(ParseLine(lines[1])["error"]["message"].get<std::string>().find("no `frames`") != std::string::npos);
  CHECK(ParseLine(lines[2]).contains("detect"));
}

TEST_CASE("SDK option helpers read numbers, integers and flags, naming plugin, key and value") {
  namespace vp = vstar::plugin;
  vp::Config c;
  c.values = {{"conf", "0.4"}, {"size", "416"}, {"on", "yes"}, {"off", "0"}, {"word", "high"},
              {"half", "8.5"}, {"inf", "inf"}, {"big", "300"}, {"spaced", " 1"}, {"zero", "0"},
              {"neg", "-2.5"}};
  CHECK(vp::NumberOption(c, "p", "conf", 0.25) == 0.4);
  CHECK(vp::NumberOption(c, "p", "absent", 0.25) == 0.25);
  CHECK(vp::IntegerOption(c, "p", "size", 0) == 416);
  CHECK(vp::IntegerOption(c, "p", "absent", 7) == 7);
  CHECK(vp::IntegerOption(c, "p", "zero", 7) == 0);
  CHECK(vp::NumberOption(c, "p", "neg", 1) == -2.5);
  CHECK(vp::FlagOption(c, "p", "on", false));
  CHECK_FALSE(vp::FlagOption(c, "p", "off", true));
  CHECK(vp::FlagOption(c, "p", "absent", true));
  CHECK_THROWS_WITH(vp::NumberOption(c, "hog", "word", 0), "hog: option word must be a number, got 'high'");
  CHECK_THROWS_WITH(vp::NumberOption(c, "hog", "inf", 0), "hog: option inf must be a number, got 'inf'");
  CHECK_THROWS_WITH(vp::NumberOption(c, "hog", "conf", 0, 0.5, 1), "hog: option conf must be a number in 0.5..1, got '0.4'");
  CHECK_THROWS_WITH(vp::NumberOption(c, "hog", "spaced", 0), "hog: option spaced must be a number, got ' 1'");
  CHECK_THROWS_WITH(vp::IntegerOption(c, "yolo", "half", 0), "yolo: option half must be an integer, got '8.5'");
  CHECK_THROWS_WITH(vp::IntegerOption(c, "ex", "big", 0, 0, 255), "ex: option big must be an integer in 0..255, got '300'");
  CHECK_THROWS_WITH(vp::IntegerOption(c, "ex", "big", 0, 1000), "ex: option big must be an integer >= 1000, got '300'");
  CHECK_THROWS_WITH(vp::FlagOption(c, "yolo", "word", false), "yolo: option word must be true or false, got 'high'");
  CHECK_THROWS_AS(vp::FlagOption(c, "yolo", "word", false), vp::Error);
}

TEST_CASE("a plugin's option error reaches the user with plugin, key and value") {
  auto r = Run({"vs-detect", "--plugin", "hog", "--plugin-opt", "stride=wide"}, "");
  CHECK(r.status == 1);
  CHECK(r.err.find("hog: option stride must be an integer in 8..512, got 'wide'") != std::string::npos);
}
