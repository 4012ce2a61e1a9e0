#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <functional>
#include <thread>

#include <catch2/catch.hpp>

#include "io/progress.hpp"
#include "io/stream.hpp"
#include "support.hpp"

using namespace vstar;
using vstar::test::Lines;
using vstar::test::ReadFile;
using vstar::test::TempDir;
using vstar::test::WriteFile;

namespace {
struct Fixture {
  std::filesystem::path dir = TempDir("stream");
  io::StreamOptions opt;
  Fixture() {
    opt.output = (dir / "out.jsonl").string();
    opt.progress = io::Progress::kNever;
  }
  void Input(const std::string& text) {
    WriteFile(dir / "in.jsonl", text);
    opt.inputs = {(dir / "in.jsonl").string()};
  }
  std::vector<std::string> Out() { return Lines(ReadFile(opt.output)); }
};

void MarkSeen(std::span<io::Record*> batch) {
  for (auto* r : batch) r->set("seen", io::Json(true));
}
}  // namespace

TEST_CASE("stream: BOM, CRLF, blank lines, pass-through bytes", "[io][stream]") {
  Fixture f;
  f.Input("\xEF\xBB\xBF{\"id\":\"a\", \"keep\" : [1,2]}\r\n\r\n   \n{\"id\":\"b\"}");
  int rc = io::RunStream(f.opt, "vs-test", 1, MarkSeen);
  CHECK(rc == io::kExitOk);
  auto out = f.Out();
  REQUIRE(out.size() == 2);
  CHECK(out[0] == R"({"id":"a", "keep" : [1,2],"seen":true})");
  CHECK(out[1] == R"({"id":"b","seen":true})");
}

TEST_CASE("stream: malformed lines become error records naming file and line", "[io][stream]") {
  Fixture f;
  f.Input("{\"id\":\"a\"}\n{\"id\": oops}\n[1,2]\n{\"no_id\":1}\n{\"id\":\"a\"}\n{\"id\":\"c\"}\n");
  io::StreamStats stats;
  int rc = io::RunStream(f.opt, "vs-test", 1, MarkSeen, &stats);
  CHECK(rc == io::kExitRecordErrors);
  auto out = f.Out();
  REQUIRE(out.size() == 6);
  CHECK(stats.errors == 4);
  auto j1 = io::Json::parse(out[1]);
  CHECK(j1["error"]["message"].get<std::string>().find("in.jsonl:2:") != std::string::npos);
  CHECK(j1["error"]["stage"] == "vs-test");
  CHECK(io::Json::parse(out[2])["error"]["message"].get<std::string>().find(":3:") != std::string::npos);
  CHECK(io::Json::parse(out[3])["error"]["message"].get<std::string>().find("no \"id\"") !=
        std::string::npos);
  CHECK(io::Json::parse(out[4])["error"]["message"].get<std::string>().find("duplicate id") !=
        std::string::npos);
  // Good records are processed; failed ones are not touched by the stage.
  CHECK(io::Json::parse(out[5])["seen"] == true);
  CHECK_FALSE(io::Json::parse(out[3]).contains("seen"));
}

TEST_CASE("stream: upstream errors pass through untouched, stage errors flow on", "[io][stream]") {
  Fixture f;
  f.Input(R"({"id":"1","error":{"stage":"vs-decode","message":"bad"}})" "\n"
          R"({"id":"2"})" "\n" R"({"id":"3"})" "\n");
  int rc = io::RunStream(f.opt, "vs-test", 1, [](std::span<io::Record*> b) {
    for (auto* r : b) {
      if (r->id() == "2") throw std::runtime_error("cannot do 2");
      r->set("ok", io::Json(1));
    }
  });
  CHECK(rc == io::kExitRecordErrors);
  auto out = f.Out();
  REQUIRE(out.size() == 3);
  CHECK(out[0] == R"({"id":"1","error":{"stage":"vs-decode","message":"bad"}})");
  CHECK(io::Json::parse(out[1])["error"]["message"] == "cannot do 2");
  CHECK(io::Json::parse(out[2])["ok"] == 1);
}

TEST_CASE("stream: --strict stops at the first failure with exit 1", "[io][stream]") {
  Fixture f;
  f.opt.strict = true;
  f.Input("{\"id\":\"1\"}\n{\"id\":\"2\"}\n{\"id\":\"3\"}\n");
  int rc = io::RunStream(f.opt, "vs-test", 1, [](std::span<io::Record*> b) {
    for (auto* r : b)
      if (r->id() == "2") r->set_error("vs-test", "no");
  });
  CHECK(rc == io::kExitFatal);
  CHECK(f.Out().size() == 2);
}

