// `onnx`: COCO detectors exported to ONNX, run with OpenCV DNN (checked correct in OpenCV 4.6 for both):
//   yolox      YOLOX (e.g. YOLOX-Nano 416): BGR 0-255, letterbox pasted top-left with 114 padding,
//              output (1, A, 85) over stride 8/16/32 grids: cx=(dx+gx)*s, w=exp(lw)*s, score=obj*cls.
//   fastestdet FastestDet 352: plain resize (INTER_AREA) to 352x352, BGR/255, output (1, 85, H, W):
//              obj, tanh centre offsets, sigmoid w/h as image fractions, softmaxed classes;
//              score = obj^0.6 * cls^0.4 (the upstream example's rule).
// The architecture is taken from --plugin-opt arch=..., else guessed from the file name.
#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <mutex>
#include <set>
#include <sstream>
#include <string>

#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>
#include <opencv2/imgproc.hpp>
#include <vstar/plugin.h>

namespace {

namespace vp = vstar::plugin;

const std::array<const char*, 80> kCoco = {
    "person",        "bicycle",      "car",           "motorcycle",    "airplane",     "bus",
    "train",         "truck",        "boat",          "traffic light", "fire hydrant", "stop sign",
    "parking meter", "bench",        "bird",          "cat",           "dog",          "horse",
    "sheep",         "cow",          "elephant",      "bear",          "zebra",        "giraffe",
    "backpack",      "umbrella",     "handbag",       "tie",           "suitcase",     "frisbee",
    "skis",          "snowboard",    "sports ball",   "kite",          "baseball bat", "baseball glove",
    "skateboard",    "surfboard",    "tennis racket", "bottle",        "wine glass",   "cup",
    "fork",          "knife",        "spoon",         "bowl",          "banana",       "apple",
    "sandwich",      "orange",       "broccoli",      "carrot",        "hot dog",      "pizza",
    "donut",         "cake",         "chair",         "couch",         "potted plant", "bed",
    "dining table",  "toilet",       "tv",            "laptop",        "mouse",        "remote",
    "keyboard",      "cell phone",   "microwave",     "oven",          "toaster",      "sink",
    "refrigerator",  "book",         "clock",         "vase",          "scissors",     "teddy bear",
    "hair drier",    "toothbrush"};

float IoU(const vp::Box& a, const vp::Box& b) {
  float iw = std::max(0.f, std::min(a.x2, b.x2) - std::max(a.x1, b.x1));
  float ih = std::max(0.f, std::min(a.y2, b.y2) - std::max(a.y1, b.y1));
  float inter = iw * ih, uni = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter;
  return uni > 0 ? inter / uni : 0.f;
}

// Greedy per-class NMS, highest score first (stable for equal scores).
std::vector<vp::Box> Nms(std::vector<vp::Box> boxes, float iou, size_t max_det) {
  std::stable_sort(boxes.begin(), boxes.end(), [](const vp::Box& a, const vp::Box& b) { return a.score > b.score; });
  std::vector<vp::Box> keep;
  for (const auto& b : boxes) {
    bool suppressed = false;
    for (const auto& k : keep)
      if (k.cls == b.cls && IoU(k, b) > iou) {
        suppressed = true;
        break;
      }
    if (!suppressed) keep.push_back(b);
    if (keep.size() >= max_det) break;
  }
  return keep;
}

float Sigmoid(float v) { return 1.f / (1.f + std::exp(-v)); }

class OnnxDetector : public vp::Detector {
 public:
  explicit OnnxDetector(const vp::Config& c) : model_(c.model) {
    arch_ = c.get("arch", "auto");
    if (arch_ == "auto") {
      std::string file = std::filesystem::path(model_).filename().string();
      std::transform(file.begin(), file.end(), file.begin(), ::tolower);
      arch_ = file.find("fastestdet") != std::string::npos ? "fastestdet"
              : file.find("yolox") != std::string::npos    ? "yolox"
                                                           : "";
    }
    if (!model_.empty() && arch_ != "yolox" && arch_ != "fastestdet")
      throw vp::Error("onnx: cannot tell the architecture of " + model_ + "; pass --plugin-opt arch=yolox|fastestdet");
    const bool yolox = arch_ != "fastestdet";
    conf_ = vp::NumberOption(c, "onnx", "conf", yolox ? 0.3 : 0.65, 0, 1);
    iou_ = vp::NumberOption(c, "onnx", "iou", 0.45, 0, 1);
    size_ = static_cast<int>(vp::IntegerOption(c, "onnx", "size", yolox ? 416 : 352, 32, 8192));
    max_det_ = static_cast<size_t>(vp::IntegerOption(c, "onnx", "max_det", 300, 1));
    std::string classes = c.get("classes", "person");
    if (classes != "all") {
      std::stringstream s(classes);
      std::string item;
      while (std::getline(s, item, ',')) {
        if (item.empty()) continue;
        if (item.find_first_not_of("0123456789") == std::string::npos) {
          classes_.insert(std::stoi(item));
          continue;
        }
        auto it = std::find(kCoco.begin(), kCoco.end(), item);
        if (it == kCoco.end()) throw vp::Error("onnx: '" + item + "' is not a COCO class name");
        classes_.insert(static_cast<int>(it - kCoco.begin()));
      }
    }
    if (size_ <= 0 || size_ % 32) throw vp::Error("onnx: size must be a positive multiple of 32");
  }

