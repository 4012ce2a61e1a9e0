// `yolo`: ultralytics YOLO detect and pose models exported to TorchScript (`yolo export
// format=torchscript`), run with LibTorch. Pre- and post-processing follow ultralytics `predict`
// (8.4): LetterBox (aspect kept, INTER_LINEAR, centred 114 padding), BGR->RGB, /255; NMS over the
// (B, 4+nc+extra, N) output with class offsets (max_wh 7680), torchvision's greedy NMS order,
// max_det; boxes and keypoints mapped back with scale_boxes/scale_coords and clipped. The model's
// metadata (config.txt inside the export: task, names, imgsz, kpt_shape, end2end) decides what it
// is.
#include <malloc.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <mutex>
#include <set>
#include <sstream>
#include <string>

#include <ATen/Parallel.h>
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/cuda.h>
#include <torch/headeronly/version.h>
#include <torch/script.h>
#include <vstar/plugin.h>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

namespace {

namespace vp = vstar::plugin;

constexpr float kMaxWh = 7680.f;  // ultralytics class offset for per-class NMS in one call
constexpr long kMaxNms = 30000;   // boxes entering NMS at most

// Python's round(): half to even.
double PyRound(double v) {
  return std::nearbyint(v);
}

struct Letterbox {
  int new_w, new_h, top, left;
};

// ultralytics LetterBox(new_shape=(s, s), auto=False, center=True) geometry.
Letterbox LetterboxGeometry(int w, int h, int size) {
  double r = std::min(static_cast<double>(size) / h, static_cast<double>(size) / w);
  int nw = std::max(static_cast<int>(PyRound(w * r)), 1),
      nh = std::max(static_cast<int>(PyRound(h * r)), 1);
  double dw = (size - nw) / 2.0, dh = (size - nh) / 2.0;
  return {nw, nh, static_cast<int>(PyRound(dh - 0.1)), static_cast<int>(PyRound(dw - 0.1))};
}

class Yolo : public vp::Detector, public vp::PoseEstimator {
 public:
  Yolo(const vp::Config& c, vp::Kind kind)
      : kind_(kind), model_path_(c.model), device_name_(c.device) {
    conf_ = vp::NumberOption(c, "yolo", "conf", 0.25, 0, 1);
    iou_ = vp::NumberOption(c, "yolo", "iou", 0.7, 0, 1);
    max_det_ = vp::IntegerOption(c, "yolo", "max_det", 300, 1);
    imgsz_ = static_cast<int>(vp::IntegerOption(c, "yolo", "imgsz", 0, 0, 8192));
    batch_ = static_cast<int>(vp::IntegerOption(c, "yolo", "batch", 0, 0, 4096));
    threads_ = static_cast<int>(vp::IntegerOption(c, "yolo", "threads", 0, 0, 1024));
    agnostic_ = vp::FlagOption(c, "yolo", "agnostic", false);
    const std::string dtype = c.get("dtype", "fp32");
    if (dtype != "fp32" && dtype != "bf16")
      throw vp::Error("yolo: dtype must be fp32 or bf16, not '" + dtype + "'");
    dtype_ = dtype == "bf16" ? torch::kBFloat16 : torch::kFloat;
    classes_spec_ = c.get("classes", kind == vp::Kind::kDetect ? "person" : "all");
    if (imgsz_ % 32) throw vp::Error("yolo: imgsz must be a multiple of 32 (0 = the export's)");
  }

  vp::Info info() const override {
    vp::Info i{
        "yolo",
        kind_,
        "1.0 (LibTorch " TORCH_VERSION ")",
        "ultralytics YOLO detect/pose TorchScript export (--model FILE.torchscript), ultralytics "
        "predict "
        "pre/post-processing",
        {{"conf", "confidence threshold", "0.25"},
         {"iou", "NMS IoU threshold", "0.7"},
         {"max_det", "detections kept per frame", "300"},
         {"classes", "class ids or names to keep, comma-separated, or 'all'",
          kind_ == vp::Kind::kDetect ? "person" : "all"},
         {"agnostic", "class-agnostic NMS", "false"},
         {"imgsz", "input size (0 = the export's imgsz)", "0"},
         {"batch", "frames per forward pass (0 = 1 on CPU, 8 on CUDA)", "0"},
         {"threads", "CPU threads for LibTorch (process-wide; 0 = LibTorch's default)", "0"},
         {"dtype",
          "weights and activations: fp32, or bf16 (about 2.5x faster on CPUs with AVX512-BF16 or "
          "AMX)",
          "fp32"}}};
    return i;
  }

