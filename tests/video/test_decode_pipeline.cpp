// Pipeline tests of the real vs-decode binary. References are independent of our decoder:
// frame counts from `ffprobe -count_frames`, frame rates from ffprobe, pixels from the ffmpeg CLI
// (`select=eq(n\,i)`, autorotate, rgb24 rawvideo), timestamps from ffprobe's best_effort_timestamp_time.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "io/cache.hpp"
#include "support.hpp"
#include "video/image_io.hpp"
#include "video/resize.hpp"
#include "video/sampling.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using vstar::test::Run;
using namespace vstar::video;

namespace {

std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

vstar::test::RunResult Sh(const std::string& cmd) { return Run({"/bin/sh", "-c", cmd}); }

// Decoded frame count as ffprobe counts it (a full decode).
int64_t ProbeCount(const fs::path& f) {
  auto r = Sh("ffprobe -v error -select_streams v:0 -count_frames -show_entries stream=nb_read_frames -of csv=p=0 " +
              Quote(f.string()));
  REQUIRE(r.status == 0);
  return std::stoll(r.out);
}

double ProbeFps(const fs::path& f) {
  auto r = Sh("ffprobe -v error -select_streams v:0 -show_entries stream=avg_frame_rate -of csv=p=0 " +
              Quote(f.string()));
  REQUIRE(r.status == 0);
  long long num = 0, den = 1;
  REQUIRE(std::sscanf(r.out.c_str(), "%lld/%lld", &num, &den) == 2);
  return den ? static_cast<double>(num) / static_cast<double>(den) : 0.0;
}

// Seconds since the first frame for every decoded frame: pts_time, or index / fps when the
// container gives frames no pts (AVI with B-frames).
std::vector<double> ProbeTimes(const fs::path& f, double fps) {
  auto r = Sh("ffprobe -v error -select_streams v:0 -show_entries frame=pts_time -of csv=p=0 " + Quote(f.string()));
  REQUIRE(r.status == 0);
  std::vector<double> t;
  bool all = true;
  for (const auto& line : vstar::test::Lines(r.out)) {
    if (line.empty()) continue;
    if (line.rfind("N/A", 0) == 0) {
      all = false;
      t.push_back(0);
    } else {
      t.push_back(std::stod(line));
    }
  }
  for (size_t i = 0; i < t.size(); ++i) t[i] = all ? t[i] - t[0] : static_cast<double>(i) / fps;
  return t;
}

// RGB24 pixels of the decoded frames at `indices` (ascending, distinct) from the ffmpeg CLI
// (autorotated), one string of `frame_bytes` per index.
std::vector<std::string> CliFrames(const fs::path& f, const std::vector<int64_t>& indices, size_t frame_bytes) {
  std::string select;
  for (int64_t i : indices) select += (select.empty() ? "" : "+") + std::string("eq(n\\,") + std::to_string(i) + ")";
  auto r = Sh("ffmpeg -nostdin -v error -i " + Quote(f.string()) + " -vf \"select='" + select +
              "'\" -fps_mode passthrough -pix_fmt rgb24 -f rawvideo -");
  REQUIRE(r.status == 0);
  REQUIRE(r.out.size() == frame_bytes * indices.size());
  std::vector<std::string> frames;
  for (size_t k = 0; k < indices.size(); ++k) frames.push_back(r.out.substr(k * frame_bytes, frame_bytes));
  return frames;
}

std::vector<json> Records(const std::string& out) {
  std::vector<json> recs;
  for (const auto& line : vstar::test::Lines(out))
    if (!line.empty()) recs.push_back(json::parse(line));
  return recs;
}

// Checks one vs-decode record against the references for its file.
void CheckAgainstReferences(const json& rec, const fs::path& file, const QwenConstants& set, bool check_pixels = true) {
  INFO(file.string());
  REQUIRE_FALSE(rec.contains("error"));
  const json& fr = rec.at("frames");
  const int64_t total = ProbeCount(file);
  CHECK(fr.at("total").get<int64_t>() == total);
  const double fps = ProbeFps(file);
  CHECK(fr.at("fps").get<double>() == Approx(fps));
  const int64_t n = SmartNFrames(set, total, fps);
  const auto indices = fr.at("indices").get<std::vector<int64_t>>();
  CHECK(indices == LinspaceRound(total, n));
  CHECK(fr.at("sample_fps").get<double>() == Approx(static_cast<double>(n) / static_cast<double>(total) * fps));
  const auto paths = fr.at("paths").get<std::vector<std::string>>();
  REQUIRE(paths.size() == indices.size());
  const auto times = ProbeTimes(file, fps);
  REQUIRE(static_cast<int64_t>(times.size()) == total);
  const auto ts = fr.at("timestamps").get<std::vector<double>>();
  REQUIRE(ts.size() == indices.size());
  for (size_t i = 0; i < indices.size(); ++i)
    CHECK(ts[i] == Approx(times[static_cast<size_t>(indices[i])]).margin(1e-6));
  if (!check_pixels) return;
  const size_t frame_bytes = fr.at("width").get<size_t>() * fr.at("height").get<size_t>() * 3;
  const auto ref = CliFrames(file, indices, frame_bytes);
  for (size_t i = 0; i < indices.size(); ++i) {
    INFO("frame " << indices[i]);
    REQUIRE(fs::path(paths[i]).is_absolute());
    const Image img = ReadImageRgb(paths[i]);
    CHECK(img.width == fr.at("width").get<int>());
    CHECK(img.height == fr.at("height").get<int>());
    const std::string ours(img.pixels.begin(), img.pixels.end());
    REQUIRE(ref[i].size() == ours.size());
    CHECK(vstar::io::Sha256Hex(ours) == vstar::io::Sha256Hex(ref[i]));
  }
}

struct EncodedClips {
  fs::path dir;
  std::map<std::string, fs::path> files;  // name -> path
};

// Clips the tests encode themselves with FFmpeg's encoders (through the ffmpeg CLI, i.e. libav*):
// several codecs and containers, B-frames, short GOPs so that seeking is exercised, an open-GOP
// stream, variable frame rate, rotation metadata, a truncated file, a file that is not video.
const EncodedClips& Encoded() {
  static EncodedClips clips = [] {
    EncodedClips c;
    c.dir = vstar::test::TempDir("video-encoded");
    const std::string src = "-f lavfi -i testsrc2=size=176x144:rate=25 -t 3";
    auto encode = [&](const std::string& name, const std::string& args) {
      const fs::path out = c.dir / name;
      auto r = Sh("cd " + Quote(c.dir.string()) + " && ffmpeg -nostdin -y -v error " + args + " " + Quote(name));
      if (r.status == 0 && fs::exists(out)) c.files[name] = out;
      else WARN("could not encode " << name << ": " << r.err);
    };
    encode("h264.mp4", src + " -c:v libx264 -bf 2 -g 12 -pix_fmt yuv420p -movflags +faststart");
    encode("h264_opengop.mkv", src + " -c:v libx264 -bf 3 -x264opts open-gop=1:keyint=15 -pix_fmt yuv420p");
    encode("mpeg4.avi", src + " -c:v mpeg4 -bf 2 -g 10");
    encode("mpeg4_b.mp4", src + " -c:v mpeg4 -bf 2 -g 10");
    encode("mjpeg.avi", src + " -c:v mjpeg -q:v 3");
    encode("vp9.webm", src + " -c:v libvpx-vp9 -g 10 -b:v 200k");
    encode("vfr.mp4", src + " -vf \"setpts='if(lt(N,20),N,N+25)/(25*TB)'\" -fps_mode vfr -c:v libx264 -g 12");
    encode("odd.mp4", "-f lavfi -i testsrc2=size=170x130:rate=30 -t 1.5 -c:v libx264 -pix_fmt yuv420p");
    if (c.files.count("h264.mp4")) {
      // Rotation: remux with a display matrix (the mov muxer writes it from the rotate tag).
      encode("rotated.mp4", "-i h264.mp4 -c copy -metadata:s:v:0 rotate=90");
      // Truncated: the moov atom is at the front (+faststart), the media data is cut.
      const std::string bytes = vstar::test::ReadFile(c.files["h264.mp4"]);
      vstar::test::WriteFile(c.dir / "truncated.mp4", bytes.substr(0, bytes.size() * 6 / 10));
      c.files["truncated.mp4"] = c.dir / "truncated.mp4";
    }
    vstar::test::WriteFile(c.dir / "not_video.mp4", "this is a text file, not a video\n");
    c.files["not_video.mp4"] = c.dir / "not_video.mp4";
    return c;
  }();
  return clips;
}

std::map<std::string, std::string> FreshCache(const std::string& tag) {
  return {{"VSTAR_CACHE", vstar::test::TempDir(tag).string()}};
}

}  // namespace

