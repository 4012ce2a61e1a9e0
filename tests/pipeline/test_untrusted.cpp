// Records pointing vs-decode at inputs nobody vetted: a FIFO or a device (opening would block or
// read for ever), a symbolic link (the path does not name what would be read) and images whose
// header claims a huge frame (a decompression bomb: a few hundred bytes that decode to gigabytes)
// are refused with an error record, promptly and before the frame is allocated. A header claiming
// an absurd frame count is not believed: the count is the decoder's.
#include <sys/resource.h>
#include <sys/stat.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support.hpp"

namespace fs = std::filesystem;
namespace test = vstar::test;
using Json = nlohmann::json;

namespace {

uint32_t Crc32(const std::string& bytes) {  // the PNG chunk CRC (ISO 3309)
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : bytes) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return c ^ 0xFFFFFFFFu;
}

std::string Be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

std::string Chunk(const std::string& type, const std::string& data) {
  return Be32(static_cast<uint32_t>(data.size())) + type + data + Be32(Crc32(type + data));
}

// An RGB PNG whose header says width x height, holding the zlib stream of one black pixel row.
std::string PngClaiming(uint32_t width, uint32_t height) {
  std::string ihdr = Be32(width) + Be32(height) + std::string("\x08\x02\x00\x00\x00", 5);
  const std::string idat("\x78\x9c\x63\x60\x60\x60\x60\x00\x00\x00\x05\x00\x01", 13);
  return std::string("\x89PNG\r\n\x1a\n", 8) + Chunk("IHDR", ihdr) + Chunk("IDAT", idat) +
         Chunk("IEND", "");
}

// Overwrites the little-endian 32-bit field `offset` bytes past the start of the first chunk named
// `fourcc` (RIFF: fourcc, 32-bit size, data; the offset counts from the fourcc).
void PatchRiffField(std::string& avi, const std::string& fourcc, size_t offset, uint32_t value) {
  const size_t at = avi.find(fourcc);
  REQUIRE(at != std::string::npos);
  REQUIRE(at + offset + 4 <= avi.size());
  for (int k = 0; k < 4; ++k) avi[at + offset + k] = static_cast<char>(value >> (8 * k));
}

// vs-decode over `records` under timeout(1) (status 124 if it blocked).
test::RunResult Decode(const std::string& records, const std::string& tag,
                       const std::vector<std::string>& extra = {}) {
  std::vector<std::string> argv = {
      "/usr/bin/timeout", "60",   (test::BinDir() / "vs-decode").string(), "--sample", "uniform:1",
      "--progress",       "never"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return test::Run(argv, records, {{"VSTAR_CACHE", test::TempDir(tag).string()}});
}

}  // namespace

TEST_CASE("vs-decode: FIFOs and devices are refused without opening them",
          "[pipeline][untrusted]") {
  VSTAR_REQUIRE_BINARY("vs-decode");
  VSTAR_REQUIRE_PROGRAM("timeout");
  const auto dir = test::TempDir("untrusted-fifo");
  const auto fifo = dir / "clip.mp4";
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  std::string in;
  for (std::string p : {fifo.string(), std::string("/dev/zero"), std::string("/dev/null")})
    in += Json{{"id", p}, {"video", p}}.dump() + "\n";
  auto r = Decode(in, "untrusted-fifo-cache");
  CHECK(r.status == 3);  // not 124: nothing blocked on the FIFO
  auto lines = test::Lines(r.out);
  REQUIRE(lines.size() == 3);
  for (auto& line : lines) {
    Json rec = Json::parse(line);
    INFO(line);
    CHECK(rec["error"]["message"].get<std::string>().find("not a regular file") !=
          std::string::npos);
  }
}

TEST_CASE("vs-decode: a video path that is a symbolic link is refused unless --follow-symlinks",
          "[pipeline][untrusted]") {
  VSTAR_REQUIRE_BINARY("vs-decode");
  VSTAR_REQUIRE_PROGRAM("timeout");
  const auto dir = test::TempDir("untrusted-symlink");
  test::WriteFile(dir / "clip.png", PngClaiming(1, 1));
  fs::create_symlink(dir / "clip.png", dir / "link.png");
  fs::create_symlink("/etc/passwd", dir / "secret.mp4");
  std::string in;
  for (std::string name : {"clip.png", "link.png", "secret.mp4"})
    in += Json{{"id", name}, {"video", (dir / name).string()}}.dump() + "\n";
  auto r = Decode(in, "untrusted-symlink-cache");
  CHECK(r.status == 3);
  auto lines = test::Lines(r.out);
  REQUIRE(lines.size() == 3);
  CHECK(Json::parse(lines[0])["frames"]["width"] == 1);
  for (size_t i : {1, 2}) {
    INFO(lines[i]);
    const std::string msg = Json::parse(lines[i])["error"]["message"];
    CHECK(msg.find("symbolic link") != std::string::npos);
    CHECK(msg.find("--follow-symlinks") != std::string::npos);
  }
  CHECK(r.out.find("root:") == std::string::npos);  // nothing of the target was read

  // With the flag the link to a clip is read like the clip; the one to a non-video fails as media.
  auto followed = Decode(in, "untrusted-symlink-cache", {"--follow-symlinks"});
  lines = test::Lines(followed.out);
  REQUIRE(lines.size() == 3);
  CHECK(Json::parse(lines[1])["frames"]["width"] == 1);
  CHECK(Json::parse(lines[2])["error"]["message"].get<std::string>().find("symbolic link") ==
        std::string::npos);
}