  vp::Info info() const override {
    return {"onnx",
            vp::Kind::kDetect,
            "1.0 (OpenCV " CV_VERSION ")",
            "COCO detectors in ONNX via OpenCV DNN: YOLOX (e.g. YOLOX-Nano 416) and FastestDet 352",
            {{"arch", "yolox, fastestdet, or auto (from the model file name)", "auto"},
             {"conf", "score threshold (yolox 0.3, fastestdet 0.65)", arch_ == "fastestdet" ? "0.65" : "0.3"},
             {"iou", "NMS IoU threshold", "0.45"},
             {"size", "network input size (yolox 416, fastestdet 352)", arch_ == "fastestdet" ? "352" : "416"},
             {"max_det", "detections kept per frame", "300"},
             {"classes", "COCO class ids or names to keep, comma-separated, or 'all'", "person"}}};
  }

  std::vector<std::vector<vp::Box>> Detect(const std::vector<vp::Image>& frames) override {
    EnsureLoaded();
    std::vector<std::vector<vp::Box>> out;
    for (const auto& f : frames) {
      cv::Mat im(f.height, f.width, CV_8UC3, const_cast<std::uint8_t*>(f.data), f.stride);
      out.push_back(Nms(arch_ == "yolox" ? Yolox(im) : FastestDet(im), static_cast<float>(iou_), max_det_));
    }
    return out;
  }

 private:
  void EnsureLoaded() {
    std::call_once(once_, [&] {
      try {
        if (model_.empty()) throw vp::Error("onnx: no model given (--model FILE.onnx)");
        if (!std::filesystem::exists(model_)) throw vp::Error("onnx: model file not found: " + model_);
        net_ = cv::dnn::readNetFromONNX(model_);
        net_.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
        net_.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
      } catch (const cv::Exception& e) {
        error_ = "onnx: cannot load " + model_ + ": " + e.what();
      } catch (const vp::Error& e) {
        error_ = e.what();
      }
    });
    if (!error_.empty()) throw vp::Error(error_);
  }

  bool Keep(int cls) const { return classes_.empty() || classes_.count(cls); }