  std::vector<std::vector<vp::Box>> Detect(const std::vector<vp::Image>& frames) override {
    auto people = Run(frames);
    std::vector<std::vector<vp::Box>> out(people.size());
    for (size_t f = 0; f < people.size(); ++f)
      for (auto& p : people[f]) out[f].push_back(std::move(p.box));
    return out;
  }

  std::vector<std::vector<vp::Person>> Estimate(const std::vector<vp::Image>& frames,
                                                const std::vector<std::vector<vp::Box>>*) override {
    return Run(frames);
  }

 private:
  void EnsureLoaded() {
    std::call_once(loaded_, [&] { Load(); });
    if (!load_error_.empty()) throw vp::Error(load_error_);
  }

  void Load() {
    try {
      if (model_path_.empty()) throw vp::Error("yolo: no model given (--model FILE.torchscript)");
      if (!std::filesystem::exists(model_path_))
        throw vp::Error("yolo: model file not found: " + model_path_);
      std::string dev = device_name_.empty() || device_name_ == "auto"
                            ? (torch::cuda::is_available() ? "cuda" : "cpu")
                            : device_name_;
      device_ = torch::Device(dev);
      // On CPU a batch only adds cache misses: at batch 8 the activations (50 MB a layer at
      // 640x640) no longer fit in cache, ~20% slower per image than one frame at a time
      // (bench/pose.sh).
      if (batch_ == 0) batch_ = device_.is_cpu() ? 1 : 8;
      if (threads_ > 0) torch::set_num_threads(threads_);
      torch::jit::ExtraFilesMap extra{{"config.txt", ""}};
      try {
        module_ = torch::jit::load(model_path_, device_, extra);
      } catch (const c10::Error& e) {
        throw vp::Error("yolo: cannot load TorchScript " + model_path_ + ": " +
                        e.what_without_backtrace());
      }
      module_.eval();
      // bf16 weights and activations, outputs back to float32 for the post-processing. Agreement
      // with float32 is unmeasured: it needs trained weights (bench/RESULTS.md, 2026-12-02). oneDNN
      // runs bf16 convolutions natively on AVX512-BF16 and AMX and emulates them, slower than fp32,
      // elsewhere.
      if (dtype_ != torch::kFloat) module_.to(dtype_);
      if (device_.is_cpu()) {
        // Channels-last weights, with the channels-last input Preprocess makes: the same arithmetic
        // with no NCHW<->NHWC reorders around oneDNN's convolutions; a 640x640 yolo11n-pose forward
        // on one thread takes 0.093 s instead of 0.106 s (PyTorch "(beta) Channels Last Memory
        // Format").
        torch::NoGradGuard no_grad;
        for (auto p : module_.parameters())
          if (p.dim() == 4) p.set_data(p.contiguous(at::MemoryFormat::ChannelsLast));
        // LibTorch's CPU tensors come from malloc. glibc maps blocks above its mmap threshold
        // afresh and hands freed heap tops back to the kernel, so each forward pass page-faults its
        // activations in again (~15% of the time at batch 8). Keep freed memory in the process
        // (mallopt(3); process-wide, which suits a pose or detect run).
        mallopt(M_MMAP_MAX, 0);
        mallopt(M_TRIM_THRESHOLD, std::numeric_limits<int>::max());
      }
      nlohmann::json meta;
      try {
        meta = nlohmann::json::parse(extra["config.txt"]);
      } catch (const std::exception&) {
        throw vp::Error("yolo: " + model_path_ +
                        " has no ultralytics metadata (config.txt); export it with `yolo export "
                        "format=torchscript`");
      }
      task_ = meta.value("task", "");
      end2end_ = meta.value("end2end", false);
      if (task_ != "detect" && task_ != "pose")
        throw vp::Error("yolo: " + model_path_ + " is a '" + task_ +
                        "' model; only detect and pose are supported");
      if (kind_ == vp::Kind::kPose && task_ != "pose")
        throw vp::Error("yolo: " + model_path_ +
                        " is a detect model (task=detect); pose needs a YOLO pose model");
      if (meta.contains("names"))
        for (auto& [k, v] : meta["names"].items()) names_[std::stoi(k)] = v.get<std::string>();
      if (imgsz_ == 0) {
        auto s = meta.value("imgsz", std::vector<int>{640, 640});
        if (s.size() != 2 || s[0] != s[1])
          throw vp::Error("yolo: only square exports are supported");
        imgsz_ = s[0];
      }
      if (task_ == "pose") {
        auto k = meta.value("kpt_shape", std::vector<int>{17, 3});
        if (k.size() != 2 || (k[1] != 2 && k[1] != 3))
          throw vp::Error("yolo: bad kpt_shape in metadata");
        nkpt_ = k[0];
        kdim_ = k[1];
      }
      export_batch_ = meta.value("batch", 1);
      // Classes to keep.
      if (classes_spec_ != "all") {
        std::stringstream s(classes_spec_);
        std::string item;
        while (std::getline(s, item, ',')) {
          if (item.empty()) continue;
          bool numeric = item.find_first_not_of("0123456789") == std::string::npos;
          if (numeric) {
            classes_.insert(std::stoi(item));
            continue;
          }
          bool found = false;
          for (auto& [id, name] : names_)
            if (name == item) classes_.insert(id), found = true;
          if (!found) throw vp::Error("yolo: class '" + item + "' is not among the model's names");
        }
      }
    } catch (const vp::Error& e) {
      load_error_ = e.what();
    }
  }