TEST_CASE("vs-decode over every shared clip: rule indices, true counts, CLI pixels", "[video][pipeline]") {
  VSTAR_REQUIRE_SHARED("assets/videos");
  const fs::path root = vstar::test::SharedDir() / "assets" / "videos";
  std::vector<fs::path> clips;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file()) clips.push_back(e.path());
  std::sort(clips.begin(), clips.end());
  REQUIRE(clips.size() >= 14);
  std::string manifest;
  for (size_t i = 0; i < clips.size(); ++i)
    manifest += json{{"id", "clip" + std::to_string(i)}, {"video", fs::relative(clips[i], root).string()},
                     {"label", "x"}}.dump() + "\n";
  auto r = Run({"vs-decode", "--root", root.string(), "--threads", "2"}, manifest, FreshCache("video-shared"));
  INFO(r.err);
  REQUIRE(r.status == 0);
  const auto recs = Records(r.out);
  REQUIRE(recs.size() == clips.size());
  for (size_t i = 0; i < clips.size(); ++i) {
    CHECK(recs[i]["id"] == "clip" + std::to_string(i));  // input order
    CHECK(recs[i]["label"] == "x");                     // other keys pass through
    CheckAgainstReferences(recs[i], clips[i], kQwenVideoStar);
  }
  // The traps named in assets/README.md.
  auto find = [&](const std::string& stem) {
    for (size_t i = 0; i < clips.size(); ++i)
      if (clips[i].stem() == stem) return recs[i]["frames"];
    FAIL("missing " << stem);
    return json();
  };
  CHECK(find("RATRACE_wave_f_nm_np1_fr_goo_37")["total"] == 72);  // header says 73
  CHECK(find("SchoolRulesHowTheyHelpUs_wave_f_nm_np1_ba_med_0")["total"] == 74);
  CHECK(find("ssv2_166766_vp9")["total"] == 49);  // no nb_frames in the container
  const json rot = find("rotation_90");
  CHECK(rot["width"] == 320);
  CHECK(rot["height"] == 568);
  CHECK(rot["source_width"] == 320);
  CHECK(rot["rotation"] == 90);
  CHECK(find("var_fps_video")["fps"].get<double>() == Approx(20.089).epsilon(1e-3));
  for (const auto& stem : {"arm_wrestling_mmaction2_demo", "clean_and_jerk", "v_SoccerJuggling_g23_c01"})
    CHECK(find(stem)["indices"].size() == 16);  // >= 8 s
}

