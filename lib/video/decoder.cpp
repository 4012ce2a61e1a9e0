#include "video/decoder.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdarg>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <unordered_map>
#include <vector>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/display.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
}

#include "io/log.hpp"

namespace vstar::video {
namespace {

using Clock = std::chrono::steady_clock;

std::string AvError(int err) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {0};
  av_strerror(err, buf, sizeof buf);
  return buf;
}

// Errors FFmpeg reports through av_log for one clip. FFmpeg logs with the AVFormatContext or the
// AVCodecContext (frame threads log with copies of it that keep `opaque`), so the callback finds
// the clip through `opaque` without a global registry.
struct ErrorSink {
  std::mutex mutex;
  std::string first;
  int count = 0;
  void Add(std::string msg) {
    std::lock_guard<std::mutex> lock(mutex);
    if (count++ == 0) first = std::move(msg);
  }
  int Count() {
    std::lock_guard<std::mutex> lock(mutex);
    return count;
  }
  void Reset() {
    std::lock_guard<std::mutex> lock(mutex);
    count = 0;
    first.clear();
  }
};

// avformat_find_stream_info decodes with codec contexts of its own, whose messages carry no sink:
// the first error it logs on this thread lands here while a clip is being probed, to explain a
// stream it leaves without parameters.
thread_local std::string* t_probe_error = nullptr;

void LogCallback(void* avcl, int level, const char* fmt, va_list args) {
  if (level > AV_LOG_WARNING) return;
  char line[1024];
  int prefix = 0;  // no "[name @ 0xADDRESS]": messages go into records and must be reproducible
  va_list copy;
  va_copy(copy, args);
  av_log_format_line(avcl, level, fmt, copy, line, sizeof line, &prefix);
  va_end(copy);
  std::string msg(line);
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == '\r')) msg.pop_back();
  ErrorSink* sink = nullptr;
  if (avcl) {
    const AVClass* cls = *static_cast<const AVClass* const*>(avcl);
    if (cls && cls->class_name) {
      if (std::strcmp(cls->class_name, "AVCodecContext") == 0)
        sink = static_cast<ErrorSink*>(static_cast<AVCodecContext*>(avcl)->opaque);
      else if (std::strcmp(cls->class_name, "AVFormatContext") == 0)
        sink = static_cast<ErrorSink*>(static_cast<AVFormatContext*>(avcl)->opaque);
    }
  }
  if (level <= AV_LOG_ERROR && sink) sink->Add(msg);
  if (level <= AV_LOG_ERROR && !sink && t_probe_error && t_probe_error->empty()) *t_probe_error = msg;
  vstar::log::Debug("ffmpeg: ", msg);
}

void InstallLogCallback() {
  static std::once_flag once;
  std::call_once(once, [] { av_log_set_callback(LogCallback); });
}

// Raised inside seek mode when what the decoder returns disagrees with the packet scan.
struct Unreliable : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct PacketInfo {
  int64_t pts = AV_NOPTS_VALUE;
  int64_t dts = AV_NOPTS_VALUE;
  bool key = false;
};

struct FormatDeleter {
  void operator()(AVFormatContext* f) const { avformat_close_input(&f); }
};
struct CodecDeleter {
  void operator()(AVCodecContext* c) const { avcodec_free_context(&c); }
};
struct PacketDeleter {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};
struct FrameDeleter {
  void operator()(AVFrame* f) const { av_frame_free(&f); }
};
struct SwsDeleter {
  void operator()(SwsContext* s) const { sws_freeContext(s); }
};

// Frames larger than this are refused before a frame buffer is allocated (FFmpeg's max_pixels): a
// few hundred bytes of PNG or AVI header can claim 16000x16000, 768 MB per RGB frame. 8192x8192 is
// above 8K UHD (7680x4320).
constexpr int64_t kMaxPixels = int64_t{8192} * 8192;