  torch::Tensor Forward(const torch::Tensor& input) {
    c10::InferenceMode inference;
    // The profiling graph executor spends the first two calls profiling and re-optimising a graph
    // whose ops (convolutions, SiLU, concatenations) it has nothing to fuse for on CPU; running the
    // graph as exported makes the second call as fast as the hundredth
    // (torch.jit.optimized_execution).
    torch::jit::GraphOptimizerEnabledGuard plain_graph(false);
    auto out = module_.forward({input});
    if (out.isTuple()) return out.toTuple()->elements()[0].toTensor();
    if (out.isList()) return out.toList().get(0).toTensor();
    return out.toTensor();
  }

  std::vector<std::vector<vp::Person>> Run(const std::vector<vp::Image>& frames) {
    EnsureLoaded();
    std::vector<std::vector<vp::Person>> out;
    for (size_t at = 0; at < frames.size();) {
      size_t n =
          std::min<size_t>(frames.size() - at, static_cast<size_t>(fixed_batch_ ? 1 : batch_));
      std::vector<vp::Image> part(frames.begin() + at, frames.begin() + at + n);
      torch::Tensor pred;
      torch::Tensor input = Preprocess(part);
      try {
        pred = Forward(input);
      } catch (const c10::Error& e) {
        if (n == 1)
          throw vp::Error(std::string("yolo: inference failed: ") + e.what_without_backtrace());
        fixed_batch_ = true;  // an export traced for batch 1 only: go frame by frame from now on
        continue;
      }
      pred = pred.to(torch::kCPU, torch::kFloat).contiguous();
      for (size_t i = 0; i < n; ++i) out.push_back(Postprocess(pred[i], part[i]));
      at += n;
    }
    return out;
  }

  torch::Tensor Preprocess(const std::vector<vp::Image>& frames) {
    const int s = imgsz_;
    auto batch = torch::empty({static_cast<long>(frames.size()), s, s, 3}, torch::kUInt8);
    for (size_t i = 0; i < frames.size(); ++i) {
      const auto& f = frames[i];
      if (f.width <= 0 || f.height <= 0 || !f.data) throw vp::Error("yolo: empty frame " + f.path);
      cv::Mat src(f.height, f.width, CV_8UC3, const_cast<std::uint8_t*>(f.data), f.stride);
      auto g = LetterboxGeometry(f.width, f.height, s);
      cv::Mat dst(s, s, CV_8UC3, batch[i].data_ptr<std::uint8_t>());
      dst.setTo(cv::Scalar(114, 114, 114));
      cv::Mat roi = dst(cv::Rect(g.left, g.top, g.new_w, g.new_h));
      // BGR->RGB here, on the letterboxed pixels: resizing works per channel and the padding is
      // grey, so this equals ultralytics' swap after LetterBox, with no extra pass over the batch.
      if (g.new_w == f.width && g.new_h == f.height) {
        cv::cvtColor(src, roi, cv::COLOR_BGR2RGB);
      } else {
        cv::resize(src, roi, cv::Size(g.new_w, g.new_h), 0, 0, cv::INTER_LINEAR);
        cv::cvtColor(roi, roi, cv::COLOR_BGR2RGB);
      }
    }
    // As ultralytics: uint8 to the device, then float, /255. The BHWC buffer seen as BCHW is the
    // channels-last layout, kept by the conversion (ultralytics makes it contiguous NCHW: same
    // values).
    auto t = batch.to(device_).permute({0, 3, 1, 2});
    if (!device_.is_cpu()) t = t.contiguous();
    t = t.to(torch::kFloat).div_(255);
    return dtype_ == torch::kFloat ? t : t.to(dtype_);
  }