TEST_CASE("vs-decode: the upstream constant set and other rules on a shared clip", "[video][pipeline]") {
  VSTAR_REQUIRE_SHARED("assets/videos/kinetics/clean_and_jerk.mp4");
  const fs::path clip = vstar::test::SharedDir() / "assets/videos/kinetics/clean_and_jerk.mp4";
  auto env = FreshCache("video-upstream");
  auto r = Run({"vs-decode", "--sample", "qwen:upstream", clip.string()}, "", env);
  REQUIRE(r.status == 0);
  auto recs = Records(r.out);
  REQUIRE(recs.size() == 1);
  CHECK(recs[0]["id"] == "clean_and_jerk");
  CHECK(recs[0]["frames"]["sampling"] == "qwen:upstream");
  CHECK(recs[0]["frames"]["indices"].size() == 20);  // 300 frames at 29.97 fps -> 20
  CheckAgainstReferences(recs[0], clip, kQwenUpstream);

  r = Run({"vs-decode", "--sample", "uniform:5", clip.string()}, "", env);
  REQUIRE(r.status == 0);
  CHECK(Records(r.out)[0]["frames"]["indices"] == json({0, 75, 150, 224, 299}));
  r = Run({"vs-decode", "--sample", "all", "--format", "jpg:90", clip.string()}, "", env);
  REQUIRE(r.status == 0);
  const auto all = Records(r.out)[0]["frames"];
  CHECK(all["indices"].size() == 300);
  CHECK(all["format"] == "jpg:90");
  CHECK(fs::path(all["paths"][0].get<std::string>()).extension() == ".jpg");
}

