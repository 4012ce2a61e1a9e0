// Antialiased bicubic resize against torchvision (tests/fixtures/video/resize, made by
// tools/golden/video_resize.py).
#include <algorithm>
#include <cstdlib>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "support.hpp"
#include "video/image_io.hpp"
#include "video/resize.hpp"

using namespace vstar::video;

namespace {
// The golden script's input pattern.
Image Pattern(int h, int w) {
  Image img;
  img.width = w;
  img.height = h;
  img.channels = 3;
  img.pixels.resize(static_cast<size_t>(w) * h * 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c)
        img.pixels[(static_cast<size_t>(y) * w + x) * 3 + c] =
            static_cast<uint8_t>((3 * x + 5 * y + 40 * c + 60 * (((x / 8) + (y / 8)) % 2)) % 256);
  return img;
}
}  // namespace

TEST_CASE("resize equals torchvision resize(BICUBIC, antialias=True) bit for bit", "[video][resize]") {
  const auto dir = vstar::test::FixtureDir() / "video" / "resize";
  const auto manifest = nlohmann::json::parse(vstar::test::ReadFile(dir / "manifest.json"));
  REQUIRE(manifest["cases"].size() >= 8);
  for (const auto& c : manifest["cases"]) {
    const int ih = c["in"][0], iw = c["in"][1], oh = c["out"][0], ow = c["out"][1];
    INFO(c["file"].get<std::string>());
    const Image ref = ReadImageRgb(dir / c["file"].get<std::string>());
    REQUIRE(ref.width == ow);
    REQUIRE(ref.height == oh);
    const Image got = ResizeBicubicAntialias(Pattern(ih, iw), oh, ow);
    REQUIRE(got.width == ow);
    REQUIRE(got.height == oh);
    size_t differ = 0;
    int max_diff = 0;
    for (size_t i = 0; i < got.pixels.size(); ++i) {
      const int d = std::abs(int(got.pixels[i]) - int(ref.pixels[i]));
      differ += d != 0;
      max_diff = std::max(max_diff, d);
    }
    INFO(differ << " of " << got.pixels.size() << " values differ, by at most " << max_diff);
    CHECK(differ == 0);
  }
}

TEST_CASE("resize to the same size is the identity, bad sizes are rejected", "[video][resize]") {
  const Image img = Pattern(30, 40);
  CHECK(ResizeBicubicAntialias(img, 30, 40).pixels == img.pixels);
  CHECK_THROWS_AS(ResizeBicubicAntialias(img, 0, 10), std::invalid_argument);
  Image broken = img;
  broken.pixels.pop_back();
  CHECK_THROWS_AS(ResizeBicubicAntialias(broken, 10, 10), std::invalid_argument);
}

TEST_CASE("image formats", "[video][resize]") {
  CHECK(ParseImageFormat("png").ToString() == "png");
  CHECK(ParseImageFormat("ppm").ToString() == "ppm");
  CHECK(ParseImageFormat("ppm").Extension() == ".ppm");
  CHECK(ImageFormat{}.kind == ImageFormat::Kind::kPpm);
  CHECK(ParseImageFormat("ppm").lossless());
  CHECK_FALSE(ParseImageFormat("jpg").lossless());
  CHECK(ParseImageFormat("jpg:85").ToString() == "jpg:85");
  CHECK(ParseImageFormat("jpg").ToString() == "jpg:95");
  CHECK_THROWS_AS(ParseImageFormat("jpg:0"), std::invalid_argument);
  CHECK_THROWS_AS(ParseImageFormat("jpg:101"), std::invalid_argument);
  CHECK_THROWS_AS(ParseImageFormat("gif"), std::invalid_argument);
  // PNG round trip is lossless.
  const Image img = Pattern(17, 23);
  const auto dir = vstar::test::TempDir("video-png");
  vstar::test::WriteFile(dir / "a.png", EncodeImage(img, ParseImageFormat("png")));
  CHECK(ReadImageRgb(dir / "a.png").pixels == img.pixels);
  // So is PPM: the header, then the pixels as they are.
  const std::string ppm = EncodeImage(img, ParseImageFormat("ppm"));
  CHECK(ppm.substr(0, 13) == "P6\n23 17\n255\n");
  CHECK(ppm.size() == 13 + img.pixels.size());
  vstar::test::WriteFile(dir / "a.ppm", ppm);
  const Image back = ReadImageRgb(dir / "a.ppm");
  CHECK(back.width == 23);
  CHECK(back.height == 17);
  CHECK(back.pixels == img.pixels);
}