// One opened clip: demuxer, selected stream, decoder, converter.
class Source {
 public:
  Source(const std::filesystem::path& file, const ReaderOptions& opt, Clock::time_point deadline,
         ErrorSink* sink)
      : file_(file), opt_(opt), deadline_(deadline), sink_(sink) {
    AVFormatContext* fmt = avformat_alloc_context();
    if (!fmt) throw DecodeError("out of memory");
    fmt->opaque = sink_;
    fmt->interrupt_callback.callback = &Source::Interrupt;
    fmt->interrupt_callback.opaque = this;
    int rc = avformat_open_input(&fmt, file.c_str(), nullptr, nullptr);  // frees fmt on failure
    if (rc < 0) {
      CheckTimeout();
      throw DecodeError("cannot open as media: " + AvError(rc));
    }
    fmt_.reset(fmt);
    // find_stream_info decodes a first frame: the pixel limit applies there already.
    std::vector<AVDictionary*> probe(fmt_->nb_streams, nullptr);
    for (auto& d : probe) av_dict_set_int(&d, "max_pixels", kMaxPixels, 0);
    std::string probe_error;
    t_probe_error = &probe_error;
    rc = avformat_find_stream_info(fmt_.get(), probe.empty() ? nullptr : probe.data());
    t_probe_error = nullptr;
    for (auto& d : probe) av_dict_free(&d);
    CheckTimeout();
    if (rc < 0) throw DecodeError("cannot read stream information: " + AvError(rc));
    int best = av_find_best_stream(fmt_.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
    auto usable = [&](int i) {
      const AVStream* st = fmt_->streams[i];
      return st->codecpar->codec_type == AVMEDIA_TYPE_VIDEO &&
             !(st->disposition & AV_DISPOSITION_ATTACHED_PIC) && st->codecpar->width > 0;
    };
    if (best < 0 || !usable(best)) {
      best = -1;
      for (unsigned i = 0; i < fmt_->nb_streams; ++i)
        if (usable(static_cast<int>(i))) {
          best = static_cast<int>(i);
          break;
        }
    }
    if (best < 0) {
      std::string why = "no video stream (container: " + std::string(fmt_->iformat->name) + ")";
      // A frame the pixel limit refused while probing leaves its stream without a size: say so.
      if (!probe_error.empty()) why += ": " + probe_error;
      throw DecodeError(why);
    }
    stream_ = best;
    for (unsigned i = 0; i < fmt_->nb_streams; ++i)
      if (static_cast<int>(i) != stream_) fmt_->streams[i]->discard = AVDISCARD_ALL;
    st_ = fmt_->streams[stream_];
    const int64_t pixels = int64_t{st_->codecpar->width} * st_->codecpar->height;
    if (pixels > kMaxPixels)
      throw DecodeError("frame size " + std::to_string(st_->codecpar->width) + "x" +
                        std::to_string(st_->codecpar->height) + " exceeds the limit of " +
                        std::to_string(kMaxPixels) + " pixels per frame");

    const AVCodec* codec = avcodec_find_decoder(st_->codecpar->codec_id);
    if (!codec) throw DecodeError(std::string("no decoder for codec ") + avcodec_get_name(st_->codecpar->codec_id));
    AVCodecContext* dec = avcodec_alloc_context3(codec);
    if (!dec) throw DecodeError("out of memory");
    dec_.reset(dec);
    if (avcodec_parameters_to_context(dec, st_->codecpar) < 0) throw DecodeError("bad codec parameters");
    dec->opaque = sink_;
    dec->pkt_timebase = st_->time_base;
    dec->thread_count = opt_.codec_threads;
    AVDictionary* limits = nullptr;  // frames may be larger than the stream header says
    av_dict_set_int(&limits, "max_pixels", kMaxPixels, 0);
    rc = avcodec_open2(dec, codec, &limits);
    av_dict_free(&limits);
    if (rc < 0) throw DecodeError("cannot open the " + std::string(codec->name) + " decoder: " + AvError(rc));
    pkt_.reset(av_packet_alloc());
    frame_.reset(av_frame_alloc());
    if (!pkt_ || !frame_) throw DecodeError("out of memory");
  }

  AVFormatContext* fmt() const { return fmt_.get(); }
  AVStream* stream() const { return st_; }
  AVCodecContext* dec() const { return dec_.get(); }

  void CheckTimeout() const {
    if (opt_.timeout_s > 0 && Clock::now() > deadline_) {
      std::ostringstream s;
      s << "timed out after " << opt_.timeout_s << " s";
      throw TimeoutError(s.str());
    }
  }

  // Reads the next packet of the selected stream; false at end of file. A demuxer error other
  // than EOF is a DecodeError.
  bool ReadPacket() {
    for (;;) {
      CheckTimeout();
      av_packet_unref(pkt_.get());
      int rc = av_read_frame(fmt_.get(), pkt_.get());
      if (rc == AVERROR_EOF) return false;
      if (rc < 0) {
        CheckTimeout();
        throw DecodeError("demuxer error: " + AvError(rc) + " (truncated or damaged file?)");
      }
      if (pkt_->stream_index == stream_) return true;
    }
  }
  AVPacket* packet() const { return pkt_.get(); }
  AVFrame* frame() const { return frame_.get(); }

  // Converts the current frame to RGB24 in display orientation.
  Image ConvertFrame(int rotation) {
    AVFrame* f = frame_.get();
    const auto fmt = static_cast<AVPixelFormat>(f->format);
    sws_.reset(sws_getCachedContext(sws_.release(), f->width, f->height, fmt, f->width, f->height,
                                    AV_PIX_FMT_RGB24, SWS_BICUBIC, nullptr, nullptr, nullptr));
    if (!sws_) throw DecodeError(std::string("cannot convert pixel format ") + (av_get_pix_fmt_name(fmt) ? av_get_pix_fmt_name(fmt) : "?"));
    // The frame's colour matrix and range, as libavfilter's scale filter applies them.
    const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(fmt);
    // Like vf_scale, leave swscale's defaults alone when the frame specifies neither.
    const bool specified = f->colorspace != AVCOL_SPC_UNSPECIFIED || f->color_range != AVCOL_RANGE_UNSPECIFIED;
    if (desc && !(desc->flags & AV_PIX_FMT_FLAG_RGB) && specified) {
      int in_full = f->color_range == AVCOL_RANGE_JPEG || fmt == AV_PIX_FMT_YUVJ420P ||
                    fmt == AV_PIX_FMT_YUVJ422P || fmt == AV_PIX_FMT_YUVJ444P || fmt == AV_PIX_FMT_YUVJ440P;
      int cs = f->colorspace;
      if (cs == AVCOL_SPC_UNSPECIFIED || cs == AVCOL_SPC_RGB || cs >= AVCOL_SPC_NB) cs = SWS_CS_DEFAULT;
      const int* coeffs = sws_getCoefficients(cs);
      sws_setColorspaceDetails(sws_.get(), coeffs, in_full, sws_getCoefficients(SWS_CS_DEFAULT), 1, 0, 1 << 16,
                               1 << 16);
    }
    Image rgb;
    rgb.width = f->width;
    rgb.height = f->height;
    rgb.channels = 3;
    // swscale's SIMD paths work on blocks of 8+ pixels and write past the end of a row; its x86
    // yuv2rgb converter even skips the last block when the stride has no room for it. Convert
    // into aligned scratch rows with a spare block at the end.
    const int stride = FFALIGN((f->width + 32) * 3, 64);
    scratch_.resize(static_cast<size_t>(stride) * static_cast<size_t>(f->height) + 256);
    uint8_t* dst[4] = {scratch_.data(), nullptr, nullptr, nullptr};
    int dst_stride[4] = {stride, 0, 0, 0};
    sws_scale(sws_.get(), f->data, f->linesize, 0, f->height, dst, dst_stride);
    const size_t row = static_cast<size_t>(f->width) * 3;
    rgb.pixels.resize(row * static_cast<size_t>(f->height));
    for (int y = 0; y < f->height; ++y)
      std::memcpy(&rgb.pixels[row * static_cast<size_t>(y)], &scratch_[static_cast<size_t>(stride) * y], row);
    return Rotate(std::move(rgb), rotation);
  }

  static Image Rotate(Image in, int rotation) {
    if (rotation == 0) return in;
    Image out;
    out.channels = 3;
    const int w = in.width, h = in.height;
    if (rotation == 180) {
      out.width = w;
      out.height = h;
      out.pixels.resize(in.pixels.size());
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
          std::memcpy(&out.pixels[(static_cast<size_t>(h - 1 - y) * w + (w - 1 - x)) * 3],
                      &in.pixels[(static_cast<size_t>(y) * w + x) * 3], 3);
      return out;
    }
    out.width = h;
    out.height = w;
    out.pixels.resize(in.pixels.size());
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        // 90 clockwise: (x, y) -> (h-1-y, x); 270 clockwise: (x, y) -> (y, w-1-x).
        const int ox = rotation == 90 ? h - 1 - y : y;
        const int oy = rotation == 90 ? x : w - 1 - x;
        std::memcpy(&out.pixels[(static_cast<size_t>(oy) * out.width + ox) * 3],
                    &in.pixels[(static_cast<size_t>(y) * w + x) * 3], 3);
      }
    return out;
  }

