#include "video/encoder.hpp"

#include <stdexcept>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
}

#include "io/log.hpp"

namespace vstar::video {
namespace {

std::string AvError(int err) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {0};
  av_strerror(err, buf, sizeof buf);
  return buf;
}

void Check(int rc, const std::string& what) {
  if (rc < 0) throw std::runtime_error(what + ": " + AvError(rc));
}

}  // namespace

struct VideoEncoder::Impl {
  std::filesystem::path file;
  int width = 0, height = 0;
  AVFormatContext* fmt = nullptr;
  AVCodecContext* codec = nullptr;
  AVStream* stream = nullptr;
  SwsContext* sws = nullptr;
  AVFrame* frame = nullptr;
  AVPacket* packet = nullptr;
  int64_t next_pts = 0;
  bool closed = false;

  ~Impl() {
    sws_freeContext(sws);
    av_frame_free(&frame);
    av_packet_free(&packet);
    avcodec_free_context(&codec);
    if (fmt) {
      if (fmt->pb) avio_closep(&fmt->pb);
      avformat_free_context(fmt);
    }
  }

  // Sends `f` (nullptr = flush) and writes every packet the encoder returns.
  void Drain(const AVFrame* f) {
    Check(avcodec_send_frame(codec, f), "encoding " + file.string());
    for (;;) {
      int rc = avcodec_receive_packet(codec, packet);
      if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return;
      Check(rc, "encoding " + file.string());
      // Every frame lasts one tick of 1/fps. libavcodec 59 leaves the duration unset, and the MP4
      // muxer then ends the edit list at the last packet's start, hiding the last frame.
      if (packet->duration == 0) packet->duration = 1;
      av_packet_rescale_ts(packet, codec->time_base, stream->time_base);
      packet->stream_index = stream->index;
      Check(av_interleaved_write_frame(fmt, packet), "writing " + file.string());
    }
  }
};

VideoEncoder::VideoEncoder(const std::filesystem::path& file, int width, int height, const EncoderOptions& opt)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.file = file;
  m.width = width;
  m.height = height;
  if (width < 16 || height < 16 || width % 2 || height % 2)
    throw std::runtime_error("video size must be even and at least 16x16, got " + std::to_string(width) + "x" +
                             std::to_string(height));
  if (opt.fps < 1 || opt.qscale < 1 || opt.qscale > 31 || opt.gop < 1)
    throw std::runtime_error("encoder: fps and gop must be positive and qscale in 1..31");
  const AVCodec* enc = avcodec_find_encoder_by_name(opt.codec.c_str());
  if (!enc) throw std::runtime_error("this libavcodec has no encoder '" + opt.codec + "'");
  Check(avformat_alloc_output_context2(&m.fmt, nullptr, nullptr, file.string().c_str()),
        "no container for " + file.string());
  m.fmt->flags |= AVFMT_FLAG_BITEXACT;
  m.codec = avcodec_alloc_context3(enc);
  m.codec->width = width;
  m.codec->height = height;
  m.codec->pix_fmt = AV_PIX_FMT_YUV420P;
  m.codec->time_base = AVRational{1, opt.fps};
  m.codec->framerate = AVRational{opt.fps, 1};
  m.codec->gop_size = opt.gop;
  m.codec->max_b_frames = 0;
  m.codec->thread_count = 1;  // frame/slice threads may change the bitstream between runs
  m.codec->flags |= AV_CODEC_FLAG_BITEXACT | AV_CODEC_FLAG_QSCALE;
  m.codec->global_quality = FF_QP2LAMBDA * opt.qscale;
  if (m.fmt->oformat->flags & AVFMT_GLOBALHEADER) m.codec->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  Check(avcodec_open2(m.codec, enc, nullptr), "cannot open the " + opt.codec + " encoder");
  m.stream = avformat_new_stream(m.fmt, nullptr);
  if (!m.stream) throw std::runtime_error("cannot add a video stream to " + file.string());
  m.stream->time_base = m.codec->time_base;
  Check(avcodec_parameters_from_context(m.stream->codecpar, m.codec), "codec parameters");
  Check(avio_open(&m.fmt->pb, file.string().c_str(), AVIO_FLAG_WRITE), "cannot create " + file.string());
  Check(avformat_write_header(m.fmt, nullptr), "writing the header of " + file.string());
  m.frame = av_frame_alloc();
  m.packet = av_packet_alloc();
  m.frame->format = AV_PIX_FMT_YUV420P;
  m.frame->width = width;
  m.frame->height = height;
  Check(av_frame_get_buffer(m.frame, 0), "frame buffer");
  // BT.601 limited range, what FFmpeg assumes for untagged SD video; the decoder reads it back the same way.
  m.sws = sws_getContext(width, height, AV_PIX_FMT_RGB24, width, height, AV_PIX_FMT_YUV420P,
                         SWS_BICUBIC | SWS_BITEXACT | SWS_ACCURATE_RND, nullptr, nullptr, nullptr);
  if (!m.sws) throw std::runtime_error("cannot set up RGB to YUV conversion");
}

VideoEncoder::~VideoEncoder() {
  if (!impl_->closed) {
    try {
      Close();
    } catch (const std::exception& e) {
      log::Error(e.what());
    }
  }
}

void VideoEncoder::Write(const Image& rgb) {
  Impl& m = *impl_;
  if (m.closed) throw std::runtime_error("encoder for " + m.file.string() + " is closed");
  if (rgb.width != m.width || rgb.height != m.height || rgb.channels != 3 ||
      rgb.pixels.size() != static_cast<size_t>(m.width) * m.height * 3)
    throw std::runtime_error("frame size differs from the video size of " + m.file.string());
  Check(av_frame_make_writable(m.frame), "frame buffer");
  const uint8_t* src[1] = {rgb.pixels.data()};
  int src_stride[1] = {3 * m.width};
  sws_scale(m.sws, src, src_stride, 0, m.height, m.frame->data, m.frame->linesize);
  m.frame->pts = m.next_pts++;
  m.Drain(m.frame);
}

void VideoEncoder::Close() {
  Impl& m = *impl_;
  if (m.closed) return;
  m.closed = true;
  m.Drain(nullptr);
  Check(av_write_trailer(m.fmt), "writing the trailer of " + m.file.string());
}

}  // namespace vstar::video
