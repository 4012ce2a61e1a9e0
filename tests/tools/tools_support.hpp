#pragma once
// Helpers for the visual-tool tests: frames records over image files, tiny PPM writer, PNG size.
#include <filesystem>
#include <string>
#include <vector>

#include "io/record.hpp"
#include "support.hpp"

namespace vstar::test {

inline std::string FramesRecord(const std::string& id, const std::vector<std::filesystem::path>& paths,
                                const io::Json& extra = io::Json::object()) {
  io::Json r = io::Json::object();
  r["id"] = id;
  io::Json p = io::Json::array();
  for (const auto& x : paths) p.push_back(x.string());
  r["frames"] = {{"paths", p}};
  for (auto& [k, v] : extra.items()) r[k] = v;
  return io::Dump(r) + "\n";
}

inline io::Json ParseLine(const std::string& line) { return io::Json::parse(line); }

// Binary PPM (P6), which cv::imread reads: a `bg` canvas with one `fg` rectangle [x1,x2)x[y1,y2).
inline void WritePpm(const std::filesystem::path& p, int w, int h, int x1, int y1, int x2, int y2,
                     unsigned char bg = 0, unsigned char fg = 255) {
  std::string data = "P6\n" + std::to_string(w) + " " + std::to_string(h) + "\n255\n";
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      unsigned char v = (x >= x1 && x < x2 && y >= y1 && y < y2) ? fg : bg;
      data.append(3, static_cast<char>(v));
    }
  WriteFile(p, data);
}

// Width and height from a PNG's IHDR; {0,0} if the file is not a PNG.
inline std::pair<int, int> PngSize(const std::filesystem::path& p) {
  std::string d = ReadFile(p);
  if (d.size() < 24 || d.compare(1, 3, "PNG") != 0) return {0, 0};
  auto be = [&](size_t o) {
    return (static_cast<unsigned char>(d[o]) << 24) | (static_cast<unsigned char>(d[o + 1]) << 16) |
           (static_cast<unsigned char>(d[o + 2]) << 8) | static_cast<unsigned char>(d[o + 3]);
  };
  return {static_cast<int>(be(16)), static_cast<int>(be(20))};
}

inline std::filesystem::path PluginDir() { return BinaryDir() / "lib" / "vstar" / "plugins"; }

}  // namespace vstar::test