 private:
  static int Interrupt(void* opaque) {
    const auto* self = static_cast<const Source*>(opaque);
    return self->opt_.timeout_s > 0 && Clock::now() > self->deadline_ ? 1 : 0;
  }

  std::filesystem::path file_;
  ReaderOptions opt_;
  Clock::time_point deadline_;
  ErrorSink* sink_;
  std::unique_ptr<AVFormatContext, FormatDeleter> fmt_;
  std::unique_ptr<AVCodecContext, CodecDeleter> dec_;
  std::unique_ptr<AVPacket, PacketDeleter> pkt_;
  std::unique_ptr<AVFrame, FrameDeleter> frame_;
  std::unique_ptr<SwsContext, SwsDeleter> sws_;
  std::vector<uint8_t> scratch_;
  int stream_ = -1;
  AVStream* st_ = nullptr;
};

// Clockwise degrees ffmpeg's autorotate applies for a stream's display matrix (0/90/180/270).
int DisplayRotation(const AVStream* st) {
  const uint8_t* matrix = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, nullptr);
  if (!matrix) return 0;
  double theta = -av_display_rotation_get(reinterpret_cast<const int32_t*>(matrix));
  if (std::isnan(theta)) return 0;
  theta -= 360.0 * std::floor(theta / 360.0 + 0.9 / 360.0);
  const int r = static_cast<int>(std::lround(theta / 90.0)) % 4 * 90;
  return std::abs(theta - r) < 2.0 || std::abs(theta - r - 360.0) < 2.0 ? r : 0;
}

