// WebP through libwebp (still images) and libwebpdemux (animations, EXIF).
//
// Still images decode straight into a preallocated cv::Mat: CV_8UC4 RGBA when the bitstream
// declares alpha, CV_8UC3 RGB otherwise. An animation yields its first frame as composed on the
// canvas by WebPAnimDecoder; since the canvas outside the frame is transparent, it is returned as
// RGBA only when some pixel of that frame actually is transparent. libwebp rejects a truncated
// file (its RIFF size no longer matches) or a corrupt bitstream; both become Error(kUndecodable).
#include <memory>

#include <webp/decode.h>
#include <webp/demux.h>

#include "core/decode_internal.h"
#include "core/error.h"
#include "core/exif.h"

namespace cutout::detail {
namespace {

struct DemuxDeleter {
  void operator()(WebPDemuxer* demuxer) const { WebPDemuxDelete(demuxer); }
};
struct AnimDecoderDeleter {
  void operator()(WebPAnimDecoder* decoder) const { WebPAnimDecoderDelete(decoder); }
};

int webp_orientation(const WebPData& data) {
  // WebPDemux only parses chunk headers; it refuses truncated or malformed containers, in which
  // case the orientation is the default and the pixel decoder reports the actual error.
  std::unique_ptr<WebPDemuxer, DemuxDeleter> demuxer(WebPDemux(&data));
  if (!demuxer) return 1;
  WebPChunkIterator chunk;
  if (!WebPDemuxGetChunk(demuxer.get(), "EXIF", 1, &chunk)) return 1;
  const int orientation = exif_orientation({chunk.chunk.bytes, chunk.chunk.size});
  WebPDemuxReleaseChunkIterator(&chunk);
  return orientation;
}

bool any_transparent(const cv::Mat& rgba) {
  for (int y = 0; y < rgba.rows; ++y) {
    const auto* row = rgba.ptr<cv::Vec4b>(y);
    for (int x = 0; x < rgba.cols; ++x) {
      if (row[x][3] != 255) return true;
    }
  }
  return false;
}

cv::Mat decode_first_frame(const WebPData& data, uint64_t max_pixels) {
  WebPAnimDecoderOptions options;
  if (!WebPAnimDecoderOptionsInit(&options))
    throw_undecodable(ImageFormat::kWebp, "libwebp version mismatch");
  options.color_mode = MODE_RGBA;  // straight (not premultiplied) alpha
  options.use_threads = 0;
  std::unique_ptr<WebPAnimDecoder, AnimDecoderDeleter> decoder(WebPAnimDecoderNew(&data, &options));
  if (!decoder) throw_undecodable(ImageFormat::kWebp, "invalid or truncated animation");
  WebPAnimInfo info;
  if (!WebPAnimDecoderGetInfo(decoder.get(), &info))
    throw_undecodable(ImageFormat::kWebp, "invalid animation");
  check_pixel_limit(info.canvas_width, info.canvas_height, max_pixels, ImageFormat::kWebp);
  uint8_t* canvas = nullptr;
  int timestamp_ms = 0;
  if (!WebPAnimDecoderGetNext(decoder.get(), &canvas, &timestamp_ms)) {
    throw_undecodable(ImageFormat::kWebp, "cannot decode the first animation frame");
  }
  // The canvas belongs to the decoder; copy it out (animations are not on the hot path).
  const cv::Mat view(static_cast<int>(info.canvas_height), static_cast<int>(info.canvas_width), CV_8UC4,
                     canvas);
  cv::Mat out;
  if (any_transparent(view)) {
    out = view.clone();
  } else {
    out.create(view.size(), CV_8UC3);
    const int from_to[] = {0, 0, 1, 1, 2, 2};
    cv::mixChannels(&view, 1, &out, 1, from_to, 3);
  }
  return out;
}

}  // namespace

RawImage decode_webp(std::span<const uint8_t> bytes, uint64_t max_pixels) {
  WebPBitstreamFeatures features;
  if (WebPGetFeatures(bytes.data(), bytes.size(), &features) != VP8_STATUS_OK) {
    throw_undecodable(ImageFormat::kWebp, "invalid header");
  }
  if (features.width <= 0 || features.height <= 0) throw_undecodable(ImageFormat::kWebp, "zero size");
  check_pixel_limit(static_cast<uint64_t>(features.width), static_cast<uint64_t>(features.height), max_pixels,
                    ImageFormat::kWebp);

  const WebPData data{bytes.data(), bytes.size()};
  RawImage out;
  out.orientation = webp_orientation(data);
  if (features.has_animation) {
    out.pixels = decode_first_frame(data, max_pixels);
    return out;
  }

  out.pixels.create(features.height, features.width, features.has_alpha ? CV_8UC4 : CV_8UC3);
  const size_t buffer_bytes = out.pixels.step[0] * static_cast<size_t>(out.pixels.rows);
  const int stride = static_cast<int>(out.pixels.step[0]);
  const uint8_t* decoded =
      features.has_alpha
          ? WebPDecodeRGBAInto(bytes.data(), bytes.size(), out.pixels.data, buffer_bytes, stride)
          : WebPDecodeRGBInto(bytes.data(), bytes.size(), out.pixels.data, buffer_bytes, stride);
  if (decoded == nullptr) throw_undecodable(ImageFormat::kWebp, "corrupt or truncated bitstream");
  return out;
}

}  // namespace cutout::detail