  // One image's prediction (C, N) to people in source pixels.
  std::vector<vp::Person> Postprocess(const torch::Tensor& pred_cn, const vp::Image& frame) {
    std::vector<vp::Person> people;
    const long extra = task_ == "pose" ? static_cast<long>(nkpt_) * kdim_ : 0;
    struct Row {
      float box[4];
      float conf;
      int cls;
      long src;  // column in pred
    };
    std::vector<Row> rows;
    torch::Tensor pred;  // (N, C)
    if (end2end_) {
      pred = pred_cn.contiguous();  // already (max_det, 6+extra), NMS done in the graph
      const float* p = pred.data_ptr<float>();
      const long C = pred.size(1);
      for (long i = 0; i < pred.size(0); ++i) {
        const float* r = p + i * C;
        int cls = static_cast<int>(r[5]);
        if (!(r[4] > conf_) || (!classes_.empty() && !classes_.count(cls))) continue;
        rows.push_back({{r[0], r[1], r[2], r[3]}, r[4], cls, i});
        if (static_cast<long>(rows.size()) >= max_det_) break;
      }
    } else {
      pred = pred_cn.transpose(0, 1).contiguous();
      const long N = pred.size(0), C = pred.size(1);
      const long nc =
          task_ == "pose" ? static_cast<long>(std::max<size_t>(names_.size(), 1)) : C - 4;
      if (nc <= 0 || 4 + nc + extra != C)
        throw vp::Error("yolo: output has " + std::to_string(C) + " channels, expected 4+nc+" +
                        std::to_string(extra));
      const float* p = pred.data_ptr<float>();
      for (long i = 0; i < N; ++i) {
        const float* r = p + i * C;
        // Best class (first maximum, as torch.max).
        int best = 0;
        float conf = r[4];
        for (long c = 1; c < nc; ++c)
          if (r[4 + c] > conf) conf = r[4 + c], best = static_cast<int>(c);
        if (!(conf > conf_)) continue;
        if (!classes_.empty() && !classes_.count(best)) continue;
        // xywh -> xyxy exactly as ultralytics (half-size first, in float32).
        float hw = r[2] / 2, hh = r[3] / 2;
        rows.push_back({{r[0] - hw, r[1] - hh, r[0] + hw, r[1] + hh}, conf, best, i});
      }
      rows = Nms(std::move(rows));
      if (static_cast<long>(rows.size()) > max_det_) rows.resize(max_det_);
    }
    // scale_boxes / scale_coords (ultralytics 8.4): per-axis gains of the rounded letterbox size.
    const double h0 = frame.height, w0 = frame.width, s = imgsz_;
    const double gain = std::min(s / h0, s / w0);
    const double new_h = std::max(PyRound(h0 * gain), 1.0),
                 new_w = std::max(PyRound(w0 * gain), 1.0);
    const float gy = static_cast<float>(new_h / h0), gx = static_cast<float>(new_w / w0);
    const float pad_x = static_cast<float>(PyRound((s - new_w) / 2 - 0.1));
    const float pad_y = static_cast<float>(PyRound((s - new_h) / 2 - 0.1));
    const float W = frame.width, H = frame.height;
    auto clamp = [](float v, float hi) { return std::min(std::max(v, 0.f), hi); };
    const float* p = pred.data_ptr<float>();
    const long C = pred.size(1);
    const long kstart = end2end_ ? 6 : C - extra;
    for (const auto& r : rows) {
      vp::Person person;
      person.box.x1 = clamp((r.box[0] - pad_x) / gx, W);
      person.box.y1 = clamp((r.box[1] - pad_y) / gy, H);
      person.box.x2 = clamp((r.box[2] - pad_x) / gx, W);
      person.box.y2 = clamp((r.box[3] - pad_y) / gy, H);
      person.box.score = r.conf;
      person.box.cls = r.cls;
      auto it = names_.find(r.cls);
      person.box.label = it != names_.end() ? it->second : std::to_string(r.cls);
      if (extra) {
        const float* k = p + r.src * C + kstart;
        for (int j = 0; j < nkpt_; ++j) {
          vp::Keypoint kp;
          kp.x = clamp((k[j * kdim_] - pad_x) / gx, W);
          kp.y = clamp((k[j * kdim_ + 1] - pad_y) / gy, H);
          kp.conf = kdim_ == 3 ? k[j * kdim_ + 2] : 1.f;
          person.keypoints.push_back(kp);
        }
      }
      people.push_back(std::move(person));
    }
    return people;
  }