TEST_CASE("vs-decode: PPM frames by default, PNG on request, and old PNG caches still serve",
          "[video][pipeline]") {
  VSTAR_REQUIRE_SHARED("assets/videos/kinetics/clean_and_jerk.mp4");
  const fs::path clip = vstar::test::SharedDir() / "assets/videos/kinetics/clean_and_jerk.mp4";
  auto env = FreshCache("video-formats");
  auto r = Run({"vs-decode", "--sample", "uniform:3", "--format", "png", "--log-level", "info",
                clip.string()},
               "", env);
  REQUIRE(r.status == 0);
  const auto png = Records(r.out)[0]["frames"];
  CHECK(png["format"] == "png");
  CHECK(fs::path(png["paths"][0].get<std::string>()).extension() == ".png");
  // The per-stage split of the decoding time.
  CHECK(r.err.find("stages (thread-seconds): 3 frames; demux+decode ") != std::string::npos);
  CHECK(r.err.find(", write ") != std::string::npos);
  // A default (PPM) request finds the PNG entry: nothing is decoded.
  r = Run({"vs-decode", "--sample", "uniform:3", "--log-level", "info", clip.string()}, "", env);
  REQUIRE(r.status == 0);
  CHECK(Records(r.out)[0]["frames"]["paths"] == png["paths"]);
  CHECK(r.err.find("0 clips decoded, 1 from the cache") != std::string::npos);
  // Without the cache the default writes PPM, pixel for pixel the PNG frames.
  r = Run({"vs-decode", "--sample", "uniform:3", "--no-cache", clip.string()}, "", env);
  REQUIRE(r.status == 0);
  const auto ppm = Records(r.out)[0]["frames"];
  CHECK(ppm["format"] == "ppm");
  REQUIRE(ppm["paths"].size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    const fs::path p = ppm["paths"][i].get<std::string>();
    CHECK(p.extension() == ".ppm");
    CHECK(ReadImageRgb(p).pixels == ReadImageRgb(png["paths"][i].get<std::string>()).pixels);
  }
}

TEST_CASE("vs-decode over clips encoded by the test: codecs, seeking, VFR, rotation", "[video][pipeline]") {
  VSTAR_REQUIRE_PROGRAM("ffmpeg");
  VSTAR_REQUIRE_PROGRAM("ffprobe");
  const auto& clips = Encoded();
  std::vector<std::string> good;
  for (const auto& name : {"h264.mp4", "h264_opengop.mkv", "mpeg4.avi", "mpeg4_b.mp4", "mjpeg.avi", "vp9.webm",
                           "vfr.mp4", "odd.mp4", "rotated.mp4"})
    if (clips.files.count(name)) good.push_back(name);
  REQUIRE(good.size() >= 7);  // at least the encoders every Debian ffmpeg has
  std::string manifest;
  for (const auto& name : good) manifest += json{{"id", name}, {"video", name}}.dump() + "\n";
  auto env = FreshCache("video-encoded-run");
  for (const char* seek : {"", "--no-seek"}) {
    std::vector<std::string> argv = {"vs-decode", "--root", clips.dir.string(), "--no-cache"};
    if (*seek) argv.push_back(seek);
    auto r = Run(argv, manifest, env);
    INFO(seek << "\n" << r.err);
    REQUIRE(r.status == 0);
    const auto recs = Records(r.out);
    REQUIRE(recs.size() == good.size());
    for (size_t i = 0; i < good.size(); ++i) {
      CHECK(recs[i]["id"] == good[i]);
      CheckAgainstReferences(recs[i], clips.files.at(good[i]), kQwenVideoStar);
    }
  }
  // Variable frame rate: 20 frames at 25 fps, a 1 s gap, 30 more frames.
  if (clips.files.count("vfr.mp4")) {
    auto r = Run({"vs-decode", "--sample", "fps:1", clips.files.at("vfr.mp4").string()}, "", env);
    REQUIRE(r.status == 0);
    const auto fr = Records(r.out)[0]["frames"];
    CHECK(fr["total"] == 50);
    CHECK(fr["indices"] == json({0, 19, 25}));  // t=0, 1 s (last frame before the gap), 2 s
  }
  if (clips.files.count("rotated.mp4")) {
    auto r = Run({"vs-decode", clips.files.at("rotated.mp4").string()}, "", env);
    const auto fr = Records(r.out)[0]["frames"];
    CHECK(fr["rotation"] == 270);  // rotate=90 tag = 90 degrees counter-clockwise
    CHECK(fr["width"] == 144);
    CHECK(fr["height"] == 176);
  }
}