  std::vector<vp::Box> Yolox(const cv::Mat& im) {
    const double r = std::min(static_cast<double>(size_) / im.rows, static_cast<double>(size_) / im.cols);
    cv::Mat padded(size_, size_, CV_8UC3, cv::Scalar(114, 114, 114));
    cv::Mat resized;
    cv::resize(im, resized, cv::Size(static_cast<int>(im.cols * r), static_cast<int>(im.rows * r)), 0, 0,
               cv::INTER_LINEAR);
    resized.copyTo(padded(cv::Rect(0, 0, resized.cols, resized.rows)));
    cv::Mat blob = cv::dnn::blobFromImage(padded, 1.0, cv::Size(), cv::Scalar(), /*swapRB=*/false, false, CV_32F);
    net_.setInput(blob);
    cv::Mat out = net_.forward();
    int anchors = 0;
    for (int s : {8, 16, 32}) anchors += (size_ / s) * (size_ / s);
    if (out.dims != 3 || out.size[1] != anchors || out.size[2] < 6)
      throw vp::Error("onnx: " + model_ + " does not give the YOLOX output (1, " + std::to_string(anchors) +
                      ", 5+nc) at size " + std::to_string(size_));
    const int C = out.size[2], nc = C - 5;
    const float* p = out.ptr<float>();
    std::vector<vp::Box> boxes;
    long row = 0;
    for (int s : {8, 16, 32}) {
      const int g = size_ / s;
      for (int gy = 0; gy < g; ++gy)
        for (int gx = 0; gx < g; ++gx, ++row) {
          const float* q = p + row * C;
          int best = 0;
          for (int c = 1; c < nc; ++c)
            if (q[5 + c] > q[5 + best]) best = c;
          float score = q[4] * q[5 + best];
          if (score < conf_ || !Keep(best)) continue;
          float cx = (q[0] + gx) * s, cy = (q[1] + gy) * s;
          float w = std::exp(q[2]) * s, h = std::exp(q[3]) * s;
          boxes.push_back(Clip({float((cx - w / 2) / r), float((cy - h / 2) / r), float((cx + w / 2) / r),
                                float((cy + h / 2) / r), score, best, Label(best)},
                               im));
        }
    }
    return boxes;
  }

  std::vector<vp::Box> FastestDet(const cv::Mat& im) {
    cv::Mat resized;
    cv::resize(im, resized, cv::Size(size_, size_), 0, 0, cv::INTER_AREA);
    cv::Mat blob = cv::dnn::blobFromImage(resized, 1.0 / 255, cv::Size(), cv::Scalar(), false, false, CV_32F);
    net_.setInput(blob);
    cv::Mat out = net_.forward();
    if (out.dims != 4 || out.size[1] < 6)
      throw vp::Error("onnx: " + model_ + " does not give the FastestDet output (1, 5+nc, H, W)");
    const int C = out.size[1], H = out.size[2], W = out.size[3], nc = C - 5;
    const float* p = out.ptr<float>();
    auto at = [&](int c, int y, int x) { return p[(static_cast<long>(c) * H + y) * W + x]; };
    std::vector<vp::Box> boxes;
    for (int y = 0; y < H; ++y)
      for (int x = 0; x < W; ++x) {
        int best = 0;
        for (int c = 1; c < nc; ++c)
          if (at(5 + c, y, x) > at(5 + best, y, x)) best = c;
        float score = std::pow(at(0, y, x), 0.6f) * std::pow(at(5 + best, y, x), 0.4f);
        if (score <= conf_ || !Keep(best)) continue;
        float cx = (x + std::tanh(at(1, y, x))) / W, cy = (y + std::tanh(at(2, y, x))) / H;
        float w = Sigmoid(at(3, y, x)), h = Sigmoid(at(4, y, x));
        boxes.push_back(Clip({(cx - w / 2) * im.cols, (cy - h / 2) * im.rows, (cx + w / 2) * im.cols,
                              (cy + h / 2) * im.rows, score, best, Label(best)},
                             im));
      }
    return boxes;
  }

  static std::string Label(int cls) { return cls >= 0 && cls < 80 ? kCoco[cls] : std::to_string(cls); }

  static vp::Box Clip(vp::Box b, const cv::Mat& im) {
    auto c = [](float v, float hi) { return std::min(std::max(v, 0.f), hi); };
    b.x1 = c(b.x1, float(im.cols)), b.x2 = c(b.x2, float(im.cols));
    b.y1 = c(b.y1, float(im.rows)), b.y2 = c(b.y2, float(im.rows));
    return b;
  }

  std::string model_, arch_;
  double conf_, iou_;
  int size_;
  size_t max_det_;
  std::set<int> classes_;
  std::once_flag once_;
  std::string error_;
  cv::dnn::Net net_;
};

}  // namespace

VSTAR_PLUGIN(OnnxDetector)
