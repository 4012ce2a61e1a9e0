#include <catch2/catch.hpp>

#include "io/text.hpp"
#include "support.hpp"

using namespace vstar;

TEST_CASE("ReadFile returns the bytes and names the file it cannot open", "[io][text]") {
  auto dir = test::TempDir("text");
  const std::string bytes("a\r\nb\0c\xff", 7);
  test::WriteFile(dir / "f.bin", bytes);
  CHECK(io::ReadFile(dir / "f.bin") == bytes);
  CHECK(io::ReadFileOrStdin(dir / "f.bin", "input") == bytes);
  const auto missing = dir / "absent.txt";
  CHECK_THROWS_WITH(io::ReadFile(missing, "class list"),
                    "cannot open class list " + missing.string() + ": No such file or directory");
  CHECK_THROWS_WITH(io::ReadFile(dir), Catch::StartsWith("cannot read file " + dir.string() + ":"));
}

TEST_CASE("Trim is Python's str.strip(): ASCII and Unicode spaces, never inner ones",
          "[io][text]") {
  CHECK(io::Trim("  a b \t\r\n") == "a b");
  CHECK(io::Trim("\xC2\xA0\xE3\x80\x80x\xE2\x80\xA8") == "x");  // NBSP, U+3000, U+2028
  CHECK(io::Trim(" \x1F\x85") == "\x85");  // a lone 0x85 is not UTF-8 (NEL is C2 85): kept
  CHECK(io::Trim("\xC2\x85q") == "q");
  CHECK(io::Trim("") == "");
  CHECK(io::Trim(" \t ") == "");
  CHECK(io::Trim("\xE2\x80\x8B"
                 "a") ==
        "\xE2\x80\x8B"
        "a");  // U+200B ZERO WIDTH SPACE is no space
}

TEST_CASE("Lower is Python's str.lower() and keeps invalid bytes", "[io][text]") {
  CHECK(io::Lower("Content-Type: JSON") == "content-type: json");
  CHECK(io::Lower("\xC3\x89T\xC3\x89") == "\xC3\xA9t\xC3\xA9");  // ÉTÉ -> été
  CHECK(io::Lower("\xCE\xA3\xCE\x91") == "\xCF\x83\xCE\xB1");    // ΣΑ -> σα
  CHECK(io::Lower("A\xFF"
                  "B") ==
        "a\xFF"
        "b");
}

TEST_CASE("NextCodePoint decodes one code point or one invalid byte", "[io][text]") {
  std::int32_t cp = 0;
  CHECK(io::NextCodePoint("\xE2\x82\xAC!", 0, &cp) == 3);
  CHECK(cp == 0x20AC);
  CHECK(io::NextCodePoint("\xE2\x82", 0, &cp) == 1);
  CHECK(cp == -1);
}
