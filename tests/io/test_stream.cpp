#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <mutex>
#include <set>
#include <thread>

#include <catch2/catch.hpp>

#include "io/progress.hpp"
#include "io/select.hpp"
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

// Record selection (--shard, --resume): which ids the stage was handed, which ones were written.
struct Selection : Fixture {
  std::vector<std::string> seen;
  int Run() {
    return io::RunStream(opt, "vs-test", 2, [this](std::span<io::Record*> batch) {
      for (auto* r : batch) {
        seen.push_back(r->id());
        r->set("done", io::Json(true));
      }
    });
  }
  std::vector<std::string> OutIds() {
    std::vector<std::string> ids;
    for (const auto& l : Out()) ids.push_back(io::Json::parse(l)["id"].get<std::string>());
    return ids;
  }
};

std::string Records(const std::vector<std::string>& ids) {
  std::string s;
  for (const auto& id : ids) s += "{\"id\":\"" + id + "\"}\n";
  return s;
}

std::vector<std::string> Ids(size_t n) {
  std::vector<std::string> ids;
  for (size_t i = 0; i < n; ++i) ids.push_back("r" + std::to_string(i));
  return ids;
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
  CHECK(io::Json::parse(out[2])["error"]["message"].get<std::string>().find(":3:") !=
        std::string::npos);
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
  f.Input(
      "{\"id\":\"1\",\"error\":{\"stage\":\"vs-decode\",\"message\":\"bad\"}}\n"
      "{\"id\":\"2\"}\n{\"id\":\"3\"}\n");
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

TEST_CASE("stream: a slow record holds back the output, not the other workers", "[io][stream]") {
  // Record 0 finishes only once records 1-4 have been processed by the other worker: with a
  // lock-step chunk of `threads` records it would wait in vain (and say so). Never more than
  // `threads` run at once, and the output keeps input order.
  Fixture f;
  const auto ids = Ids(6);
  f.Input(Records(ids));
  f.opt.threads = 2;
  std::mutex m;
  std::condition_variable cv;
  int others_done = 0, running = 0, most_running = 0;
  int rc = io::RunStream(f.opt, "vs-test", [&](io::Record& r) {
    std::unique_lock lock(m);
    most_running = std::max(most_running, ++running);
    if (r.id() == ids[0]) {
      bool overtaken =
          cv.wait_for(lock, std::chrono::seconds(20), [&] { return others_done >= 4; });
      r.set("overtaken", io::Json(overtaken));
    } else {
      ++others_done;
      cv.notify_all();
    }
    --running;
    r.set("seen", io::Json(true));
  });
  CHECK(rc == io::kExitOk);
  auto out = f.Out();
  REQUIRE(out.size() == 6);
  CHECK(io::Json::parse(out[0])["overtaken"] == true);
  for (size_t i = 0; i < ids.size(); ++i) {
    CHECK(io::Json::parse(out[i])["id"] == ids[i]);
    CHECK(io::Json::parse(out[i])["seen"] == true);
  }
  CHECK(most_running <= 2);
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

TEST_CASE("stream: a closing line counts records and errors, also when none failed",
          "[io][stream]") {
  Fixture f;
  f.Input("{\"id\":\"a\"}\n{\"id\":\"b\"}\n");
  std::string clean =
      CaptureStderr([&] { CHECK(io::RunStream(f.opt, "vs-test", 1, MarkSeen) == 0); });
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

// ---- record selection: --shard I/N (by id hash, by order), --resume
// ----------------------------------

TEST_CASE("shard: FNV-1a 64 matches the published test vectors, fmix64 an independent computation",
          "[io][shard]") {
  // Landon Curt Noll's FNV test suite (isthe.com/chongo/tech/comp/fnv): FNV-1a 64 of "", "a",
  // "foobar".
  CHECK(io::Fnv1a64("") == 0xcbf29ce484222325ull);
  CHECK(io::Fnv1a64("a") == 0xaf63dc4c8601ec8cull);
  CHECK(io::Fnv1a64("foobar") == 0x85944171f73967e8ull);
  // fmix64 of those, computed independently (Python, the five steps of MurmurHash3's fmix64).
  CHECK(io::Fmix64(0xcbf29ce484222325ull) == 0xefd01f60ba992926ull);
  CHECK(io::Fmix64(0xaf63dc4c8601ec8cull) == 0x82a2a958a9bece5bull);
}

TEST_CASE("shard: I/N parses, bad values are refused with the reason", "[io][shard]") {
  auto s = io::ParseShard("2/5");
  CHECK(s.index == 2);
  CHECK(s.count == 5);
  CHECK(io::ParseShard("0/1").Whole());
  for (const char* bad :
       {"4/4", "5/4", "1/0", "-1/4", "1", "a/4", "1/b", "1/4/2", " 1/4", "1/4 ", "/4", "1/"}) {
    INFO(bad);
    CHECK_THROWS_AS(io::ParseShard(bad), std::invalid_argument);
  }
  CHECK_THROWS_WITH(io::ParseShard("4/4"), Catch::Contains("below N"));
}

TEST_CASE("shard: by order, shard I holds the records at positions I, I+N, ... in input order",
          "[io][shard]") {
  const auto ids = Ids(10);
  std::vector<std::string> all;
  for (size_t i = 0; i < 3; ++i) {
    Selection f;
    f.Input(Records(ids));
    f.opt.shard = io::ParseShard(std::to_string(i) + "/3");
    f.opt.shard.by = io::Shard::By::kOrder;
    REQUIRE(f.Run() == io::kExitOk);
    std::vector<std::string> want;
    for (size_t k = i; k < ids.size(); k += 3) want.push_back(ids[k]);
    CHECK(f.OutIds() == want);
    CHECK(f.seen == want);  // records outside the shard are not processed either
    all.insert(all.end(), want.begin(), want.end());
  }
  std::sort(all.begin(), all.end());
  auto sorted = ids;
  std::sort(sorted.begin(), sorted.end());
  CHECK(all == sorted);
}

TEST_CASE("shard: by id, a record's shard is the hash of its id mod N, whatever the input order",
          "[io][shard]") {
  const auto ids = Ids(12);
  // fmix64(FNV-1a 64) of "r0".."r11" mod 4, computed independently (Python, both loops written
  // out).
  const std::vector<size_t> expected = {1, 0, 1, 0, 1, 0, 1, 3, 1, 2, 3, 1};
  const std::vector<std::string> reversed(ids.rbegin(), ids.rend());
  for (const auto* order : {&ids, &reversed}) {
    std::multiset<std::string> all;
    for (size_t i = 0; i < 4; ++i) {
      Selection f;
      f.Input(Records(*order));
      f.opt.shard = io::ParseShard(std::to_string(i) + "/4");  // --shard-by id is the default
      REQUIRE(f.Run() == io::kExitOk);
      for (const auto& id : f.OutIds()) {
        INFO(id << " in shard " << i);
        CHECK(expected[std::stoul(id.substr(1))] == i);
        all.insert(id);
      }
      CHECK(f.seen == f.OutIds());
    }
    CHECK(all == std::multiset<std::string>(ids.begin(), ids.end()));  // each record exactly once
  }
}

TEST_CASE("shard: by id, input errors without an id are reported by shard 0 only", "[io][shard]") {
  size_t reported = 0;
  for (size_t i = 0; i < 3; ++i) {
    Selection f;
    f.Input("{\"id\":\"a\"}\nnot json\n{\"x\":1}\n{\"id\":\"b\"}\n");
    f.opt.shard = io::ParseShard(std::to_string(i) + "/3");
    int rc = f.Run();
    size_t errors = 0;
    for (const auto& l : f.Out())
      if (io::Json::parse(l).contains("error")) ++errors;
    CHECK(errors == (i == 0 ? 2u : 0u));
    CHECK(rc == (i == 0 ? io::kExitRecordErrors : io::kExitOk));
    reported += errors;
  }
  CHECK(reported == 2);
}

TEST_CASE("resume: complete records are kept, a torn last line is dropped, the rest is appended",
          "[io][resume]") {
  Selection f;
  f.Input(Records({"a", "b", "c", "d"}) + "bad line\n");
  const std::string kept = R"({"id":"a","done":"earlier"})"
                           "\n"
                           R"({"id":"c","error":{"stage":"vs-test","message":"failed earlier"}})"
                           "\n";
  WriteFile(f.opt.output, kept + R"({"id":"b","do)");  // killed mid-write
  f.opt.resume = true;
  // The bad line fails (the kept error record is not rewritten).
  REQUIRE(f.Run() == io::kExitRecordErrors);
  CHECK(f.seen == std::vector<std::string>{"b", "d"});
  auto text = ReadFile(f.opt.output);
  REQUIRE(text.rfind(kept, 0) == 0);  // the kept bytes stay as they were
  auto lines = Lines(text);
  REQUIRE(lines.size() == 5);
  CHECK(lines[2] == R"({"id":"b","done":true})");
  CHECK(lines[3] == R"({"id":"d","done":true})");
  CHECK(io::Json::parse(lines[4])["error"]["message"].get<std::string>().find("invalid JSONL") !=
        std::string::npos);

  // A second resume finds everything done, the input error included: nothing runs, nothing is
  // added.
  f.seen.clear();
  CHECK(f.Run() == io::kExitOk);
  CHECK(f.seen.empty());
  CHECK(ReadFile(f.opt.output) == text);
}

TEST_CASE("resume: with --shard only the shard's missing records run", "[io][resume][shard]") {
  Selection f;
  f.Input(Records(Ids(6)));
  f.opt.shard = io::ParseShard("1/2");
  f.opt.shard.by = io::Shard::By::kOrder;
  WriteFile(f.opt.output, R"({"id":"r1","done":true})"
                          "\n");
  f.opt.resume = true;
  REQUIRE(f.Run() == io::kExitOk);
  CHECK(f.seen == std::vector<std::string>{"r3", "r5"});
  CHECK(f.OutIds() == std::vector<std::string>{"r1", "r3", "r5"});
}

TEST_CASE("resume: a missing output starts fresh, stdout or a file that is not JSONL is refused",
          "[io][resume]") {
  Selection f;
  f.Input(Records({"a", "b"}));
  f.opt.resume = true;
  REQUIRE(f.Run() == io::kExitOk);
  CHECK(f.OutIds() == std::vector<std::string>{"a", "b"});

  WriteFile(f.opt.output, "some notes\n{\"id\":\"a\"}\n");
  CHECK(f.Run() == io::kExitFatal);
  CHECK(ReadFile(f.opt.output) == "some notes\n{\"id\":\"a\"}\n");  // left untouched

  f.opt.output = "/dev/null";  // not a file that can hold records: nothing to keep, everything runs
  f.seen.clear();
  CHECK(f.Run() == io::kExitOk);
  CHECK(f.seen == std::vector<std::string>{"a", "b"});

  f.opt.output = "-";
  CHECK(f.Run() == io::kExitUsage);
}

TEST_CASE("every record stage takes --shard, --shard-by and --resume, bad I/N exits 2",
          "[io][shard][cli]") {
  // Binaries that read whole streams (reports, audits, imports) rather than run the record loop.
  const std::set<std::string> whole = {"vs-eval", "vs-audit", "vs-import"};
  size_t stages = 0;
  for (const auto& b : vstar::test::DeclaredBinaries()) {
    INFO(b);
    auto help = test::Run({b, "--help"});
    REQUIRE(help.status == 0);
    if (help.out.find("--input") == std::string::npos) continue;  // not a stream binary
    // The trainers read their data set with lib/train; their --resume names a checkpoint.
    if (b == "vs-sft" || b == "vs-grpo") continue;
    bool selects = !whole.count(b);
    CHECK((help.out.find("--shard ") != std::string::npos) == selects);
    CHECK((help.out.find("--shard-by") != std::string::npos) == selects);
    CHECK((help.out.find("--resume") != std::string::npos) == selects);
    if (!selects) continue;
    ++stages;
    for (const char* bad : {"4/4", "1/0", "x", "-1/2"}) {
      INFO(bad);
      auto r = test::Run({b, "--shard", bad});
      CHECK(r.status == io::kExitUsage);
      CHECK(r.out.empty());
      CHECK(r.err.find("--shard") != std::string::npos);
    }
    auto r = test::Run({b, "--shard-by", "name"});
    CHECK(r.status == io::kExitUsage);
  }
  CHECK(stages >= 7);  // decode, detect, pose, explain, policy, reward, decompose
}
