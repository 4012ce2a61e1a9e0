#include "video/stage.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <sstream>
#include <thread>

#include <CLI/CLI.hpp>

#include "io/cache.hpp"
#include "io/log.hpp"
#include "io/text.hpp"

namespace vstar::video {

namespace fs = std::filesystem;

void DecodeOptions::Register(CLI::App& app) {
  app.add_option("--sample", sample,
                 "Frame sampling: qwen (= qwen:videostar, 4-16 frames at 2 fps), qwen:upstream (4-768 frames), "
                 "uniform:N, fps:F (by timestamp), all")
      ->capture_default_str();
  app.add_option("--resize", resize,
                 "none: keep the source resolution; qwen: smart_resize (28-aligned, qwen pixel limits of the "
                 "sampling's constant set) with antialiased bicubic")
      ->check(CLI::IsMember({"none", "qwen"}))
      ->capture_default_str();
  app.add_option("--format", format,
                 "Frame files: ppm (lossless, uncompressed: the fastest to write and to read), png "
                 "(lossless, "
                 "zlib level 1; a quarter of the size) or jpg:Q (quality 1-100)")
      ->capture_default_str();
  app.add_option("--root", root, "Directory that relative `video` paths are resolved against (default: cwd)");
  app.add_option("--timeout", timeout_s, "Seconds allowed per clip; 0 = no limit")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--decode-threads", decode_threads,
                 "libavcodec threads per clip; 0 = cores / --threads")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_flag("--no-cache", no_cache, "Decode even when the frame cache already holds the result");
  app.add_flag("--no-seek", no_seek,
               "Never seek: decode every clip sequentially (the reference path; same frames, slower)");
  app.add_flag("--follow-symlinks", follow_symlinks,
               "Read `video` paths that are symbolic links (refused by default: a record must not "
               "be able to "
               "point vs-decode at a file its path does not name)");
}

int DefaultClipThreads() {
  return static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 1024u));
}

DecodeStage::DecodeStage(const DecodeOptions& opt, int clip_threads)
    : opt_(opt), spec_(ParseSampleSpec(opt.sample)), format_(ParseImageFormat(opt.format)) {
  if (opt.resize != "none" && opt.resize != "qwen")
    throw std::invalid_argument("--resize " + opt.resize + ": expected none or qwen");
  resize_qwen_ = opt.resize == "qwen";
  reader_.timeout_s = opt.timeout_s;
  reader_.allow_seek = !opt.no_seek;
  int threads = opt.decode_threads;
  if (threads <= 0) {
    const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    threads = std::max(1, cores / std::max(1, clip_threads));
  }
  reader_.codec_threads = threads;
}

fs::path DecodeStage::Resolve(const std::string& video) const {
  fs::path p(video);
  if (p.is_relative() && !opt_.root.empty()) p = fs::path(opt_.root) / p;
  return p;
}

namespace {

// File identity for the cache key: absolute path, size and modification time.
std::string FileIdentity(const fs::path& file) {
  std::error_code ec;
  fs::path abs = fs::weakly_canonical(fs::absolute(file), ec);
  if (ec) abs = fs::absolute(file);
  const auto size = fs::file_size(file);
  const auto mtime = fs::last_write_time(file).time_since_epoch().count();
  std::ostringstream s;
  s << abs.string() << '\n' << size << '\n' << mtime;
  return s.str();
}

std::string FrameName(int64_t index, const std::string& ext) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%06lld", static_cast<long long>(index));
  return buf + ext;
}

// The frames object from the cache entry, with absolute paths; null when absent or incomplete.
io::Json LoadCached(const fs::path& dir) {
  const fs::path meta = dir / "frames.json";
  if (!fs::exists(meta)) return nullptr;
  io::Json j;
  try {
    j = io::Json::parse(io::ReadFile(meta, "frame cache entry"));
  } catch (const std::exception&) {
    return nullptr;
  }
  if (!j.is_object() || !j.contains("files") || !j["files"].is_array()) return nullptr;
  io::Json paths = io::Json::array();
  for (const auto& name : j["files"]) {
    const fs::path p = dir / name.get<std::string>();
    if (!fs::exists(p)) return nullptr;
    paths.push_back(p.string());
  }
  io::Json out = io::Json::object();
  out["paths"] = paths;
  for (auto it = j.begin(); it != j.end(); ++it)
    if (it.key() != "files") out[it.key()] = it.value();
  return out;
}

}  // namespace

namespace {
uint64_t NanosecondsSince(std::chrono::steady_clock::time_point t0) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0)
          .count());
}
}  // namespace