int64_t FrameTimestamp(const AVFrame* f) {
  return f->pts != AV_NOPTS_VALUE ? f->pts : f->best_effort_timestamp;
}

// Where the decode loop hands frames to the caller: returns false to stop decoding.
using FrameFn = std::function<bool(AVFrame*)>;

// Sends packets from the current position and hands every decoded frame to `fn`, until `fn`
// says stop (returns true) or the stream ends (returns false). `on_packet` sees every packet
// before it is sent. In strict mode a decoder error is a DecodeError; otherwise it is Unreliable.
bool DecodeLoop(Source& src, const FrameFn& fn, bool strict, const std::function<void(AVPacket*)>& on_packet = {}) {
  AVCodecContext* dec = src.dec();
  auto fail = [&](const std::string& msg) {
    if (strict) throw DecodeError(msg);
    throw Unreliable(msg);
  };
  auto drain = [&]() -> bool {  // false = caller asked to stop
    for (;;) {
      int rc = avcodec_receive_frame(dec, src.frame());
      if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return true;
      if (rc < 0) fail("decoder error: " + AvError(rc));
      if (src.frame()->decode_error_flags || (src.frame()->flags & AV_FRAME_FLAG_CORRUPT))
        fail("decoder reported a corrupt frame");
      const bool go_on = fn(src.frame());
      av_frame_unref(src.frame());
      if (!go_on) return false;
    }
  };
  while (src.ReadPacket()) {
    AVPacket* pkt = src.packet();
    if (pkt->flags & AV_PKT_FLAG_CORRUPT) fail("corrupt packet (truncated or damaged file?)");
    if (on_packet) on_packet(pkt);
    int rc = avcodec_send_packet(dec, pkt);
    if (rc == AVERROR(EAGAIN)) {
      if (!drain()) return true;
      rc = avcodec_send_packet(dec, pkt);
    }
    if (rc < 0 && rc != AVERROR_EOF) fail("decoder error: " + AvError(rc));
    if (!drain()) return true;
  }
  avcodec_send_packet(dec, nullptr);
  return !drain();
}

double AverageFps(const AVStream* st) {
  auto ok = [](AVRational r) { return r.num > 0 && r.den > 0; };
  if (ok(st->avg_frame_rate)) return av_q2d(st->avg_frame_rate);
  if (ok(st->r_frame_rate)) return av_q2d(st->r_frame_rate);
  return 0;
}

