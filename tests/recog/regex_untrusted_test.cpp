// Literals escaped into a pattern from text nobody checked (a completion's answer, a decision tag):
// invalid UTF-8 made the pattern fail to compile, so the official sub-motion term and the decision
// parser threw on such text (found by tests/fuzz, targets reward and recog_parse).
#include <string>

#include <catch2/catch.hpp>

#include "recog/parse.hpp"
#include "recog/regex.hpp"

using namespace vstar::recog;

TEST_CASE("RegexEscape: an invalid UTF-8 byte becomes a literal that never matches") {
  const std::string bad = "Sit\x95 Up";  // a lone continuation byte
  REQUIRE_NOTHROW(Regex(RegexEscape(bad), kIgnoreCase));
  Regex re("-\\s*" + RegexEscape(bad) + ":");
  CHECK_FALSE(re.Search("- " + bad + ": torso"));
  CHECK_FALSE(re.Search("- Sit Up: torso"));
  // Truncated, overlong and surrogate sequences are invalid too; valid UTF-8 stays literal.
  for (std::string s : {"\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80"}) {
    INFO(s.size());
    REQUIRE_NOTHROW(Regex(RegexEscape("a" + s)));
    CHECK_FALSE(Regex(RegexEscape("a" + s)).Search("a" + s));
  }
  CHECK(Regex(RegexEscape("caf\xc3\xa9 (1)")).FullMatch("caf\xc3\xa9 (1)"));
}

TEST_CASE("ParseDecision: a tag with invalid UTF-8 is simply not found") {
  Decision d = ParseDecision("<pose\xc1>yes</pose\xc1>", "pose\xc1");
  CHECK_FALSE(d.found);
  CHECK_FALSE(d.yes);
  CHECK_FALSE(AnyYes("<pose\xc1>yes</pose\xc1>", {"pose\xc1"}));
}

TEST_CASE(
    "Regex::Cached: one compiled pattern per pattern and flags, per thread, bad patterns still "
    "throw") {
  auto a = Regex::Cached("<answer>(.*?)</answer>", kDotAll);
  auto b = Regex::Cached("<answer>(.*?)</answer>", kDotAll);
  auto c = Regex::Cached("<answer>(.*?)</answer>", kIgnoreCase);
  CHECK(a.get() == b.get());
  CHECK(a.get() != c.get());
  CHECK(a->Search("<answer>x\ny</answer>")->group(1) == "x\ny");
  CHECK_FALSE(c->Search("<ANSWER>x\ny</ANSWER>"));  // no DOTALL: '.' stops at the newline
  CHECK(c->Search("<ANSWER>xy</ANSWER>")->group(1) == "xy");
  // FullMatch compiles its anchored form on first use, and still anchors both ends.
  CHECK(a->FullMatch("<answer>q</answer>"));
  CHECK_FALSE(a->FullMatch("<answer>q</answer> trailing"));
  CHECK_THROWS_AS(Regex::Cached("(unclosed"), std::invalid_argument);
  // More patterns than the cache holds: it starts over, and pointers handed out stay valid.
  for (int i = 0; i < 600; ++i) Regex::Cached("p" + std::to_string(i));
  CHECK(a->Search("<answer>z</answer>")->group(1) == "z");
  CHECK(Regex::Cached("<answer>(.*?)</answer>", kDotAll)->Search("<answer>w</answer>"));
}
