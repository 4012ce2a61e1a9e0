// The API key named by --api-key-env is sent only as the Authorization header: it never reaches
// stdout (records), stderr (even at --log-level debug), error messages or the response cache, also
// when the server puts the header it received into its error replies.
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "net/loopback.hpp"
#include "support.hpp"

using vstar::test::LoopbackServer;
using Json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

const std::string kKey = "sk-vstar-test-0123456789abcdef";

// Class requests: "Forbidden" gets a 401 and "Flaky" a first 500, both quoting the Authorization
// header back (a hostile or careless server); everything else succeeds.
void Reflecting(const httplib::Request& req, httplib::Response& res, int) {
  const std::string auth = req.get_header_value("Authorization");
  const std::string ask = Json::parse(req.body)["messages"].back()["content"].get<std::string>();
  static std::atomic<bool> flaked{false};
  if (ask.find("\"Forbidden\"") != std::string::npos) {
    res.status = 401;
    res.set_content(Json{{"error", {{"message", "invalid key: " + auth}}}}.dump(), "application/json");
  } else if (ask.find("\"Flaky\"") != std::string::npos && !flaked.exchange(true)) {
    res.status = 500;
    res.set_content("upstream failed for " + auth, "text/plain");
  } else {
    res.set_content(LoopbackServer::Completion("Legs: move"), "application/json");
  }
}

}  // namespace

TEST_CASE("secrets: the API key never appears in records, logs, errors or the cache") {
  VSTAR_REQUIRE_BINARY("vs-explain");
  LoopbackServer s(Reflecting);
  const auto dir = vstar::test::TempDir("secret");
  vstar::test::WriteFile(dir / "c.txt", "Wave\nForbidden\nFlaky\n");
  const std::map<std::string, std::string> env = {{"VSTAR_CACHE", (dir / "cache").string()},
                                                  {"VSTAR_TEST_SECRET_KEY", kKey}};
  auto r = vstar::test::Run({"vs-explain", "--what", "classes", "--classes", (dir / "c.txt").string(),
                             "--plugin", "openai", "--endpoint", s.endpoint(), "--api-model", "m",
                             "--api-key-env", "VSTAR_TEST_SECRET_KEY", "--retries", "2", "--backoff",
                             "0", "--log-level", "debug"},
                            "", env);
  INFO(r.err);
  REQUIRE(s.last_auth() == "Bearer " + kKey);  // the key was really sent
  CHECK(r.status == 3);                         // Forbidden failed
  CHECK(r.out.find("HTTP 401") != std::string::npos);
  CHECK(r.out.find(kKey) == std::string::npos);
  CHECK(r.err.find(kKey) == std::string::npos);
  // A part of the key is as bad as all of it.
  CHECK(r.out.find(kKey.substr(3, 16)) == std::string::npos);
  CHECK(r.err.find(kKey.substr(3, 16)) == std::string::npos);
  size_t files = 0;
  for (auto& e : fs::recursive_directory_iterator(dir / "cache")) {
    if (!e.is_regular_file()) continue;
    ++files;
    INFO(e.path());
    CHECK(vstar::test::ReadFile(e.path()).find(kKey) == std::string::npos);
  }
  CHECK(files > 0);
}