TEST_CASE("vs-decode: content is probed, not the extension", "[video][pipeline]") {
  VSTAR_REQUIRE_SHARED("assets/videos/ssv2/ssv2_166766_vp9.webm");
  const fs::path dir = vstar::test::TempDir("video-ext");
  fs::copy_file(vstar::test::SharedDir() / "assets/videos/ssv2/ssv2_166766_vp9.webm", dir / "vid.mp4");
  auto r = Run({"vs-decode", (dir / "vid.mp4").string()}, "", FreshCache("video-ext-cache"));
  REQUIRE(r.status == 0);
  CHECK(Records(r.out)[0]["frames"]["total"] == 49);
}

TEST_CASE("vs-decode: broken inputs give one error record each and exit 3", "[video][pipeline]") {
  VSTAR_REQUIRE_SHARED("assets/videos/kinetics");
  const auto& clips = Encoded();
  const fs::path root = vstar::test::SharedDir() / "assets" / "videos";
  std::vector<std::pair<std::string, std::string>> inputs = {
      {"a", (root / "kinetics/skateboarding.mp4").string()},
      {"corrupt", clips.files.at("not_video.mp4").string()},
      {"b", (root / "hmdb51/RATRACE_wave_f_nm_np1_fr_goo_37.avi").string()},
      {"c", (root / "special/rotation_90.mov").string()},
  };
  std::string manifest;
  for (const auto& [id, video] : inputs) manifest += json{{"id", id}, {"video", video}}.dump() + "\n";
  auto r = Run({"vs-decode", "--threads", "2"}, manifest, FreshCache("video-corrupt"));
  CHECK(r.status == 3);
  const auto recs = Records(r.out);
  REQUIRE(recs.size() == inputs.size());
  int errors = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    CHECK(recs[i]["id"] == inputs[i].first);
    if (recs[i].contains("error")) {
      ++errors;
      CHECK(recs[i]["id"] == "corrupt");
      CHECK(recs[i]["error"]["stage"] == "vs-decode");
      CHECK_FALSE(recs[i].contains("frames"));
    } else {
      CHECK(recs[i]["frames"]["paths"].size() > 0);
    }
  }
  CHECK(errors == 1);

  // Truncated, not video, missing, a directory, no `video` key: each an error naming the cause.
  std::string bad;
  bad += json{{"id", "trunc"}, {"video", clips.files.at("truncated.mp4").string()}}.dump() + "\n";
  bad += json{{"id", "text"}, {"video", clips.files.at("not_video.mp4").string()}}.dump() + "\n";
  bad += json{{"id", "missing"}, {"video", "/nonexistent/clip.mp4"}}.dump() + "\n";
  bad += json{{"id", "dir"}, {"video", clips.dir.string()}}.dump() + "\n";
  bad += json{{"id", "novideo"}}.dump() + "\n";
  bad += json{{"id", "ok"}, {"video", (root / "special/rotation_90.mov").string()}}.dump() + "\n";
  r = Run({"vs-decode"}, bad, FreshCache("video-bad"));
  CHECK(r.status == 3);
  const auto b = Records(r.out);
  REQUIRE(b.size() == 6);
  CHECK(b[0]["error"]["message"].get<std::string>().find("partial file") != std::string::npos);
  CHECK(b[1]["error"]["message"].get<std::string>().find("cannot open") != std::string::npos);
  CHECK(b[2]["error"]["message"].get<std::string>().find("no such file") != std::string::npos);
  CHECK(b[3]["error"]["message"].get<std::string>().find("not a regular file") != std::string::npos);
  CHECK(b[4]["error"]["message"].get<std::string>().find("\"video\"") != std::string::npos);
  CHECK_FALSE(b[5].contains("error"));

  // --strict: the first error is fatal.
  r = Run({"vs-decode", "--strict"}, bad, FreshCache("video-bad-strict"));
  CHECK(r.status == 1);
}

