// GIF through giflib 5.2, first frame only.
//
// DGifSlurp is not used: it decodes and keeps every frame, so a file with thousands of frames is a
// memory and CPU bomb. Instead the records are walked one by one until the first image
// descriptor: extensions are skipped except the Graphics Control Extension that precedes the
// image (its transparent colour index), and only that image is decompressed, line by line.
//
// The first frame is drawn at its offset on a transparent canvas of the logical screen size, and
// clipped to it (which is what browsers show for the first frame). The result is RGBA when any
// canvas pixel is transparent (transparent index used, or the frame does not cover the screen),
// RGB otherwise. Colour indices beyond the colour map are drawn black. A logical screen of zero
// width or height is rejected (probe_image rejects it too). Data after the first frame is not
// read: a file truncated after its first frame still decodes.
#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <gif_lib.h>

#include "core/decode_internal.h"
#include "core/error.h"

namespace cutout::detail {
namespace {

struct MemoryInput {
  std::span<const uint8_t> bytes;
  size_t position = 0;
};

int on_read(GifFileType* gif, GifByteType* buffer, int size) {
  auto* input = static_cast<MemoryInput*>(gif->UserData);
  if (size <= 0) return 0;
  const size_t count = std::min(static_cast<size_t>(size), input->bytes.size() - input->position);
  std::memcpy(buffer, input->bytes.data() + input->position, count);
  input->position += count;
  return static_cast<int>(count);
}

struct GifCloser {
  void operator()(GifFileType* gif) const {
    int error = 0;
    DGifCloseFile(gif, &error);
  }
};
using GifHandle = std::unique_ptr<GifFileType, GifCloser>;

[[noreturn]] void fail(const GifFileType* gif, const char* what) {
  const char* detail = gif != nullptr ? GifErrorString(gif->Error) : nullptr;
  throw_undecodable(ImageFormat::kGif, std::string(what) + (detail ? std::string(" (") + detail + ")" : ""));
}

// Row order of the stored lines: sequential, or GIF's four interlace passes.
std::vector<int> line_order(int height, bool interlaced) {
  std::vector<int> order;
  order.reserve(static_cast<size_t>(height));
  if (!interlaced) {
    for (int y = 0; y < height; ++y) order.push_back(y);
    return order;
  }
  static constexpr int kStart[4] = {0, 4, 2, 1};
  static constexpr int kStep[4] = {8, 8, 4, 2};
  for (int pass = 0; pass < 4; ++pass) {
    for (int y = kStart[pass]; y < height; y += kStep[pass]) order.push_back(y);
  }
  return order;
}

cv::Mat decode_image_record(GifFileType* gif, int transparent_index, uint64_t max_pixels) {
  if (DGifGetImageDesc(gif) == GIF_ERROR) fail(gif, "broken image descriptor");
  const GifImageDesc& frame = gif->Image;
  if (frame.Width <= 0 || frame.Height <= 0) fail(nullptr, "empty first frame");
  // The frame may claim more than the screen; its lines are decoded even where clipped.
  check_pixel_limit(static_cast<uint64_t>(frame.Width), static_cast<uint64_t>(frame.Height), max_pixels,
                    ImageFormat::kGif);
  const ColorMapObject* palette = frame.ColorMap != nullptr ? frame.ColorMap : gif->SColorMap;
  if (palette == nullptr) fail(nullptr, "no colour map");

  cv::Mat canvas(gif->SHeight, gif->SWidth, CV_8UC4, cv::Scalar::all(0));
  std::vector<GifPixelType> line(static_cast<size_t>(frame.Width));
  for (const int y : line_order(frame.Height, frame.Interlace)) {
    if (DGifGetLine(gif, line.data(), frame.Width) == GIF_ERROR) fail(gif, "truncated or corrupt image data");
    const int canvas_y = frame.Top + y;
    if (canvas_y >= canvas.rows) continue;
    auto* row = canvas.ptr<cv::Vec4b>(canvas_y);
    const int visible = std::min(frame.Width, canvas.cols - frame.Left);
    for (int x = 0; x < visible; ++x) {
      const int index = line[static_cast<size_t>(x)];
      if (index == transparent_index) continue;
      if (index < palette->ColorCount) {
        const GifColorType& c = palette->Colors[index];
        row[frame.Left + x] = cv::Vec4b(c.Red, c.Green, c.Blue, 255);
      } else {
        row[frame.Left + x] = cv::Vec4b(0, 0, 0, 255);
      }
    }
  }
  return canvas;
}

bool any_transparent(const cv::Mat& rgba) {
  for (int y = 0; y < rgba.rows; ++y) {
    const auto* row = rgba.ptr<cv::Vec4b>(y);
    for (int x = 0; x < rgba.cols; ++x) {
      if (row[x][3] == 0) return true;
    }
  }
  return false;
}

}  // namespace

RawImage decode_gif(std::span<const uint8_t> bytes, uint64_t max_pixels) {
  MemoryInput input{bytes};
  int open_error = 0;
  // DGifOpen reads the header, the logical screen descriptor and the global colour map only.
  GifHandle gif(DGifOpen(&input, on_read, &open_error));
  if (!gif) {
    throw_undecodable(ImageFormat::kGif, std::string("cannot open: ") + GifErrorString(open_error));
  }
  check_pixel_limit(static_cast<uint64_t>(gif->SWidth), static_cast<uint64_t>(gif->SHeight), max_pixels,
                    ImageFormat::kGif);
  if (gif->SWidth <= 0 || gif->SHeight <= 0) fail(nullptr, "zero logical screen size");

  int transparent_index = -1;  // from the Graphics Control Extension of the next image
  for (;;) {
    GifRecordType record = UNDEFINED_RECORD_TYPE;
    if (DGifGetRecordType(gif.get(), &record) == GIF_ERROR) fail(gif.get(), "truncated or corrupt file");
    if (record == IMAGE_DESC_RECORD_TYPE) {
      RawImage out;
      cv::Mat canvas = decode_image_record(gif.get(), transparent_index, max_pixels);
      if (any_transparent(canvas)) {
        out.pixels = std::move(canvas);
      } else {
        out.pixels.create(canvas.size(), CV_8UC3);
        const int from_to[] = {0, 0, 1, 1, 2, 2};
        cv::mixChannels(&canvas, 1, &out.pixels, 1, from_to, 3);
      }
      return out;
    }
    if (record == EXTENSION_RECORD_TYPE) {
      int code = 0;
      GifByteType* block = nullptr;
      if (DGifGetExtension(gif.get(), &code, &block) == GIF_ERROR) fail(gif.get(), "broken extension");
      // block[0] is the sub-block length; GCE: flags, delay (2 bytes), transparent index.
      if (code == GRAPHICS_EXT_FUNC_CODE && block != nullptr && block[0] >= 4) {
        transparent_index = (block[1] & 0x01) != 0 ? block[4] : -1;
      }
      while (block != nullptr) {
        if (DGifGetExtensionNext(gif.get(), &block) == GIF_ERROR) fail(gif.get(), "broken extension");
      }
      continue;
    }
    if (record == TERMINATE_RECORD_TYPE) fail(nullptr, "no image in the file");
    fail(gif.get(), "unexpected record");
  }
}

}  // namespace cutout::detail