TEST_CASE("stream: threads and batches keep input order", "[io][stream]") {
  Fixture f;
  std::string in;
  for (int i = 0; i < 97; ++i) in += "{\"id\":" + std::to_string(i) + "}\n";
  f.Input(in);
  f.opt.threads = 4;
  std::atomic<size_t> max_batch{0};
  int rc = io::RunStream(f.opt, "vs-test", 5, [&](std::span<io::Record*> b) {
    max_batch = std::max(max_batch.load(), b.size());
    // Later records finish first to shake out ordering bugs.
    std::this_thread::sleep_for(std::chrono::milliseconds(10 - std::stoi(b[0]->id()) % 10));
    for (auto* r : b) r->set("n", io::Json(std::stoi(r->id()) * 2));
  });
  CHECK(rc == io::kExitOk);
  auto out = f.Out();
  REQUIRE(out.size() == 97);
  CHECK(max_batch == 5);
  for (int i = 0; i < 97; ++i) CHECK(io::Json::parse(out[i])["n"] == 2 * i);
}

TEST_CASE("stream: unreadable input and output are fatal", "[io][stream]") {
  Fixture f;
  f.opt.inputs = {(f.dir / "absent.jsonl").string()};
  CHECK(io::RunStream(f.opt, "vs-test", 1, MarkSeen) == io::kExitFatal);
  f.Input("{\"id\":1}\n");
  f.opt.output = (f.dir / "no" / "such" / "dir" / "out.jsonl").string();
  CHECK(io::RunStream(f.opt, "vs-test", 1, MarkSeen) == io::kExitFatal);
}

TEST_CASE("stream: lines of any length", "[io][stream]") {
  Fixture f;
  std::string big(3 << 20, 'x');
  f.Input("{\"id\":\"big\",\"blob\":\"" + big + "\"}\n");
  CHECK(io::RunStream(f.opt, "vs-test", 1, MarkSeen) == io::kExitOk);
  auto out = f.Out();
  REQUIRE(out.size() == 1);
  CHECK(out[0].size() == big.size() + 34);
}

TEST_CASE("stream: one record at a time, an exception fails only its record", "[io][stream]") {
  Fixture f;
  f.Input("{\"id\":\"a\"}\n{\"id\":\"b\"}\n{\"id\":\"c\"}\n");
  f.opt.threads = 2;
  std::atomic<int> calls{0};
  int rc = io::RunStream(f.opt, "vs-test", [&](io::Record& r) {
    ++calls;
    if (r.id() == "b") throw std::runtime_error("no b");
    r.set("seen", io::Json(true));
  });
  CHECK(rc == io::kExitRecordErrors);
  CHECK(calls == 3);
  auto out = f.Out();
  REQUIRE(out.size() == 3);
  CHECK(io::Json::parse(out[0])["seen"] == true);
  CHECK(io::Json::parse(out[1])["error"]["message"] == "no b");
  CHECK(io::Json::parse(out[2])["seen"] == true);
}

namespace {
// What `fn` writes on the process's stderr (fd 2).
std::string CaptureStderr(const std::function<void()>& fn) {
  auto file = TempDir("stderr") / "err.txt";
  std::fflush(stderr);
  int saved = dup(STDERR_FILENO);
  int fd = open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  REQUIRE(fd >= 0);
  dup2(fd, STDERR_FILENO);
  close(fd);
  fn();
  std::fflush(stderr);
  dup2(saved, STDERR_FILENO);
  close(saved);
  return ReadFile(file);
}
}  // namespace

TEST_CASE("stream: a closing line counts records and errors, also when none failed", "[io][stream]") {
  Fixture f;
  f.Input("{\"id\":\"a\"}\n{\"id\":\"b\"}\n");
  std::string clean = CaptureStderr([&] { CHECK(io::RunStream(f.opt, "vs-test", 1, MarkSeen) == 0); });
  CHECK(Lines(clean).back() == "vs-test: done 2 records, 0 with errors");
  f.Input("{\"id\":\"a\"}\n{\"id\":\"b\"}\n{\"id\":\"c\"}\n");
  std::string failed = CaptureStderr([&] {
    CHECK(io::RunStream(f.opt, "vs-test", 1, [](std::span<io::Record*> b) {
      for (auto* r : b)
        if (r->id() == "b") r->set_error("vs-test", "no b");
    }) == io::kExitRecordErrors);
  });
  CHECK(Lines(failed).back() == "vs-test: done 3 records, 1 with errors");
  f.opt.strict = true;
  std::string strict = CaptureStderr([&] {
    CHECK(io::RunStream(f.opt, "vs-test", 1, [](std::span<io::Record*> b) {
      for (auto* r : b) r->set_error("vs-test", "all fail");
    }) == io::kExitFatal);
  });
  CHECK(Lines(strict).back() == "vs-test: done 1 records, 1 with errors");
}

TEST_CASE("progress text shows count, rate and ETA", "[io][progress]") {
  auto t = io::ProgressBar::Format("vs-x", 25, 100, 10.0);
  CHECK(t.find("25/100 records") != std::string::npos);
  CHECK(t.find("2.50 rec/s") != std::string::npos);
  CHECK(t.find("ETA 00:30") != std::string::npos);
  auto u = io::ProgressBar::Format("vs-x", 7, std::nullopt, 2.0);
  CHECK(u.find("7 records") != std::string::npos);
  CHECK(u.find("ETA") == std::string::npos);
}