// Codecs whose packets map one to one onto output frames (no packed or invisible frames).
bool OnePacketPerFrame(const AVCodecParameters* par, const std::string& container) {
  switch (par->codec_id) {
    case AV_CODEC_ID_H264:
    case AV_CODEC_ID_HEVC:
    case AV_CODEC_ID_AV1:
    case AV_CODEC_ID_MJPEG:
      return true;
    case AV_CODEC_ID_MPEG4:
      // DivX/Xvid "packed bitstream" (a P and a B frame in one AVI packet, then a placeholder)
      // needs B-frames; an AVI stream without them maps packets to frames one to one.
      return container != "avi" || par->video_delay == 0;
    default:
      return false;
  }
}

struct Reader {
  std::filesystem::path file;
  ReaderOptions opt;
  Clock::time_point deadline;
  ErrorSink sink;

  std::unique_ptr<Source> Open() { return std::make_unique<Source>(file, opt, deadline, &sink); }

  void ThrowIfErrors(const char* what) {
    if (sink.Count() > 0) {
      std::lock_guard<std::mutex> lock(sink.mutex);
      std::ostringstream s;
      s << what << ": " << sink.first;
      if (sink.count > 1) s << " (and " << sink.count - 1 << " more)";
      throw DecodeError(s.str());
    }
  }
};

// The current frame of `src` in RGB24, the time it took added to the clip's conversion time.
Image TimedConvert(Source& src, ClipFrames& out) {
  const auto t0 = Clock::now();
  Image image = src.ConvertFrame(out.info.rotation);
  out.convert_seconds += std::chrono::duration<double>(Clock::now() - t0).count();
  return image;
}

void FillInfo(const Source& src, ClipInfo& info) {
  info.container = src.fmt()->iformat->name;
  info.codec = src.dec()->codec->name;
  info.source_width = src.stream()->codecpar->width;
  info.source_height = src.stream()->codecpar->height;
  info.rotation = DisplayRotation(src.stream());
  const bool swap = info.rotation == 90 || info.rotation == 270;
  info.width = swap ? info.source_height : info.source_width;
  info.height = swap ? info.source_width : info.source_height;
  info.fps = AverageFps(src.stream());
}

