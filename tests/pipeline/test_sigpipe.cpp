// `vs-decode ... | head -1`: when the downstream stage exits early, vs-decode ends at its next write,
// killed by SIGPIPE (status 141 in the shell, vstar(7)), with nothing on stderr about the broken
// pipe, also when the shell had SIGPIPE ignored (`trap '' PIPE`, inherited across exec).
#include <string>

#include "support.hpp"

namespace test = vstar::test;

TEST_CASE("vs-decode into head -1 ends quietly by SIGPIPE", "[pipeline][sigpipe]") {
  VSTAR_REQUIRE_BINARY("vs-decode");
  VSTAR_REQUIRE_SHARED("assets/videos/hmdb51/RATRACE_wave_f_nm_np1_fr_goo_37.avi");
  VSTAR_REQUIRE_PROGRAM("head");
  const auto dir = test::TempDir("sigpipe");
  const auto video = test::SharedDir() / "assets/videos/hmdb51/RATRACE_wave_f_nm_np1_fr_goo_37.avi";
  // More output than a pipe buffers (after the first record the frames come from the cache).
  std::string input;
  for (int i = 0; i < 3000; ++i)
    input += "{\"id\":\"r" + std::to_string(i) + "\",\"video\":\"" + video.string() + "\"}\n";
  test::WriteFile(dir / "in.jsonl", input);
  const std::string decode = (test::BinDir() / "vs-decode").string();
  for (std::string prelude : {"", "trap '' PIPE; "}) {
    INFO("prelude: " << prelude);
    const std::string script = prelude + "'" + decode + "' --sample uniform:2 --progress never -i '" +
                               (dir / "in.jsonl").string() + "' 2> '" + (dir / "err.txt").string() +
                               "' | head -1; echo \"status ${PIPESTATUS[0]}\"";
    auto r = test::Run({"/bin/bash", "-c", script});
    auto lines = test::Lines(r.out);
    REQUIRE(lines.size() == 2);
    CHECK(lines[0].find("\"frames\"") != std::string::npos);
    CHECK(lines[1] == "status 141");
    std::string err = test::ReadFile(dir / "err.txt");
    INFO(err);
    CHECK(err.find("pipe") == std::string::npos);
    CHECK(err.find("error") == std::string::npos);
    CHECK(err.find("done") == std::string::npos);
  }
}