  // torchvision.ops.nms (CPU kernel) over class-offset boxes, after ultralytics' max_nms cut.
  template <typename Row>
  std::vector<Row> Nms(std::vector<Row> rows) {
    const long n0 = static_cast<long>(rows.size());
    if (n0 == 0) return rows;
    auto scores_of = [](const std::vector<Row>& rs) {
      auto t = torch::empty({static_cast<long>(rs.size())}, torch::kFloat);
      float* d = t.data_ptr<float>();
      for (size_t i = 0; i < rs.size(); ++i) d[i] = rs[i].conf;
      return t;
    };
    if (n0 > kMaxNms) {
      auto order = std::get<1>(scores_of(rows).sort(0, /*descending=*/true)).slice(0, 0, kMaxNms);
      std::vector<Row> cut;
      auto o = order.template accessor<int64_t, 1>();
      for (long i = 0; i < kMaxNms; ++i) cut.push_back(rows[o[i]]);
      rows = std::move(cut);
    }
    const long n = static_cast<long>(rows.size());
    std::vector<float> x1(n), y1(n), x2(n), y2(n), area(n);
    for (long i = 0; i < n; ++i) {
      float off = agnostic_ ? 0.f : static_cast<float>(rows[i].cls) * kMaxWh;
      x1[i] = rows[i].box[0] + off, y1[i] = rows[i].box[1] + off;
      x2[i] = rows[i].box[2] + off, y2[i] = rows[i].box[3] + off;
      area[i] = (x2[i] - x1[i]) * (y2[i] - y1[i]);
    }
    // Same sort call as torchvision's kernel, so equal scores keep its order.
    auto order_t = std::get<1>(scores_of(rows).sort(0, /*descending=*/true));
    auto order = order_t.template accessor<int64_t, 1>();
    std::vector<char> suppressed(n, 0);
    std::vector<Row> keep;
    for (long oi = 0; oi < n; ++oi) {
      long i = order[oi];
      if (suppressed[i]) continue;
      keep.push_back(rows[i]);
      for (long oj = oi + 1; oj < n; ++oj) {
        long j = order[oj];
        if (suppressed[j]) continue;
        float xx1 = std::max(x1[i], x1[j]), yy1 = std::max(y1[i], y1[j]);
        float xx2 = std::min(x2[i], x2[j]), yy2 = std::min(y2[i], y2[j]);
        float w = std::max(0.f, xx2 - xx1), h = std::max(0.f, yy2 - yy1);
        float inter = w * h;
        float ovr = inter / (area[i] + area[j] - inter);
        if (ovr > iou_) suppressed[j] = 1;
      }
    }
    return keep;
  }

  vp::Kind kind_;
  std::string model_path_, device_name_;
  double conf_, iou_;
  long max_det_;
  int imgsz_, batch_, threads_;
  bool agnostic_;
  std::string classes_spec_;

  std::once_flag loaded_;
  std::string load_error_;
  torch::jit::Module module_;
  torch::Device device_{torch::kCPU};
  std::string task_;
  bool end2end_ = false;
  std::map<int, std::string> names_;
  std::set<int> classes_;
  int nkpt_ = 0, kdim_ = 3, export_batch_ = 1;
  bool fixed_batch_ = false;
  torch::ScalarType dtype_ = torch::kFloat;
};

std::unique_ptr<vp::Tool> Create(const vp::Config& c) {
  if (c.kind != vp::Kind::kDetect && c.kind != vp::Kind::kPose)
    throw vp::Error("yolo serves detect and pose only");
  auto y = std::make_unique<Yolo>(c, c.kind);
  if (c.kind == vp::Kind::kDetect)
    return std::unique_ptr<vp::Tool>(static_cast<vp::Detector*>(y.release()));
  return std::unique_ptr<vp::Tool>(static_cast<vp::PoseEstimator*>(y.release()));
}

}  // namespace

VSTAR_PLUGIN_FACTORY(Create)