TEST_CASE("vs-decode: a second run decodes nothing (frame cache)", "[video][pipeline]") {
  VSTAR_REQUIRE_SHARED("assets/videos/special");
  const fs::path root = vstar::test::SharedDir() / "assets" / "videos";
  const std::vector<std::string> args = {"vs-decode", "--log-level", "debug",
                                         (root / "special/var_fps_video.mp4").string(),
                                         (root / "hmdb51/RATRACE_wave_f_nm_np1_fr_goo_37.avi").string()};
  auto env = FreshCache("video-cache");
  auto first = Run(args, "", env);
  REQUIRE(first.status == 0);
  CHECK(first.err.find("2 clips decoded, 0 from the cache") != std::string::npos);
  auto second = Run(args, "", env);
  REQUIRE(second.status == 0);
  CHECK(second.err.find("0 clips decoded, 2 from the cache") != std::string::npos);
  CHECK(second.err.find("cache hit") != std::string::npos);
  CHECK(second.out == first.out);
  // Different sampling parameters are a different cache entry.
  auto other = Run({"vs-decode", "--sample", "uniform:3", (root / "special/var_fps_video.mp4").string()}, "", env);
  CHECK(other.err.find("1 clips decoded, 0 from the cache") != std::string::npos);
}

TEST_CASE("vs-decode --resize qwen: smart_resize size, antialiased bicubic pixels", "[video][pipeline]") {
  VSTAR_REQUIRE_SHARED("assets/videos/ucf101/v_SoccerJuggling_g23_c01.avi");
  const fs::path clip = vstar::test::SharedDir() / "assets/videos/ucf101/v_SoccerJuggling_g23_c01.avi";
  auto env = FreshCache("video-resize");
  auto plain = Run({"vs-decode", clip.string()}, "", env);
  auto resized = Run({"vs-decode", "--resize", "qwen", clip.string()}, "", env);
  REQUIRE(plain.status == 0);
  REQUIRE(resized.status == 0);
  const auto p = Records(plain.out)[0]["frames"];
  const auto q = Records(resized.out)[0]["frames"];
  CHECK(q["resize"] == "qwen");
  CHECK(q["source_width"] == 320);
  CHECK(q["source_height"] == 240);
  CHECK(q["width"] == 392);  // the authors' sampler: 320x240 -> 392x280
  CHECK(q["height"] == 280);
  CHECK(q["indices"] == p["indices"]);
  const Image src = ReadImageRgb(p["paths"][3].get<std::string>());
  const Image got = ReadImageRgb(q["paths"][3].get<std::string>());
  CHECK(got.pixels == ResizeBicubicAntialias(src, 280, 392).pixels);
}

TEST_CASE("vs-decode: per-clip timeout, usage errors", "[video][pipeline]") {
  VSTAR_REQUIRE_SHARED("assets/videos/ntu/S001C001P001R001A001_rgb.avi");
  const fs::path clip = vstar::test::SharedDir() / "assets/videos/ntu/S001C001P001R001A001_rgb.avi";
  auto r = Run({"vs-decode", "--timeout", "0.001", "--no-cache", clip.string()}, "", FreshCache("video-timeout"));
  CHECK(r.status == 3);
  CHECK(Records(r.out)[0]["error"]["message"].get<std::string>().find("timed out") != std::string::npos);

  CHECK(Run({"vs-decode", "--sample", "bogus", clip.string()}).status == 2);
  CHECK(Run({"vs-decode", "--resize", "big", clip.string()}).status == 2);
  CHECK(Run({"vs-decode", "--format", "gif", clip.string()}).status == 2);
}

TEST_CASE("vs-decode: records as jq reads them", "[video][pipeline]") {
  VSTAR_REQUIRE_SHARED("assets/videos/ntu/S001C001P001R001A001_rgb.avi");
  VSTAR_REQUIRE_PROGRAM("jq");
  const fs::path clip = vstar::test::SharedDir() / "assets/videos/ntu/S001C001P001R001A001_rgb.avi";
  const fs::path cache = vstar::test::TempDir("video-jq");
  auto j = Sh("VSTAR_CACHE=" + Quote(cache.string()) + " " + Quote((vstar::test::BinDir() / "vs-decode").string()) +
              " --log-level quiet " + Quote(clip.string()) + " | jq -e '.frames.total == 103 and (.frames.paths | length) == 6'");
  CHECK(j.status == 0);
  CHECK(j.out == "true\n");
}