TEST_CASE("vs-decode: a frame size past the limit is refused before it is allocated",
          "[pipeline][untrusted]") {
  VSTAR_REQUIRE_BINARY("vs-decode");
  VSTAR_REQUIRE_PROGRAM("timeout");
  const auto dir = test::TempDir("untrusted-bomb");
  test::WriteFile(dir / "small.png", PngClaiming(1, 1));
  test::WriteFile(dir / "bomb16k.png", PngClaiming(16000, 16000));  // 768 MB as RGB
  test::WriteFile(dir / "bomb60k.png", PngClaiming(60000, 60000));
  std::string in;
  for (std::string name : {"small.png", "bomb16k.png", "bomb60k.png"})
    in += Json{{"id", name}, {"video", (dir / name).string()}}.dump() + "\n";

  auto r = Decode(in, "untrusted-bomb-cache");
  rusage after{};
  getrusage(RUSAGE_CHILDREN, &after);
  CHECK(r.status == 3);
  auto lines = test::Lines(r.out);
  REQUIRE(lines.size() == 3);
  CHECK(Json::parse(lines[0])["frames"]["width"] == 1);
  // The message names the size the header claimed (FFmpeg's "Picture size WxH ..." or ours).
  for (auto [i, size] : {std::pair<size_t, std::string>{1, "16000x16000"}, {2, "60000x60000"}}) {
    Json rec = Json::parse(lines[i]);
    INFO(lines[i]);
    REQUIRE(rec.contains("error"));
    CHECK(rec["error"]["message"].get<std::string>().find(size) != std::string::npos);
  }
  // ru_maxrss of the largest waited-for descendant (vs-decode under timeout): far below one
  // 16000x16000 frame (it was 820 MB before the limit); vs-decode itself needs under 100 MB here.
  INFO("peak child RSS " << after.ru_maxrss << " KiB");
  CHECK(after.ru_maxrss < 400 * 1024);
}

TEST_CASE("vs-decode: an AVI whose header claims 2^31 - 1 frames is decoded by its true count",
          "[pipeline][untrusted]") {
  VSTAR_REQUIRE_BINARY("vs-decode");
  VSTAR_REQUIRE_PROGRAM("timeout");
  VSTAR_REQUIRE_PROGRAM("ffmpeg");
  const auto dir = test::TempDir("untrusted-count");
  const fs::path clip = dir / "clip.avi", liar = dir / "liar.avi";
  auto enc =
      test::Run({"/usr/bin/env", "ffmpeg", "-nostdin", "-y", "-v", "error", "-f", "lavfi", "-i",
                 "testsrc2=size=64x48:rate=10", "-t", "2", "-c:v", "mjpeg", clip.string()});
  REQUIRE(enc.status == 0);
  // The main header's dwTotalFrames (16 bytes into avih's data) and the video stream header's
  // dwLength (32 bytes into strh's data), as the AVI RIFF format defines them.
  std::string avi = test::ReadFile(clip);
  PatchRiffField(avi, "avih", 8 + 16, 0x7FFFFFFFu);
  PatchRiffField(avi, "strh", 8 + 32, 0x7FFFFFFFu);
  test::WriteFile(liar, avi);
  auto probe = test::Run({"/usr/bin/env", "ffprobe", "-v", "error", "-select_streams", "v:0",
                          "-show_entries", "stream=nb_frames", "-of", "csv=p=0", liar.string()});
  REQUIRE(probe.status == 0);
  INFO("ffprobe reads nb_frames " << probe.out);
  REQUIRE(probe.out.find("2147483647") != std::string::npos);  // the patch took

  std::string in;
  for (const fs::path& p : {clip, liar})
    in += Json{{"id", p.filename().string()}, {"video", p.string()}}.dump() + "\n";
  auto r = test::Run({"/usr/bin/timeout", "60", (test::BinDir() / "vs-decode").string(), "--sample",
                      "uniform:4", "--progress", "never"},
                     in, {{"VSTAR_CACHE", test::TempDir("untrusted-count-cache").string()}});
  rusage after{};
  getrusage(RUSAGE_CHILDREN, &after);
  INFO(r.err);
  REQUIRE(r.status == 0);
  const auto lines = test::Lines(r.out);
  REQUIRE(lines.size() == 2);
  const Json honest = Json::parse(lines[0]), lying = Json::parse(lines[1]);
  CHECK(honest["frames"]["total"] == 20);
  CHECK(lying["frames"]["total"] == 20);
  CHECK(lying["frames"]["indices"] == honest["frames"]["indices"]);
  // Nothing was sized by the claimed count (2^31 timestamps alone would be 16 GiB).
  INFO("peak child RSS " << after.ru_maxrss << " KiB");
  CHECK(after.ru_maxrss < 400 * 1024);
}