std::vector<int64_t> Distinct(std::vector<int64_t> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

// ---- seek mode -------------------------------------------------------------------------------

struct ScanResult {
  std::vector<PacketInfo> packets;  // decode order, discarded packets left out
  bool seekable = false;
  std::string why_not;
};

ScanResult ScanPackets(Source& src, const std::string& container) {
  ScanResult scan;
  bool all_pts = true, corrupt = false;
  while (src.ReadPacket()) {
    const AVPacket* p = src.packet();
    if (p->flags & AV_PKT_FLAG_DISCARD) continue;
    if (p->flags & AV_PKT_FLAG_CORRUPT) corrupt = true;
    if (p->pts == AV_NOPTS_VALUE) all_pts = false;
    scan.packets.push_back({p->pts, p->dts, (p->flags & AV_PKT_FLAG_KEY) != 0});
  }
  if (!OnePacketPerFrame(src.stream()->codecpar, container))
    scan.why_not = std::string("codec ") + avcodec_get_name(src.stream()->codecpar->codec_id) + " in " + container +
                   " may not map packets to frames one to one";
  else if (!all_pts) scan.why_not = "some packets have no pts";
  else if (corrupt) scan.why_not = "corrupt packets";
  else if (scan.packets.empty()) scan.why_not = "no packets";
  else if (!(src.fmt()->pb && (src.fmt()->pb->seekable & AVIO_SEEKABLE_NORMAL))) scan.why_not = "input not seekable";
  else if (!scan.packets.front().key) scan.why_not = "first packet is not a keyframe";
  else scan.seekable = true;
  return scan;
}

// `src` is the source the packet scan read to the end; seek mode seeks it (no second open).
ClipFrames ReadSeek(Reader& r, const ScanResult& scan, const FrameSelector& select, std::unique_ptr<Source> src) {
  ClipFrames out;
  FillInfo(*src, out.info);
  out.info.mode = "seek";
  const auto& pk = scan.packets;
  std::vector<int64_t> sorted;
  sorted.reserve(pk.size());
  for (const auto& p : pk) sorted.push_back(p.pts);
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) throw Unreliable("duplicate pts");
  std::unordered_map<int64_t, int64_t> rank;  // pts -> frame index
  for (size_t i = 0; i < sorted.size(); ++i) rank[sorted[i]] = static_cast<int64_t>(i);
  std::unordered_map<int64_t, int64_t> pos_of_pts;  // pts -> decode position
  std::map<int64_t, int64_t> key_pos_of_dts;        // keyframe dts -> decode position
  for (size_t i = 0; i < pk.size(); ++i) {
    pos_of_pts[pk[i].pts] = static_cast<int64_t>(i);
    if (pk[i].key && pk[i].dts != AV_NOPTS_VALUE) key_pos_of_dts[pk[i].dts] = static_cast<int64_t>(i);
  }
  const AVStream* st = src->stream();
  const int64_t origin = st->start_time != AV_NOPTS_VALUE ? st->start_time : sorted.front();
  const double tb = av_q2d(st->time_base);
  out.info.total_frames = static_cast<int64_t>(sorted.size());
  out.info.timestamps.reserve(sorted.size());
  for (int64_t p : sorted) out.info.timestamps.push_back(static_cast<double>(p - origin) * tb);
  if (out.info.fps <= 0 && sorted.size() > 1)
    out.info.fps = static_cast<double>(sorted.size() - 1) / out.info.timestamps.back();

  out.indices = select(TimingOf(out.info));
  const std::vector<int64_t> wanted = Distinct(out.indices);
  for (int64_t t : wanted)
    if (t < 0 || t >= out.info.total_frames) throw SamplingError("selected frame index out of range");

  // Keyframe (decode position) to start from for each wanted index: the last keyframe at or before
  // the wanted packet in decode order whose pts is not after the wanted pts.
  auto keyframe_for = [&](int64_t index) {
    const int64_t pts = sorted[static_cast<size_t>(index)];
    for (int64_t pos = pos_of_pts[pts]; pos >= 0; --pos) {
      const auto& p = pk[static_cast<size_t>(pos)];
      if (p.key && p.pts <= pts) return pos;
    }
    throw Unreliable("no keyframe before frame " + std::to_string(index));
  };

  // Packets of frames nobody wants are sent with skip_frame = AVDISCARD_NONREF: the decoder then
  // skips them if no other frame references them (B-frames), which never changes other frames.
  const bool can_skip = st->codecpar->codec_id == AV_CODEC_ID_H264 || st->codecpar->codec_id == AV_CODEC_ID_HEVC;
  const std::set<int64_t> wanted_set(wanted.begin(), wanted.end());
  std::set<int64_t> skippable;  // ranks whose packets were sent with AVDISCARD_NONREF

  r.sink.Reset();
  size_t next = 0;              // next wanted index to collect
  int64_t sent_pos = -1;        // decode position of the last packet sent
  int64_t expect = -1;          // index the next counted frame must have (-1: not decoding yet)
  int64_t start_pts = 0;        // pts of the keyframe decoding started from
  while (next < wanted.size()) {
    const int64_t key = keyframe_for(wanted[next]);
    if (expect < 0 || key > sent_pos) {
      const auto& kp = pk[static_cast<size_t>(key)];
      avcodec_flush_buffers(src->dec());
      int rc = av_seek_frame(src->fmt(), st->index, kp.dts, AVSEEK_FLAG_BACKWARD);
      if (rc < 0) throw Unreliable("seek failed: " + AvError(rc));
      expect = rank[kp.pts];
      start_pts = kp.pts;
      sent_pos = -2;  // unknown until the first packet is identified
    }
    bool first_packet = sent_pos == -2;
    const bool stopped = DecodeLoop(
        *src,
        [&](AVFrame* f) {
          const int64_t ts = FrameTimestamp(f);
          if (ts != AV_NOPTS_VALUE && ts < start_pts) return true;  // leading frames of an open GOP
          auto it = rank.find(ts);
          if (ts == AV_NOPTS_VALUE || it == rank.end() || it->second < expect)
            throw Unreliable("decoded frame does not match the packet scan");
          // Frames between the previous one and this one must be frames the decoder was allowed
          // to skip; anything else means the scan does not describe the decode.
          for (int64_t missing = expect; missing < it->second; ++missing)
            if (!skippable.count(missing)) throw Unreliable("decoded frames do not match the packet scan");
          expect = it->second + 1;
          if (it->second == wanted[next]) {
            out.frames.push_back({it->second, out.info.timestamps[static_cast<size_t>(it->second)],
                                  TimedConvert(*src, out)});
            ++next;
            if (next == wanted.size()) return false;
            // A later wanted frame behind a keyframe we have not reached yet: seek instead.
            if (keyframe_for(wanted[next]) > sent_pos) return false;
          }
          return true;
        },
        /*strict=*/false,
        [&](AVPacket* p) {
          if (first_packet) {
            first_packet = false;
            auto k = key_pos_of_dts.find(p->dts);
            if (!(p->flags & AV_PKT_FLAG_KEY) || k == key_pos_of_dts.end() ||
                k->second > key)
              throw Unreliable("seek landed on an unexpected packet");
            sent_pos = k->second;
          } else {
            ++sent_pos;
          }
          if (can_skip) {
            auto pr = rank.find(p->pts);
            const bool skip = pr != rank.end() && !wanted_set.count(pr->second) && !(p->flags & AV_PKT_FLAG_KEY);
            if (skip) skippable.insert(pr->second);
            src->dec()->skip_frame = skip ? AVDISCARD_NONREF : AVDISCARD_DEFAULT;
          }
        });
    if (r.sink.Count() > 0) throw Unreliable("decoder errors after a seek");
    if (!stopped && next < wanted.size())
      throw Unreliable("stream ended before frame " + std::to_string(wanted[next]));
  }
  return out;
}