io::Json DecodeStage::DecodeFile(const fs::path& file) {
  std::error_code ec;
  if (!opt_.follow_symlinks && fs::is_symlink(file, ec)) {
    const fs::path target = fs::read_symlink(file, ec);
    throw DecodeError("a symbolic link (to " + target.string() + "), refused: " + file.string() +
                      " (--follow-symlinks reads it)");
  }
  if (!fs::exists(file)) throw DecodeError("no such file: " + file.string());
  if (!fs::is_regular_file(file)) throw DecodeError("not a regular file: " + file.string());
  const std::string identity = FileIdentity(file);
  auto cache_dir = [&](const ImageFormat& f) {
    return io::CacheDir("frames", "vs-decode/1\n" + identity + "\n" + spec_.ToString() + "\n" +
                                      opt_.resize + "\n" + f.ToString());
  };
  const fs::path dir = cache_dir(format_);
  if (!opt_.no_cache) {
    // A lossless request is also served by the PNG frames that caches written before PPM became the
    // default hold: the same pixels.
    std::vector<fs::path> dirs{dir};
    if (format_.kind == ImageFormat::Kind::kPpm) dirs.push_back(cache_dir(ParseImageFormat("png")));
    for (const auto& d : dirs) {
      io::Json cached = LoadCached(d);
      if (!cached.is_null()) {
        ++cache_hits_;
        vstar::log::Debug("cache hit: ", file.string(), " -> ", d.string());
        return cached;
      }
    }
  }

  const SampleSpec spec = spec_;
  const auto t_read = std::chrono::steady_clock::now();
  ClipFrames clip = ReadClip(
      file, [&](const ClipTiming& t) { return PlanSamples(spec, t).indices; }, reader_);
  const uint64_t read_ns = NanosecondsSince(t_read),
                 convert_ns = static_cast<uint64_t>(clip.convert_seconds * 1e9);
  decode_ns_ += read_ns - std::min(read_ns, convert_ns);
  convert_ns_ += convert_ns;
  ++decoded_;
  const SamplePlan plan = PlanSamples(spec, TimingOf(clip.info));
  vstar::log::Debug("decoded ", file.string(), ": ", clip.info.total_frames, " frames (", clip.info.mode, "), ",
                    plan.indices.size(), " sampled");

  // The qwen frame size depends on how many frames were sampled (fetch_video's pixel budget).
  int out_w = clip.info.width, out_h = clip.info.height;
  if (resize_qwen_) {
    const QwenConstants& c = spec.kind == SampleSpec::Kind::kQwen ? *spec.qwen : kQwenVideoStar;
    const Size s = QwenVideoSize(c, clip.info.height, clip.info.width, static_cast<int64_t>(plan.indices.size()));
    out_w = static_cast<int>(s.width);
    out_h = static_cast<int>(s.height);
  }

  io::Json files = io::Json::array();
  io::Json timestamps = io::Json::array();
  for (int64_t index : plan.indices) {
    auto it = std::lower_bound(clip.frames.begin(), clip.frames.end(), index,
                               [](const DecodedFrame& f, int64_t i) { return f.index < i; });
    if (it == clip.frames.end() || it->index != index)
      throw DecodeError("internal error: frame " + std::to_string(index) + " was not decoded");
    files.push_back(FrameName(index, format_.Extension()));
    timestamps.push_back(it->timestamp);
  }
  // Write each distinct frame once.
  for (auto& f : clip.frames) {
    const std::string name = FrameName(f.index, format_.Extension());
    if (resize_qwen_ && (f.image.width != out_w || f.image.height != out_h)) {
      const auto t0 = std::chrono::steady_clock::now();
      f.image = ResizeBicubicAntialias(f.image, out_h, out_w);
      convert_ns_ += NanosecondsSince(t0);
    }
    const auto t0 = std::chrono::steady_clock::now();
    io::WriteFileAtomic(dir / name, EncodeImage(f.image, format_));
    write_ns_ += NanosecondsSince(t0);
    ++frames_written_;
  }

  io::Json meta = io::Json::object();
  meta["files"] = files;
  meta["indices"] = plan.indices;
  meta["timestamps"] = timestamps;
  meta["sample_fps"] = plan.sample_fps;
  meta["fps"] = clip.info.fps;
  meta["total"] = clip.info.total_frames;
  meta["width"] = out_w;
  meta["height"] = out_h;
  meta["source_width"] = clip.info.width;
  meta["source_height"] = clip.info.height;
  meta["rotation"] = clip.info.rotation;
  meta["sampling"] = spec.ToString();
  meta["resize"] = opt_.resize;
  meta["format"] = format_.ToString();
  io::WriteFileAtomic(dir / "frames.json", meta.dump());
  io::Json out = LoadCached(dir);
  if (out.is_null()) throw std::runtime_error("cannot read back the frame cache in " + dir.string());
  return out;
}

DecodeStage::Times DecodeStage::times() const {
  return {frames_written_.load(), decode_ns_.load() * 1e-9, convert_ns_.load() * 1e-9,
          write_ns_.load() * 1e-9};
}

std::string DecodeStage::TimesSummary() const {
  const Times t = times();
  std::ostringstream s;
  s.setf(std::ios::fixed);
  s.precision(2);
  auto stage = [&](const char* name, double seconds) {
    s << name << ' ' << seconds << " s";
    if (seconds > 0)
      s << " (" << std::setprecision(1) << t.frames / seconds << " frames/s)"
        << std::setprecision(2);
  };
  s << t.frames << " frames; ";
  stage("demux+decode", t.decode_s);
  s << ", ";
  stage("convert", t.convert_s);
  s << ", ";
  stage("write", t.write_s);
  return s.str();
}

void DecodeStage::Process(io::Record& rec) {
  const auto video = rec.string("video");
  if (!video || video->empty()) {
    rec.set_error("vs-decode", "record has no \"video\" string");
    return;
  }
  const fs::path file = Resolve(*video);
  try {
    rec.set("frames", DecodeFile(file));
  } catch (const std::exception& e) {
    rec.set_error("vs-decode", file.string() + ": " + e.what());
  }
}

}  // namespace vstar::video
