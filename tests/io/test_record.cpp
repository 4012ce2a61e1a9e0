#include <catch2/catch.hpp>

#include "io/record.hpp"

using vstar::io::Json;
using vstar::io::Record;

TEST_CASE("splice keeps every other byte", "[io][record]") {
  const std::string in = R"({"id": "a1",  "x" : [1, {"y":"}\"]"}],"z":1.50e3})";
  Record r(in, "t", 1);
  r.set("frames", Json{{"n", 2}});
  CHECK(r.text() == R"({"id": "a1",  "x" : [1, {"y":"}\"]"}],"z":1.50e3,"frames":{"n":2}})");
  r.set("frames", Json{{"n", 3}});
  CHECK(r.text() == R"({"id": "a1",  "x" : [1, {"y":"}\"]"}],"z":1.50e3,"frames":{"n":3}})");
  r.set("x", Json(7));
  CHECK(r.text() == R"({"id": "a1",  "x" : 7,"z":1.50e3,"frames":{"n":3}})");
}

TEST_CASE("splice into an empty object and erase", "[io][record]") {
  Record r("{}", "t", 1);
  r.set("id", Json("v"));
  CHECK(r.text() == R"({"id":"v"})");
  r.set("a", Json(1));
  r.erase("id");
  CHECK(r.text() == R"({"a":1})");
  r.erase("a");
  CHECK(r.text() == "{}");
  Record r2(R"({"a":1, "b":2, "c":3})", "t", 1);
  r2.erase("c");
  CHECK(Json::parse(r2.text()) == Json::parse(R"({"a":1,"b":2})"));
  r2.erase("a");
  CHECK(Json::parse(r2.text()) == Json::parse(R"({"b":2})"));
}

TEST_CASE("field access", "[io][record]") {
  Record r(R"({"id": 17, "video": "a/b \u00e9.mp4", "n": null, "o": {"k": [1,2]}})", "f.jsonl", 4);
  CHECK(r.id() == "17");
  CHECK(r.string("video") == std::optional<std::string>("a/b \xc3\xa9.mp4"));
  CHECK_FALSE(r.string("n").has_value());
  CHECK(r.get("o")["k"][1] == 2);
  CHECK(r.get("missing").is_null());
  CHECK(r.where() == "f.jsonl:4");
  r.set_error("vs-x", "boom");
  CHECK(r.has_error());
  CHECK(r.get("error")["stage"] == "vs-x");
}

TEST_CASE("escaping of control characters and invalid UTF-8", "[io][record]") {
  // Control characters are escaped; invalid UTF-8 becomes U+FFFD (documented in vstar(7)).
  CHECK(vstar::io::Dump(Json(std::string("a\x01\n\"\\"))) == R"("a\u0001\n\"\\")");
  CHECK(vstar::io::Dump(Json(std::string("x\xff y"))) == "\"x\xef\xbf\xbd y\"");
  CHECK(vstar::io::Dump(Json(std::string("\xe2\x82"))) == "\"\xef\xbf\xbd\"");
}

TEST_CASE("round trip: splice then parse equals parse then set", "[io][record]") {
  const char* cases[] = {R"({"id":"1"})", R"({ "id" : "1" , "a" : { "b" : [ ] } })",
                         R"({"id":"1","s":"\\\"{["})", "{\"id\":\"\xe6\x97\xa5\"}"};
  for (const char* c : cases) {
    Record r(c, "t", 1);
    r.set("k", Json{{"v", "\t"}});
    Json expect = Json::parse(c);
    expect["k"] = Json{{"v", "\t"}};
    CHECK(Json::parse(r.text()) == expect);
  }
}