// ---- sequential mode -------------------------------------------------------------------------

struct HeldFrame {
  int64_t index = 0;
  std::unique_ptr<AVFrame, FrameDeleter> frame;  // a reference to the decoder's buffers, no copy
};

// Decodes the whole clip once, counting frames and keeping references to those in `keep`.
// Fills info.total_frames/timestamps.
void DecodeAll(Reader& r, Source& src, ClipInfo& info, const std::set<int64_t>& keep,
               std::vector<HeldFrame>& frames) {
  const AVStream* st = src.stream();
  const double tb = av_q2d(st->time_base);
  std::vector<int64_t> pts;
  bool all_pts = true;
  int64_t index = 0;
  r.sink.Reset();
  DecodeLoop(
      src,
      [&](AVFrame* f) {
        all_pts = all_pts && f->pts != AV_NOPTS_VALUE;
        pts.push_back(f->pts);
        if (keep.count(index)) {
          HeldFrame h{index, std::unique_ptr<AVFrame, FrameDeleter>(av_frame_clone(f))};
          if (!h.frame) throw DecodeError("out of memory");
          frames.push_back(std::move(h));
        }
        ++index;
        return true;
      },
      /*strict=*/true);
  r.ThrowIfErrors("decoding failed");
  info.total_frames = index;
  int64_t origin = st->start_time;
  if (origin == AV_NOPTS_VALUE) {
    origin = 0;
    for (int64_t p : pts)
      if (p != AV_NOPTS_VALUE) {
        origin = p;
        break;
      }
  }
  // Containers without presentation timestamps (AVI with B-frames: only dts, shifted by the
  // decoder delay, and none for the last frame) carry no timing beyond the frame rate: there a
  // frame's time is index / fps.
  info.timestamps.assign(pts.size(), 0.0);
  if (!all_pts && info.fps > 0) {
    for (size_t i = 0; i < pts.size(); ++i) info.timestamps[i] = static_cast<double>(i) / info.fps;
  } else {
    for (size_t i = 0; i < pts.size(); ++i)
      if (pts[i] != AV_NOPTS_VALUE) info.timestamps[i] = static_cast<double>(pts[i] - origin) * tb;
  }
  if (info.fps <= 0 && pts.size() > 1 && info.timestamps.back() > 0)
    info.fps = static_cast<double>(pts.size() - 1) / info.timestamps.back();
}

