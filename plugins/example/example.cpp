// `example`: the smallest real detect plugin, and the template for writing one. It reports, per frame,
// the bounding box of the pixels that differ from the frame's top-left pixel by more than a
// threshold — the foreground of a frame with a plain background (title cards, test patterns,
// screen recordings). It includes only <vstar/plugin.h>.
#include <cstdlib>
#include <string>

#include <vstar/plugin.h>

namespace {

namespace vp = vstar::plugin;

class ForegroundBox : public vp::Detector {
 public:
  explicit ForegroundBox(const vp::Config& config)
      : threshold_(vp::IntegerOption(config, "example", "threshold", 32, 0, 255)) {}

  vp::Info info() const override {
    return {"example", vp::Kind::kDetect, "1.0",
            "bounding box of the pixels that differ from the background (the top-left pixel)",
            {{"threshold", "largest per-channel difference still counted as background", "32"}}};
  }

  std::vector<std::vector<vp::Box>> Detect(const std::vector<vp::Image>& frames) override {
    std::vector<std::vector<vp::Box>> out;
    for (const auto& f : frames) {
      const std::uint8_t* bg = f.data;
      int x1 = f.width, y1 = f.height, x2 = -1, y2 = -1;
      long count = 0;
      for (int y = 0; y < f.height; ++y) {
        const std::uint8_t* row = f.data + static_cast<long>(y) * f.stride;
        for (int x = 0; x < f.width; ++x) {
          const std::uint8_t* px = row + 3 * x;
          if (std::abs(px[0] - bg[0]) > threshold_ || std::abs(px[1] - bg[1]) > threshold_ ||
              std::abs(px[2] - bg[2]) > threshold_) {
            if (x < x1) x1 = x;
            if (x > x2) x2 = x;
            if (y < y1) y1 = y;
            if (y > y2) y2 = y;
            ++count;
          }
        }
      }
      std::vector<vp::Box> boxes;
      if (count > 0) {
        // Score: how much of the box is foreground.
        float area = static_cast<float>(x2 - x1 + 1) * static_cast<float>(y2 - y1 + 1);
        boxes.push_back({float(x1), float(y1), float(x2 + 1), float(y2 + 1), count / area, 0, "foreground"});
      }
      out.push_back(std::move(boxes));
    }
    return out;
  }

 private:
  long threshold_ = 32;
};

}  // namespace

VSTAR_PLUGIN(ForegroundBox)
