// TEST-ONLY: what the image decoding tests (image_decode_test, image_decode_formats_test,
// image_decode_errors_test) share: synthetic pictures, OpenCV encoding in RGB order, pixel
// comparisons, byte writers, and the writers of fixture files that several of them decode (EXIF
// blocks, WebP containers, TIFF via libtiff or by hand, GIF via giflib).
//
// Stateless functions; the ones that check (encode, same_pixels) report through GoogleTest and
// must run on a test's thread.
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gif_lib.h>
#include <tiffio.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "test_support.h"

namespace cutout::decode_test {

using Bytes = std::vector<uint8_t>;
using testing::make_test_rgb;

inline cv::Mat make_test_rgba(int width, int height) {
  cv::Mat rgb = make_test_rgb(width, height), rgba;
  cv::cvtColor(rgb, rgba, cv::COLOR_RGB2RGBA);
  for (int y = 0; y < height; ++y) {
    // Never 0: lossless WebP may change the colour of fully transparent pixels.
    for (int x = 0; x < width; ++x)
      rgba.at<cv::Vec4b>(y, x)[3] = static_cast<uint8_t>(1 + (x * 255 / width + y) % 255);
  }
  return rgba;
}

// OpenCV encoders take BGR(A); the tests think in RGB(A).
inline Bytes encode(const std::string& ext, const cv::Mat& image, const std::vector<int>& params = {}) {
  cv::Mat bgr;  // a new buffer: converting into a header of `image` would change the caller's
  if (image.channels() == 3) {
    cv::cvtColor(image, bgr, cv::COLOR_RGB2BGR);
  } else if (image.channels() == 4) {
    cv::cvtColor(image, bgr, cv::COLOR_RGBA2BGRA);
  } else {
    bgr = image;
  }
  Bytes out;
  EXPECT_TRUE(cv::imencode(ext, bgr, out, params)) << ext;
  return out;
}

inline double mean_abs_error(const cv::Mat& a, const cv::Mat& b) {
  if (a.size() != b.size() || a.type() != b.type()) return 1e9;
  cv::Mat diff;
  cv::absdiff(a, b, diff);
  const cv::Scalar per_channel = cv::mean(diff);
  return (per_channel[0] + per_channel[1] + per_channel[2] + per_channel[3]) / a.channels();
}

inline ::testing::AssertionResult same_pixels(const cv::Mat& actual, const cv::Mat& expected) {
  if (actual.size() != expected.size() || actual.type() != expected.type()) {
    return ::testing::AssertionFailure()
           << "got " << actual.cols << "x" << actual.rows << " type " << actual.type() << ", expected "
           << expected.cols << "x" << expected.rows << " type " << expected.type();
  }
  const double max_diff = cv::norm(actual, expected, cv::NORM_INF);
  if (max_diff != 0) return ::testing::AssertionFailure() << "max abs difference " << max_diff;
  return ::testing::AssertionSuccess();
}

inline void put_u16_be(Bytes& b, unsigned v) {
  b.insert(b.end(), {uint8_t(v >> 8), uint8_t(v)});
}
inline void put_u32_be(Bytes& b, uint32_t v) {
  b.insert(b.end(), {uint8_t(v >> 24), uint8_t(v >> 16), uint8_t(v >> 8), uint8_t(v)});
}
inline void put_u16_le(Bytes& b, unsigned v) {
  b.insert(b.end(), {uint8_t(v), uint8_t(v >> 8)});
}
inline void put_u24_le(Bytes& b, uint32_t v) {
  b.insert(b.end(), {uint8_t(v), uint8_t(v >> 8), uint8_t(v >> 16)});
}
inline void put_u32_le(Bytes& b, uint32_t v) {
  put_u16_le(b, v & 0xFFFF);
  put_u16_le(b, v >> 16);
}
// A loop rather than vector::insert: GCC 12 at -O3 reports a false -Wstringop-overflow for the insert
// once it is inlined into exif_block (as it is in image_decode_test.cpp).
inline void put_text(Bytes& b, std::string_view s) {
  for (const char c : s) b.push_back(static_cast<uint8_t>(c));
}

// --- EXIF -----------------------------------------------------------------------------------

// A TIFF-structured block whose IFD0 holds one entry: Orientation = value.
inline Bytes exif_block(int orientation, bool big_endian) {
  Bytes b;
  auto u16 = [&](unsigned v) { big_endian ? put_u16_be(b, v) : put_u16_le(b, v); };
  auto u32 = [&](uint32_t v) { big_endian ? put_u32_be(b, v) : put_u32_le(b, v); };
  put_text(b, big_endian ? "MM" : "II");
  u16(42);
  u32(8);  // header, IFD0 at 8
  u16(1);  // one entry
  u16(0x0112);
  u16(3);
  u32(1);  // Orientation, SHORT, count 1
  u16(static_cast<unsigned>(orientation));
  u16(0);
  u32(0);  // no next IFD
  return b;
}

// --- WebP -----------------------------------------------------------------------------------

inline Bytes riff_chunk(std::string_view fourcc, const Bytes& payload) {
  Bytes b;
  put_text(b, fourcc);
  put_u32_le(b, static_cast<uint32_t>(payload.size()));
  b.insert(b.end(), payload.begin(), payload.end());
  if (payload.size() % 2 == 1) b.push_back(0);
  return b;
}

inline Bytes webp_file(const std::vector<Bytes>& chunks) {
  Bytes body;
  put_text(body, "WEBP");
  for (const Bytes& c : chunks) body.insert(body.end(), c.begin(), c.end());
  Bytes b;
  put_text(b, "RIFF");
  put_u32_le(b, static_cast<uint32_t>(body.size()));
  b.insert(b.end(), body.begin(), body.end());
  return b;
}

inline Bytes vp8x(uint8_t flags, uint32_t width, uint32_t height) {
  Bytes p = {flags, 0, 0, 0};
  put_u24_le(p, width - 1);
  put_u24_le(p, height - 1);
  return riff_chunk("VP8X", p);
}

// --- TIFF -----------------------------------------------------------------------------------

inline Bytes write_tiff(const cv::Mat& image, int orientation,
                        uint16_t extra_sample = EXTRASAMPLE_UNASSALPHA) {
  testing::TempDir dir;
  const std::string path = (dir.path() / "image.tif").string();
  TIFF* tiff = TIFFOpen(path.c_str(), "w");
  TIFFSetField(tiff, TIFFTAG_IMAGEWIDTH, image.cols);
  TIFFSetField(tiff, TIFFTAG_IMAGELENGTH, image.rows);
  TIFFSetField(tiff, TIFFTAG_BITSPERSAMPLE, 8);
  TIFFSetField(tiff, TIFFTAG_SAMPLESPERPIXEL, image.channels());
  TIFFSetField(tiff, TIFFTAG_PHOTOMETRIC, image.channels() == 1 ? PHOTOMETRIC_MINISBLACK : PHOTOMETRIC_RGB);
  TIFFSetField(tiff, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
  TIFFSetField(tiff, TIFFTAG_COMPRESSION, COMPRESSION_LZW);
  TIFFSetField(tiff, TIFFTAG_ROWSPERSTRIP, 4);
  TIFFSetField(tiff, TIFFTAG_ORIENTATION, orientation);
  if (image.channels() == 4) TIFFSetField(tiff, TIFFTAG_EXTRASAMPLES, 1, &extra_sample);
  for (int y = 0; y < image.rows; ++y)
    TIFFWriteScanline(tiff, const_cast<uint8_t*>(image.ptr<uint8_t>(y)), y, 0);
  TIFFClose(tiff);
  return testing::read_file(path);
}

// An uncompressed RGB TIFF with its IFD before the pixel data (libtiff and OpenCV put it after),
// so that a truncated copy still opens and fails while reading the strip.
inline Bytes write_tiff_ifd_first(const cv::Mat& rgb) {
  const auto w = static_cast<uint32_t>(rgb.cols), h = static_cast<uint32_t>(rgb.rows);
  const std::vector<std::array<uint32_t, 3>> entries = {
      // tag, type (3 SHORT, 4 LONG), value
      {256, 4, w}, {257, 4, h}, {258, 3, 8}, {259, 3, 1},         {262, 3, 2},
      {273, 4, 0}, {277, 3, 3}, {278, 4, h}, {279, 4, w * h * 3}, {284, 3, 1}};
  const auto data_offset = static_cast<uint32_t>(8 + 2 + entries.size() * 12 + 4);
  Bytes b = {'I', 'I', 42, 0, 8, 0, 0, 0};
  put_u16_le(b, static_cast<unsigned>(entries.size()));
  for (const auto& [tag, type, value] : entries) {
    put_u16_le(b, tag);
    put_u16_le(b, type);
    put_u32_le(b, 1);
    put_u32_le(b, tag == 273 ? data_offset : value);  // SHORT values are left-justified: same bytes
  }
  put_u32_le(b, 0);
  b.insert(b.end(), rgb.datastart, rgb.dataend);
  return b;
}

// --- GIF ------------------------------------------------------------------------------------

struct GifFrame {
  int left = 0, top = 0, width = 0, height = 0;
  Bytes indices;  // row-major, width * height
  bool interlaced = false;
  int transparent = -1;
  std::vector<GifColorType> local_palette;
};

inline Bytes write_gif(int width, int height, const std::vector<GifColorType>& palette,
                       const std::vector<GifFrame>& frames) {
  Bytes out;
  int error = 0;
  GifFileType* gif = EGifOpen(
      &out,
      [](GifFileType* g, const GifByteType* data, int n) {
        auto* o = static_cast<Bytes*>(g->UserData);
        o->insert(o->end(), data, data + n);
        return n;
      },
      &error);
  EGifSetGifVersion(gif, true);
  ColorMapObject* global = GifMakeMapObject(static_cast<int>(palette.size()), palette.data());
  EGifPutScreenDesc(gif, width, height, 8, 0, global);
  for (const GifFrame& f : frames) {
    if (f.transparent >= 0) {
      const uint8_t gce[4] = {0x01, 10, 0, static_cast<uint8_t>(f.transparent)};
      EGifPutExtension(gif, GRAPHICS_EXT_FUNC_CODE, 4, gce);
    }
    ColorMapObject* local =
        f.local_palette.empty()
            ? nullptr
            : GifMakeMapObject(static_cast<int>(f.local_palette.size()), f.local_palette.data());
    if (local == nullptr && gif->Image.ColorMap != nullptr) {  // giflib would leak the previous one
      GifFreeMapObject(gif->Image.ColorMap);
      gif->Image.ColorMap = nullptr;
    }
    EGifPutImageDesc(gif, f.left, f.top, f.width, f.height, f.interlaced, local);
    auto put_line = [&](int y) {
      EGifPutLine(gif, const_cast<uint8_t*>(&f.indices[static_cast<size_t>(y * f.width)]), f.width);
    };
    if (f.interlaced) {  // giflib writes lines in the order given: interlace them here
      for (const auto& [start, step] : {std::pair{0, 8}, {4, 8}, {2, 4}, {1, 2}}) {
        for (int y = start; y < f.height; y += step) put_line(y);
      }
    } else {
      for (int y = 0; y < f.height; ++y) put_line(y);
    }
    if (local != nullptr) GifFreeMapObject(local);
  }
  EGifCloseFile(gif, &error);
  GifFreeMapObject(global);
  return out;
}

inline const std::vector<GifColorType> kPalette = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {250, 250, 250}};

inline GifFrame pattern_frame(int left, int top, int width, int height) {
  GifFrame f;
  f.left = left;
  f.top = top;
  f.width = width;
  f.height = height;
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) f.indices.push_back(static_cast<uint8_t>((x + 2 * y) % 4));
  }
  return f;
}

}  // namespace cutout::decode_test