ClipFrames ReadSequential(Reader& r, const FrameSelector& select, int64_t estimated_total,
                          const std::vector<double>& estimated_ts) {
  ClipFrames out;
  auto src = r.Open();
  FillInfo(*src, out.info);
  out.info.mode = "sequential";
  // Frames the rule would pick for the estimated count and the two counts below it.
  std::set<int64_t> keep;
  for (int64_t total = estimated_total; total >= std::max<int64_t>(1, estimated_total - 2); --total) {
    ClipTiming guess;
    guess.total_frames = total;
    guess.fps = out.info.fps;
    if (static_cast<int64_t>(estimated_ts.size()) >= total)
      guess.timestamps.assign(estimated_ts.begin(), estimated_ts.begin() + total);
    try {
      for (int64_t i : select(guess)) keep.insert(i);
    } catch (const SamplingError&) {
    }
  }
  std::vector<HeldFrame> held;
  DecodeAll(r, *src, out.info, keep, held);
  if (out.info.total_frames == 0) throw DecodeError("no decodable frames");
  out.indices = select(TimingOf(out.info));
  const std::vector<int64_t> wanted = Distinct(out.indices);
  bool have_all = true;
  for (int64_t i : wanted) have_all = have_all && keep.count(i) && i < out.info.total_frames;
  if (!have_all) {
    vstar::log::Debug(r.file.string(), ": second sequential pass for ", wanted.size(), " frames");
    held.clear();
    ClipInfo again = out.info;
    auto src2 = r.Open();
    DecodeAll(r, *src2, again, std::set<int64_t>(wanted.begin(), wanted.end()), held);
    if (again.total_frames != out.info.total_frames)
      throw DecodeError("the frame count changed between two decodes");
  }
  for (auto& h : held) {
    if (!std::binary_search(wanted.begin(), wanted.end(), h.index)) continue;
    av_frame_unref(src->frame());
    av_frame_move_ref(src->frame(), h.frame.get());
    out.frames.push_back(
        {h.index, out.info.timestamps[static_cast<size_t>(h.index)], TimedConvert(*src, out)});
  }
  return out;
}

}  // namespace

ClipTiming TimingOf(const ClipInfo& info) {
  ClipTiming t;
  t.total_frames = info.total_frames;
  t.fps = info.fps;
  t.timestamps = info.timestamps;
  return t;
}

ClipFrames ReadClip(const std::filesystem::path& file, const FrameSelector& select, const ReaderOptions& opt) {
  InstallLogCallback();
  if (!std::filesystem::exists(file)) throw DecodeError("no such file");
  if (std::filesystem::is_directory(file)) throw DecodeError("is a directory, not a video file");
  Reader r{file, opt, Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(opt.timeout_s)), {}};
  ScanResult scan;
  std::vector<double> estimated_ts;
  std::unique_ptr<Source> src = r.Open();
  {
    r.ThrowIfErrors("cannot open");
    scan = ScanPackets(*src, src->fmt()->iformat->name);
    r.ThrowIfErrors("demuxing failed");
    const AVStream* st = src->stream();
    const int64_t origin = st->start_time != AV_NOPTS_VALUE ? st->start_time : 0;
    std::vector<int64_t> pts;
    for (const auto& p : scan.packets)
      if (p.pts != AV_NOPTS_VALUE) pts.push_back(p.pts);
    if (pts.size() == scan.packets.size()) {
      std::sort(pts.begin(), pts.end());
      for (int64_t p : pts) estimated_ts.push_back(static_cast<double>(p - origin) * av_q2d(st->time_base));
    }
  }
  if (scan.packets.empty()) throw DecodeError("the video stream has no packets");
  if (opt.allow_seek && scan.seekable) {
    try {
      return ReadSeek(r, scan, select, std::move(src));
    } catch (const Unreliable& e) {
      vstar::log::Debug(file.string(), ": seek mode abandoned (", e.what(), "); decoding sequentially");
    }
  } else {
    vstar::log::Debug(file.string(), ": sequential decode (",
                      opt.allow_seek ? scan.why_not : std::string("seeking disabled"), ")");
  }
  src.reset();
  return ReadSequential(r, select, static_cast<int64_t>(scan.packets.size()), estimated_ts);
}

std::string FfmpegVersion() {
  std::ostringstream s;
  s << "libavformat " << AV_STRINGIFY(LIBAVFORMAT_VERSION) << ", libavcodec " << AV_STRINGIFY(LIBAVCODEC_VERSION)
    << ", libswscale " << AV_STRINGIFY(LIBSWSCALE_VERSION);
  return s.str();
}

}  // namespace vstar::video
