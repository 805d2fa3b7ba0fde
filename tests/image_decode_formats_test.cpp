// Tests of decoding each format (src/core/image_io.h and the decoders behind it): JPEG (baseline,
// progressive, grey, CMYK, EXIF orientation), PNG, WebP (still and animated), TIFF, BMP and GIF.
// Every fixture is generated: OpenCV's encoders for the common cases, libpng / libjpeg / giflib /
// libtiff writers and hand-built containers for the rest (the shared ones in
// image_decode_helpers.h). Tolerances: lossless formats must match exactly; JPEG within a mean
// absolute error stated at each check.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include <gif_lib.h>
#include <jpeglib.h>
#include <png.h>
#include <tiffio.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "core/decode_internal.h"
#include "core/exif.h"
#include "core/image_io.h"
#include "image_decode_helpers.h"
#include "test_support.h"

namespace cutout {
namespace {

using namespace decode_test;  // NOLINT: the tests' vocabulary
using testing::make_test_rgb;

// For lossy codecs: the test picture without its hard edges and sawtooth channel.
cv::Mat make_smooth_rgb(int width, int height) {
  cv::Mat smooth;
  cv::GaussianBlur(make_test_rgb(width, height), smooth, cv::Size(9, 9), 3.0);
  return smooth;
}

Bytes with_exif_app1(const Bytes& jpeg, const Bytes& tiff) {
  Bytes segment = {0xFF, 0xE1};
  put_u16_be(segment, static_cast<unsigned>(2 + 6 + tiff.size()));
  segment.insert(segment.end(), {'E', 'x', 'i', 'f', 0, 0});
  segment.insert(segment.end(), tiff.begin(), tiff.end());
  Bytes out(jpeg.begin(), jpeg.begin() + 2);  // SOI
  out.insert(out.end(), segment.begin(), segment.end());
  out.insert(out.end(), jpeg.begin() + 2, jpeg.end());
  return out;
}

// --- JPEG -----------------------------------------------------------------------------------

TEST(DecodeJpeg, BaselineAndProgressiveMatchTheSource) {
  const cv::Mat rgb = make_smooth_rgb(160, 120);
  for (const bool progressive : {false, true}) {
    const Bytes jpeg =
        encode(".jpg", rgb, {cv::IMWRITE_JPEG_QUALITY, 95, cv::IMWRITE_JPEG_PROGRESSIVE, progressive});
    const DecodedImage decoded = decode_image(jpeg);
    EXPECT_EQ(decoded.format, ImageFormat::kJpeg);
    EXPECT_EQ(decoded.orientation, 1);
    ASSERT_EQ(decoded.pixels.type(), CV_8UC3);
    EXPECT_LT(mean_abs_error(decoded.pixels, rgb), 2.0) << "progressive " << progressive;  // 1.2 today
    // Same libjpeg, same settings as OpenCV: the two decoders agree (exactly, today).
    cv::Mat reference = cv::imdecode(jpeg, cv::IMREAD_COLOR);
    cv::cvtColor(reference, reference, cv::COLOR_BGR2RGB);
    EXPECT_LT(mean_abs_error(decoded.pixels, reference), 0.05);
  }
}

TEST(DecodeJpeg, GreyBecomesRgb) {
  cv::Mat grey;
  cv::cvtColor(make_test_rgb(64, 48), grey, cv::COLOR_RGB2GRAY);
  const DecodedImage decoded = decode_image(encode(".jpg", grey, {cv::IMWRITE_JPEG_QUALITY, 95}));
  ASSERT_EQ(decoded.pixels.type(), CV_8UC3);
  cv::Mat channels[3];
  cv::split(decoded.pixels, channels);
  EXPECT_TRUE(same_pixels(channels[0], channels[1]));
  EXPECT_TRUE(same_pixels(channels[0], channels[2]));
  EXPECT_LT(mean_abs_error(channels[0], grey), 2.0);
}

// CMYK JPEG written with libjpeg; `inverted` stores 255 - ink with an Adobe marker, as Photoshop
// does, otherwise the ink itself without the marker.
Bytes write_cmyk_jpeg(const cv::Mat& ink, bool inverted) {
  jpeg_compress_struct cinfo;
  jpeg_error_mgr err;
  cinfo.err = jpeg_std_error(&err);
  jpeg_create_compress(&cinfo);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&cinfo, &buffer, &size);
  cinfo.image_width = static_cast<JDIMENSION>(ink.cols);
  cinfo.image_height = static_cast<JDIMENSION>(ink.rows);
  cinfo.input_components = 4;
  cinfo.in_color_space = JCS_CMYK;
  jpeg_set_defaults(&cinfo);
  jpeg_set_colorspace(&cinfo, JCS_CMYK);  // also turns the Adobe marker on
  cinfo.write_Adobe_marker = inverted;
  jpeg_set_quality(&cinfo, 98, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  cv::Mat stored = inverted ? cv::Scalar::all(255) - ink : ink;
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = stored.ptr<uint8_t>(static_cast<int>(cinfo.next_scanline));
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  Bytes out(buffer, buffer + size);
  jpeg_destroy_compress(&cinfo);
  std::free(buffer);
  return out;
}

TEST(DecodeJpeg, CmykPlainAndAdobeInvertedBecomeTheSameRgb) {
  const cv::Mat rgb = make_test_rgb(64, 48);
  // Ink from RGB with K = 255 - max(R, G, B), so that (255-C)(255-K)/255 gives R back.
  cv::Mat ink(rgb.size(), CV_8UC4);
  for (int y = 0; y < rgb.rows; ++y) {
    for (int x = 0; x < rgb.cols; ++x) {
      const cv::Vec3b p = rgb.at<cv::Vec3b>(y, x);
      const int white = std::max({p[0], p[1], p[2], uint8_t{1}});
      cv::Vec4b& q = ink.at<cv::Vec4b>(y, x);
      for (int c = 0; c < 3; ++c) q[c] = static_cast<uint8_t>(255 - (p[c] * 255 + white / 2) / white);
      q[3] = static_cast<uint8_t>(255 - white);
    }
  }
  for (const bool inverted : {false, true}) {
    const Bytes jpeg = write_cmyk_jpeg(ink, inverted);
    const DecodedImage decoded = decode_image(jpeg);
    ASSERT_EQ(decoded.pixels.type(), CV_8UC3);
    EXPECT_LT(mean_abs_error(decoded.pixels, rgb), 3.0) << "inverted " << inverted;
  }
}

TEST(DecodeJpeg, AppliesEveryExifOrientation) {
  const Bytes plain = encode(".jpg", make_test_rgb(48, 32), {cv::IMWRITE_JPEG_QUALITY, 90});
  const cv::Mat upright = decode_image(plain).pixels;
  for (int o = 1; o <= 8; ++o) {
    for (const bool big_endian : {true, false}) {
      const Bytes jpeg = with_exif_app1(plain, exif_block(o, big_endian));
      const DecodedImage decoded = decode_image(jpeg);
      EXPECT_EQ(decoded.orientation, o);
      EXPECT_EQ(decoded.pixels.cols, o >= 5 ? 32 : 48) << o;
      EXPECT_TRUE(same_pixels(decoded.pixels, apply_orientation(upright, o))) << o;
      DecodeOptions as_stored;
      as_stored.apply_orientation = false;
      const DecodedImage raw = decode_image(jpeg, as_stored);
      EXPECT_EQ(raw.orientation, o);
      EXPECT_TRUE(same_pixels(raw.pixels, upright)) << o;
    }
  }
}

// --- PNG ------------------------------------------------------------------------------------

struct PngSpec {
  PngSpec(int w, int h, int type = PNG_COLOR_TYPE_RGB, int depth = 8)
      : width(w), height(h), color_type(type), bit_depth(depth) {}
  int width, height, color_type, bit_depth;
  Bytes samples;  // packed rows as libpng expects them (16-bit: big-endian)
  std::vector<png_color> palette;
  Bytes trns;
  bool interlaced = false;
  Bytes exif;
};

Bytes write_png(const PngSpec& spec) {
  Bytes out;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  png_set_write_fn(
      png, &out,
      [](png_structp p, png_bytep data, size_t n) {
        auto* o = static_cast<Bytes*>(png_get_io_ptr(p));
        o->insert(o->end(), data, data + n);
      },
      nullptr);
  png_set_IHDR(png, info, spec.width, spec.height, spec.bit_depth, spec.color_type,
               spec.interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  if (!spec.palette.empty())
    png_set_PLTE(png, info, spec.palette.data(), static_cast<int>(spec.palette.size()));
  if (!spec.trns.empty())
    png_set_tRNS(png, info, spec.trns.data(), static_cast<int>(spec.trns.size()), nullptr);
  if (!spec.exif.empty())
    png_set_eXIf_1(png, info, static_cast<png_uint_32>(spec.exif.size()),
                   const_cast<uint8_t*>(spec.exif.data()));
  const size_t row_bytes = spec.samples.size() / static_cast<size_t>(spec.height);
  std::vector<png_bytep> rows;
  for (int y = 0; y < spec.height; ++y)
    rows.push_back(const_cast<uint8_t*>(spec.samples.data()) + row_bytes * y);
  png_set_rows(png, info, rows.data());
  png_write_png(png, info, PNG_TRANSFORM_IDENTITY, nullptr);
  png_destroy_write_struct(&png, &info);
  return out;
}

TEST(DecodePng, LosslessRgbRgbaGreyAnd16Bit) {
  const cv::Mat rgb = make_test_rgb(50, 40);
  const cv::Mat rgba = make_test_rgba(50, 40);
  EXPECT_TRUE(same_pixels(decode_image(encode(".png", rgb)).pixels, rgb));
  EXPECT_TRUE(same_pixels(decode_image(encode(".png", rgba)).pixels, rgba));
  cv::Mat grey, grey_rgb;
  cv::cvtColor(rgb, grey, cv::COLOR_RGB2GRAY);
  cv::cvtColor(grey, grey_rgb, cv::COLOR_GRAY2RGB);
  EXPECT_TRUE(same_pixels(decode_image(encode(".png", grey)).pixels, grey_rgb));
  // 16-bit: v * 257 comes back as exactly v; other values round to nearest.
  cv::Mat wide;
  rgb.convertTo(wide, CV_16U, 257);
  EXPECT_TRUE(same_pixels(decode_image(encode(".png", wide)).pixels, rgb));
  cv::Mat odd = wide + cv::Scalar::all(100), expected;
  odd.convertTo(expected, CV_8U, 1.0 / 257);  // rounds to nearest
  EXPECT_LE(cv::norm(decode_image(encode(".png", odd)).pixels, expected, cv::NORM_INF), 1.0);
}

TEST(DecodePng, PaletteWithTrnsGreyAlphaInterlacedAndExif) {
  PngSpec palette(4, 2, PNG_COLOR_TYPE_PALETTE, 4);
  palette.palette = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {9, 8, 7}};
  palette.trns = {255, 128, 0};  // index 3 has no entry: opaque
  palette.samples = {0x01, 0x23, 0x32, 0x10};
  const cv::Mat expected_palette =
      (cv::Mat_<cv::Vec4b>(2, 4) << cv::Vec4b(255, 0, 0, 255), cv::Vec4b(0, 255, 0, 128),
       cv::Vec4b(0, 0, 255, 0), cv::Vec4b(9, 8, 7, 255), cv::Vec4b(9, 8, 7, 255), cv::Vec4b(0, 0, 255, 0),
       cv::Vec4b(0, 255, 0, 128), cv::Vec4b(255, 0, 0, 255));
  EXPECT_TRUE(same_pixels(decode_image(write_png(palette)).pixels, expected_palette));

  PngSpec grey_alpha(2, 1, PNG_COLOR_TYPE_GRAY_ALPHA);
  grey_alpha.samples = {10, 20, 200, 255};
  EXPECT_TRUE(
      same_pixels(decode_image(write_png(grey_alpha)).pixels,
                  (cv::Mat_<cv::Vec4b>(1, 2) << cv::Vec4b(10, 10, 10, 20), cv::Vec4b(200, 200, 200, 255))));

  const cv::Mat rgb = make_test_rgb(33, 17);
  PngSpec interlaced(33, 17);
  interlaced.interlaced = true;
  interlaced.samples.assign(rgb.datastart, rgb.dataend);
  EXPECT_TRUE(same_pixels(decode_image(write_png(interlaced)).pixels, rgb));

  interlaced.exif = exif_block(6, false);
  const DecodedImage rotated = decode_image(write_png(interlaced));
  EXPECT_EQ(rotated.orientation, 6);
  EXPECT_TRUE(same_pixels(rotated.pixels, apply_orientation(rgb, 6)));
}

// --- WebP -----------------------------------------------------------------------------------

// The image chunk ("VP8 " or "VP8L" with its header) of a simple WebP file.
Bytes image_chunk(const Bytes& simple_webp) {
  return Bytes(simple_webp.begin() + 12, simple_webp.end());
}

Bytes anmf(const cv::Mat& rgb, uint32_t x, uint32_t y) {
  Bytes p;
  put_u24_le(p, x / 2);
  put_u24_le(p, y / 2);
  put_u24_le(p, static_cast<uint32_t>(rgb.cols - 1));
  put_u24_le(p, static_cast<uint32_t>(rgb.rows - 1));
  put_u24_le(p, 100);  // duration ms
  p.push_back(0x02);   // no blending, no disposal
  const Bytes frame = image_chunk(encode(".webp", rgb, {cv::IMWRITE_WEBP_QUALITY, 101}));
  p.insert(p.end(), frame.begin(), frame.end());
  return riff_chunk("ANMF", p);
}

TEST(DecodeWebp, LosslessLossyAlphaAndExif) {
  const cv::Mat rgb = make_test_rgb(40, 30);
  const cv::Mat rgba = make_test_rgba(40, 30);
  const Bytes lossless = encode(".webp", rgb, {cv::IMWRITE_WEBP_QUALITY, 101});
  EXPECT_TRUE(same_pixels(decode_image(lossless).pixels, rgb));
  EXPECT_TRUE(same_pixels(decode_image(encode(".webp", rgba, {cv::IMWRITE_WEBP_QUALITY, 101})).pixels, rgba));
  // Lossy: close to the source, and identical to OpenCV's decode (the same libwebp underneath).
  const cv::Mat smooth = make_smooth_rgb(80, 60);
  const Bytes lossy = encode(".webp", smooth, {cv::IMWRITE_WEBP_QUALITY, 95});
  const cv::Mat lossy_decoded = decode_image(lossy).pixels;
  EXPECT_LT(mean_abs_error(lossy_decoded, smooth), 2.5);  // 1.7 today
  cv::Mat reference = cv::imdecode(lossy, cv::IMREAD_COLOR);
  cv::cvtColor(reference, reference, cv::COLOR_BGR2RGB);
  EXPECT_LT(mean_abs_error(lossy_decoded, reference), 0.05);

  const Bytes with_exif =
      webp_file({vp8x(0x08, 40, 30), image_chunk(lossless), riff_chunk("EXIF", exif_block(8, true))});
  const DecodedImage decoded = decode_image(with_exif);
  EXPECT_EQ(decoded.orientation, 8);
  EXPECT_TRUE(same_pixels(decoded.pixels, apply_orientation(rgb, 8)));
}

TEST(DecodeWebp, AnimationGivesTheFirstFrame) {
  const cv::Mat first = make_test_rgb(40, 30);
  cv::Mat second;
  cv::flip(first, second, 1);
  Bytes anim = {0, 0, 0, 0, 0, 0};  // background colour, loop count
  const Bytes full =
      webp_file({vp8x(0x02, 40, 30), riff_chunk("ANIM", anim), anmf(first, 0, 0), anmf(second, 0, 0)});
  const DecodedImage decoded = decode_image(full);
  EXPECT_TRUE(same_pixels(decoded.pixels, first));

  // A first frame smaller than the canvas: transparent around it.
  const cv::Mat small = make_test_rgb(20, 10);
  const Bytes partial = webp_file({vp8x(0x02, 40, 30), riff_chunk("ANIM", anim), anmf(small, 10, 4)});
  const cv::Mat pixels = decode_image(partial).pixels;
  ASSERT_EQ(pixels.type(), CV_8UC4);
  EXPECT_EQ(pixels.at<cv::Vec4b>(0, 0), cv::Vec4b(0, 0, 0, 0));
  cv::Mat inside;
  cv::cvtColor(pixels(cv::Rect(10, 4, 20, 10)), inside, cv::COLOR_RGBA2RGB);
  EXPECT_TRUE(same_pixels(inside, small));
}

// --- TIFF -----------------------------------------------------------------------------------

TEST(DecodeTiff, LosslessRgbRgbaGreyAndEveryOrientation) {
  const cv::Mat rgb = make_test_rgb(45, 31);
  const cv::Mat rgba = make_test_rgba(45, 31);
  EXPECT_TRUE(same_pixels(decode_image(encode(".tiff", rgb)).pixels, rgb));
  EXPECT_TRUE(same_pixels(decode_image(encode(".tiff", rgba)).pixels, rgba));
  cv::Mat grey, grey_rgb;
  cv::cvtColor(rgb, grey, cv::COLOR_RGB2GRAY);
  cv::cvtColor(grey, grey_rgb, cv::COLOR_GRAY2RGB);
  EXPECT_TRUE(same_pixels(decode_image(encode(".tiff", grey)).pixels, grey_rgb));
  EXPECT_TRUE(same_pixels(decode_image(write_tiff(rgba, 1)).pixels, rgba));  // straight alpha, exact
  EXPECT_TRUE(same_pixels(decode_image(write_tiff_ifd_first(rgb)).pixels, rgb));

  for (int o = 1; o <= 8; ++o) {
    const DecodedImage decoded = decode_image(write_tiff(rgb, o));
    EXPECT_EQ(decoded.orientation, o);
    EXPECT_TRUE(same_pixels(decoded.pixels, apply_orientation(rgb, o))) << o;
  }
}

TEST(DecodeTiff, AssociatedAlphaIsUnpremultiplied) {
  cv::Mat straight(1, 3, CV_8UC4), premultiplied(1, 3, CV_8UC4);
  straight.at<cv::Vec4b>(0, 0) = {200, 100, 50, 255};
  straight.at<cv::Vec4b>(0, 1) = {200, 100, 50, 128};
  straight.at<cv::Vec4b>(0, 2) = {0, 0, 0, 0};
  for (int x = 0; x < 3; ++x) {
    const cv::Vec4b s = straight.at<cv::Vec4b>(0, x);
    for (int c = 0; c < 3; ++c)
      premultiplied.at<cv::Vec4b>(0, x)[c] = static_cast<uint8_t>((s[c] * s[3] + 127) / 255);
    premultiplied.at<cv::Vec4b>(0, x)[3] = s[3];
  }
  const cv::Mat decoded = decode_image(write_tiff(premultiplied, 1, EXTRASAMPLE_ASSOCALPHA)).pixels;
  EXPECT_LE(cv::norm(decoded, straight, cv::NORM_INF), 1.0);
}

// --- BMP ------------------------------------------------------------------------------------

// A 32-bit BMP with a BITMAPV4HEADER and BGRA masks, bottom-up.
Bytes write_bmp_v4(const cv::Mat& rgba) {
  const auto data_bytes = static_cast<uint32_t>(rgba.total() * 4);
  Bytes b = {'B', 'M'};
  put_u32_le(b, 14 + 108 + data_bytes);
  put_u32_le(b, 0);
  put_u32_le(b, 14 + 108);
  for (const uint32_t v : {108u, uint32_t(rgba.cols), uint32_t(rgba.rows)}) put_u32_le(b, v);
  put_u16_le(b, 1);                                                                  // planes
  put_u16_le(b, 32);                                                                 // bits per pixel
  for (const uint32_t v : {3u, data_bytes, 2835u, 2835u, 0u, 0u}) put_u32_le(b, v);  // BI_BITFIELDS ...
  for (const uint32_t mask : {0x00FF0000u, 0x0000FF00u, 0x000000FFu, 0xFF000000u}) put_u32_le(b, mask);
  put_text(b, "BGRs");         // LCS_sRGB, little-endian
  b.resize(b.size() + 48, 0);  // end points and gamma
  for (int y = rgba.rows - 1; y >= 0; --y) {
    for (int x = 0; x < rgba.cols; ++x) {
      const cv::Vec4b p = rgba.at<cv::Vec4b>(y, x);
      b.insert(b.end(), {p[2], p[1], p[0], p[3]});
    }
  }
  return b;
}

TEST(DecodeBmp, RgbGreyTopDownAndAlpha) {
  const cv::Mat rgb = make_test_rgb(37, 21);  // odd width: padded rows
  const Bytes bmp = encode(".bmp", rgb);
  EXPECT_TRUE(same_pixels(decode_image(bmp).pixels, rgb));
  cv::Mat grey, grey_rgb;
  cv::cvtColor(rgb, grey, cv::COLOR_RGB2GRAY);
  cv::cvtColor(grey, grey_rgb, cv::COLOR_GRAY2RGB);
  EXPECT_TRUE(same_pixels(decode_image(encode(".bmp", grey)).pixels, grey_rgb));

  // Top-down: negative height and the rows in the opposite order.
  Bytes top_down = bmp;
  const uint32_t offset = detail::load_u32_le(&bmp[10]);
  const size_t stride = (37 * 3 + 3) / 4 * 4;
  for (int y = 0; y < 21; ++y) {
    std::memcpy(&top_down[offset + stride * y], &bmp[offset + stride * (20 - y)], stride);
  }
  const int32_t negative = -21;
  std::memcpy(&top_down[22], &negative, 4);
  EXPECT_TRUE(same_pixels(decode_image(top_down).pixels, rgb));

  // 32-bit BI_RGB (what OpenCV writes): the fourth byte is not alpha.
  const cv::Mat rgba = make_test_rgba(37, 21);
  EXPECT_TRUE(same_pixels(decode_image(encode(".bmp", rgba)).pixels, rgb));
  // 32-bit BI_BITFIELDS with an alpha mask: alpha kept only when it carries information.
  EXPECT_TRUE(same_pixels(decode_image(write_bmp_v4(rgba)).pixels, rgba));
  cv::Mat opaque;
  cv::cvtColor(rgb, opaque, cv::COLOR_RGB2RGBA);
  EXPECT_TRUE(same_pixels(decode_image(write_bmp_v4(opaque)).pixels, rgb));
}

// Hand-built BMP files: the file header, an info header of `info_bytes` (12: the OS/2 core
// header; 40: BITMAPINFOHEADER; 108/124: V4/V5 with `header_masks` at 40..55, the rest zero),
// then `extra` (palette or masks) and the pixel data. A negative height means top-down rows.
struct BmpSpec {
  int width = 0;
  int height = 0;
  unsigned bpp = 8;
  uint32_t compression = 0;  // BI_RGB 0, BI_RLE8 1, BI_RLE4 2, BI_BITFIELDS 3
  uint32_t colors_used = 0;
  uint32_t info_bytes = 40;
  std::array<uint32_t, 4> header_masks = {};
  Bytes extra;
  Bytes pixels;
};

BmpSpec bmp_spec(int width, int height, unsigned bpp, uint32_t compression = 0) {
  BmpSpec spec;
  spec.width = width;
  spec.height = height;
  spec.bpp = bpp;
  spec.compression = compression;
  return spec;
}

Bytes bmp_file(const BmpSpec& s) {
  const auto offset = static_cast<uint32_t>(14 + s.info_bytes + s.extra.size());
  Bytes b = {'B', 'M'};
  put_u32_le(b, offset + static_cast<uint32_t>(s.pixels.size()));
  put_u32_le(b, 0);
  put_u32_le(b, offset);
  put_u32_le(b, s.info_bytes);
  if (s.info_bytes == 12) {
    for (const unsigned v : {unsigned(s.width), unsigned(s.height), 1u, s.bpp}) put_u16_le(b, v);
  } else {
    put_u32_le(b, static_cast<uint32_t>(s.width));
    put_u32_le(b, static_cast<uint32_t>(s.height));
    put_u16_le(b, 1);
    put_u16_le(b, s.bpp);
    for (const uint32_t v : {s.compression, uint32_t(s.pixels.size()), 2835u, 2835u, s.colors_used, 0u})
      put_u32_le(b, v);
    if (s.info_bytes > 40) {
      for (const uint32_t mask : s.header_masks) put_u32_le(b, mask);
      b.resize(14 + s.info_bytes, 0);
    }
  }
  b.insert(b.end(), s.extra.begin(), s.extra.end());
  b.insert(b.end(), s.pixels.begin(), s.pixels.end());
  return b;
}

// Distinct, non-grey colours (a grey palette takes another path in OpenCV).
std::vector<cv::Vec3b> test_palette(size_t count) {
  std::vector<cv::Vec3b> palette(count);
  for (size_t i = 0; i < count; ++i) {
    palette[i] = cv::Vec3b(uint8_t(i * 37 + 11), uint8_t(i * 91 + 3), uint8_t(250 - i * 13));
  }
  return palette;
}

Bytes palette_bytes(const std::vector<cv::Vec3b>& rgb, bool core) {
  Bytes b;
  for (const cv::Vec3b& c : rgb) {
    b.insert(b.end(), {c[2], c[1], c[0]});
    if (!core) b.push_back(0);
  }
  return b;
}

// Rows of palette indices (in stored order), packed at `bpp` bits and padded to 4 bytes.
Bytes packed_rows(const std::vector<std::vector<unsigned>>& rows, unsigned bpp) {
  Bytes b;
  for (const auto& row : rows) {
    Bytes packed((row.size() * bpp + 31) / 32 * 4, 0);
    for (size_t x = 0; x < row.size(); ++x) {
      const size_t bit = x * bpp;
      packed[bit / 8] |= static_cast<uint8_t>(row[x] << (8 - bpp - bit % 8));
    }
    b.insert(b.end(), packed.begin(), packed.end());
  }
  return b;
}

// The expected picture: index rows in stored order, bottom-up unless top_down; -1 is black.
cv::Mat from_indices(const std::vector<std::vector<int>>& stored, const std::vector<cv::Vec3b>& palette,
                     bool top_down) {
  const auto height = static_cast<int>(stored.size());
  cv::Mat m(height, static_cast<int>(stored[0].size()), CV_8UC3);
  for (int r = 0; r < height; ++r) {
    for (int x = 0; x < m.cols; ++x) {
      const int index = stored[size_t(r)][size_t(x)];
      m.at<cv::Vec3b>(top_down ? r : height - 1 - r, x) = index < 0 ? cv::Vec3b() : palette[size_t(index)];
    }
  }
  return m;
}

// What OpenCV's own reader makes of the same bytes, in RGB.
cv::Mat opencv_rgb(const Bytes& bmp) {
  const cv::Mat bgr = cv::imdecode(bmp, cv::IMREAD_COLOR);
  cv::Mat rgb;
  if (!bgr.empty()) cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  return rgb;
}

// A palette file of width x height with indices (x * 3 + y * 5) % colours.
struct PaletteCase {
  Bytes file;
  cv::Mat expected;
};
PaletteCase palette_case(unsigned bpp, size_t colours, uint32_t colors_used, bool core, bool top_down) {
  const int width = 13, height = 6;  // odd: every depth has padded rows
  std::vector<std::vector<unsigned>> rows(height, std::vector<unsigned>(width));
  std::vector<std::vector<int>> stored(height, std::vector<int>(width));
  for (int r = 0; r < height; ++r) {
    for (int x = 0; x < width; ++x) {
      rows[size_t(r)][size_t(x)] = unsigned(x * 3 + r * 5) % colours;
      stored[size_t(r)][size_t(x)] = int(rows[size_t(r)][size_t(x)]);
    }
  }
  const std::vector<cv::Vec3b> palette = test_palette(colours);
  BmpSpec spec;
  spec.width = width;
  spec.height = top_down ? -height : height;
  spec.bpp = bpp;
  spec.colors_used = colors_used;
  spec.info_bytes = core ? 12 : 40;
  spec.extra = palette_bytes(palette, core);
  spec.pixels = packed_rows(rows, bpp);
  return {bmp_file(spec), from_indices(stored, palette, top_down)};
}

TEST(DecodeBmp, PaletteFiles1And4And8Bit) {
  // colors_used 0 (2^bpp entries), and 8-bit with a 200-entry palette.
  for (const auto& [bpp, colours, colors_used] : {std::tuple{1u, size_t{2}, 0u},
                                                  {4u, size_t{16}, 0u},
                                                  {8u, size_t{256}, 0u},
                                                  {8u, size_t{200}, 200u}}) {
    const PaletteCase c = palette_case(bpp, colours, colors_used, false, false);
    EXPECT_TRUE(same_pixels(decode_image(c.file).pixels, c.expected)) << bpp << " bits";
    EXPECT_TRUE(same_pixels(opencv_rgb(c.file), c.expected)) << bpp << " bits";
  }
}

TEST(DecodeBmp, Os2CoreHeader) {
  // 3-byte palette entries, always 2^bpp of them.
  for (const auto& [bpp, colours] : {std::pair{1u, size_t{2}}, {4u, size_t{16}}, {8u, size_t{256}}}) {
    const PaletteCase c = palette_case(bpp, colours, 0, true, false);
    EXPECT_TRUE(same_pixels(decode_image(c.file).pixels, c.expected)) << bpp << " bits";
    EXPECT_TRUE(same_pixels(opencv_rgb(c.file), c.expected)) << bpp << " bits";
  }
  // 24-bit: no palette.
  const cv::Mat rgb = make_test_rgb(7, 5);
  BmpSpec spec = bmp_spec(7, 5, 24);
  spec.info_bytes = 12;
  for (int y = 4; y >= 0; --y) {
    for (int x = 0; x < 7; ++x) {
      const cv::Vec3b p = rgb.at<cv::Vec3b>(y, x);
      spec.pixels.insert(spec.pixels.end(), {p[2], p[1], p[0]});
    }
    spec.pixels.resize(spec.pixels.size() + 3, 0);  // 21 bytes padded to 24
  }
  EXPECT_TRUE(same_pixels(decode_image(bmp_file(spec)).pixels, rgb));
  EXPECT_TRUE(same_pixels(opencv_rgb(bmp_file(spec)), rgb));
}

// 5-bit and 6-bit fields scaled to 8 bits by rounding; OpenCV shifts them instead (v << 3,
// v << 2), so its output is compared after mapping each value back to the field and scaling.
uint8_t scale_field(unsigned v, int bits) {
  const unsigned max = (1u << bits) - 1;
  return static_cast<uint8_t>((v * 255 + max / 2) / max);
}
cv::Mat rescaled_opencv(const Bytes& bmp, std::array<int, 3> rgb_bits) {
  cv::Mat m = opencv_rgb(bmp);
  for (int y = 0; y < m.rows; ++y) {
    for (int x = 0; x < m.cols; ++x) {
      for (int c = 0; c < 3; ++c) {
        uint8_t& v = m.at<cv::Vec3b>(y, x)[c];
        v = scale_field(v >> (8 - rgb_bits[size_t(c)]), rgb_bits[size_t(c)]);
      }
    }
  }
  return m;
}

// 16-bit pixels covering every field value: r, g, b at the given bit positions and widths.
struct SixteenBitCase {
  Bytes pixels;
  cv::Mat expected;
};
SixteenBitCase sixteen_bit(int width, int height, std::array<int, 3> bits, std::array<int, 3> shifts,
                           bool top_down) {
  SixteenBitCase c;
  c.expected.create(height, width, CV_8UC3);
  for (int r = 0; r < height; ++r) {
    for (int x = 0; x < width; ++x) {
      const std::array<unsigned, 3> v = {unsigned(x + r) % (1u << bits[0]),
                                         unsigned(x * 3 + r) % (1u << bits[1]),
                                         unsigned(x * 7 + 2 * r) % (1u << bits[2])};
      put_u16_le(c.pixels, (v[0] << shifts[0]) | (v[1] << shifts[1]) | (v[2] << shifts[2]));
      c.expected.at<cv::Vec3b>(top_down ? r : height - 1 - r, x) =
          cv::Vec3b(scale_field(v[0], bits[0]), scale_field(v[1], bits[1]), scale_field(v[2], bits[2]));
    }
    if (width % 2) put_u16_le(c.pixels, 0);  // rows padded to 4 bytes
  }
  return c;
}

TEST(DecodeBmp, SixteenBit555And565Bitfields) {
  // BI_RGB 16-bit is 5-5-5, bottom-up and top-down.
  for (const bool top_down : {false, true}) {
    const SixteenBitCase c = sixteen_bit(67, 5, {5, 5, 5}, {10, 5, 0}, top_down);
    BmpSpec spec = bmp_spec(67, top_down ? -5 : 5, 16);
    spec.pixels = c.pixels;
    const Bytes bmp = bmp_file(spec);
    EXPECT_TRUE(same_pixels(decode_image(bmp).pixels, c.expected)) << top_down;
    EXPECT_TRUE(same_pixels(rescaled_opencv(bmp, {5, 5, 5}), c.expected)) << top_down;
  }
  EXPECT_EQ(scale_field(31, 5), 255);
  EXPECT_EQ(scale_field(1, 5), 8);

  // BI_BITFIELDS 5-6-5: the R, G, B masks follow a 40-byte header ...
  const SixteenBitCase c565 = sixteen_bit(67, 5, {5, 6, 5}, {11, 5, 0}, false);
  BmpSpec spec = bmp_spec(67, 5, 16, 3);
  spec.pixels = c565.pixels;
  for (const uint32_t mask : {0xF800u, 0x07E0u, 0x001Fu}) put_u32_le(spec.extra, mask);
  EXPECT_TRUE(same_pixels(decode_image(bmp_file(spec)).pixels, c565.expected));
  EXPECT_TRUE(same_pixels(rescaled_opencv(bmp_file(spec), {5, 6, 5}), c565.expected));
  // ... and are inside a V4 header (where OpenCV does not look for them).
  spec.extra.clear();
  spec.info_bytes = 108;
  spec.header_masks = {0xF800, 0x07E0, 0x001F, 0};
  EXPECT_TRUE(same_pixels(decode_image(bmp_file(spec)).pixels, c565.expected));

  // A V5 header with 4-4-4-4 ARGB: the alpha mask gives RGBA.
  BmpSpec argb = bmp_spec(3, 1, 16, 3);
  argb.info_bytes = 124;
  argb.header_masks = {0x0F00, 0x00F0, 0x000F, 0xF000};
  for (const unsigned v : {0xF00Fu, 0x80F0u, 0x0F00u}) put_u16_le(argb.pixels, v);
  put_u16_le(argb.pixels, 0);
  cv::Mat want(1, 3, CV_8UC4);
  want.at<cv::Vec4b>(0, 0) = cv::Vec4b(0, 0, 255, 255);
  want.at<cv::Vec4b>(0, 1) = cv::Vec4b(0, 255, 0, 136);
  want.at<cv::Vec4b>(0, 2) = cv::Vec4b(255, 0, 0, 0);
  EXPECT_TRUE(same_pixels(decode_image(bmp_file(argb)).pixels, want));
}

TEST(DecodeBmp, ThirtyTwoBitBitfieldsFollowTheMasks) {
  // R in the low byte (OpenCV would copy the bytes as BGRA whatever the masks), 40-byte header:
  // no alpha mask, so RGB.
  BmpSpec spec = bmp_spec(2, 1, 32, 3);
  for (const uint32_t mask : {0x000000FFu, 0x0000FF00u, 0x00FF0000u}) put_u32_le(spec.extra, mask);
  for (const uint32_t v : {0x80030201u, 0x00C0B0A0u}) put_u32_le(spec.pixels, v);
  cv::Mat want(1, 2, CV_8UC3);
  want.at<cv::Vec3b>(0, 0) = cv::Vec3b(1, 2, 3);
  want.at<cv::Vec3b>(0, 1) = cv::Vec3b(0xA0, 0xB0, 0xC0);
  EXPECT_TRUE(same_pixels(decode_image(bmp_file(spec)).pixels, want));
  // 10-10-10 fields are rounded down to 8 bits: 1023 -> 255, 512 -> 128, 3 -> 1.
  spec.extra.clear();
  for (const uint32_t mask : {0x3FF00000u, 0x000FFC00u, 0x000003FFu}) put_u32_le(spec.extra, mask);
  spec.pixels.clear();
  for (const uint32_t v : {(1023u << 20) | (512u << 10) | 3u, 0u}) put_u32_le(spec.pixels, v);
  want.at<cv::Vec3b>(0, 0) = cv::Vec3b(255, 128, 1);
  want.at<cv::Vec3b>(0, 1) = cv::Vec3b(0, 0, 0);
  EXPECT_TRUE(same_pixels(decode_image(bmp_file(spec)).pixels, want));
}

TEST(DecodeBmp, Rle8WithDeltaAndAbsoluteRuns) {
  // 7x4, stored rows bottom-up. Row 0: a run, an even absolute run, end of line. Row 1: an odd
  // (padded) absolute run, a run, a delta to (6, 2). Row 2: a run of 1, end of line. Row 3: a
  // run filling the row, end of bitmap. Pixels never written are black.
  const Bytes stream = {3, 1,  0, 4, 2, 3, 4, 5, 0, 0,        // row 0
                        0, 3,  6, 7, 8, 0, 2, 9, 0, 2, 1, 1,  // row 1, delta
                        1, 10, 0, 0,                          // row 2
                        7, 2,  0, 1};                         // row 3, end of bitmap
  const std::vector<std::vector<int>> stored = {
      {1, 1, 1, 2, 3, 4, 5}, {6, 7, 8, 9, 9, -1, -1}, {-1, -1, -1, -1, -1, -1, 10}, {2, 2, 2, 2, 2, 2, 2}};
  std::vector<cv::Vec3b> palette = test_palette(11);
  palette[0] = cv::Vec3b();  // OpenCV paints skipped pixels with entry 0; we leave them black
  BmpSpec spec = bmp_spec(7, 4, 8, 1);
  spec.colors_used = 11;
  spec.extra = palette_bytes(palette, false);
  spec.pixels = stream;
  const cv::Mat expected = from_indices(stored, palette, false);
  EXPECT_TRUE(same_pixels(decode_image(bmp_file(spec)).pixels, expected));
  EXPECT_TRUE(same_pixels(opencv_rgb(bmp_file(spec)), expected));

  // Skipped pixels stay black even when palette entry 0 is not.
  palette[0] = cv::Vec3b(200, 100, 50);
  spec.extra = palette_bytes(palette, false);
  EXPECT_TRUE(same_pixels(decode_image(bmp_file(spec)).pixels, from_indices(stored, palette, false)));
  // Top-down (legal only for uncompressed files, accepted anyway, as OpenCV did).
  spec.height = -4;
  EXPECT_TRUE(same_pixels(decode_image(bmp_file(spec)).pixels, from_indices(stored, palette, true)));
}

TEST(DecodeBmp, Rle4WithDeltaAndAbsoluteRuns) {
  // 9x3. Row 0: a run alternating two nibbles, an absolute run of 4. Row 1: an absolute run of 3,
  // a delta of 2 along the row, a run. Row 2: an absolute run of 5 (3 bytes, padded to 4). Each
  // row ends with end of line; the last one ends the bitmap.
  const Bytes stream = {5, 0x12, 0, 4,    0x34, 0x56, 0, 0, 0,    3,    0x78, 0x90, 0, 2,
                        2, 0,    4, 0xAB, 0,    0,    0, 5, 0x12, 0x34, 0x50, 0x00, 0, 0};
  const std::vector<std::vector<int>> stored = {
      {1, 2, 1, 2, 1, 3, 4, 5, 6}, {7, 8, 9, -1, -1, 10, 11, 10, 11}, {1, 2, 3, 4, 5, -1, -1, -1, -1}};
  std::vector<cv::Vec3b> palette = test_palette(16);
  palette[0] = cv::Vec3b();
  BmpSpec spec = bmp_spec(9, 3, 4, 2);
  spec.extra = palette_bytes(palette, false);
  spec.pixels = stream;
  const cv::Mat expected = from_indices(stored, palette, false);
  EXPECT_TRUE(same_pixels(decode_image(bmp_file(spec)).pixels, expected));
  EXPECT_TRUE(same_pixels(opencv_rgb(bmp_file(spec)), expected));

  // A delta down a row and an early end of bitmap (OpenCV 4.6's RLE4 ignores both's vertical part).
  spec.width = 4;
  spec.pixels = {2, 0x35, 0, 2, 1, 1, 1, 0x70, 0, 1};
  EXPECT_TRUE(same_pixels(decode_image(bmp_file(spec)).pixels,
                          from_indices({{3, 5, -1, -1}, {-1, -1, -1, 7}, {-1, -1, -1, -1}}, palette, false)));
}

TEST(DecodeBmp, TopDownPaletteFile) {
  const PaletteCase c = palette_case(8, 256, 0, false, true);
  EXPECT_TRUE(same_pixels(decode_image(c.file).pixels, c.expected));
  EXPECT_TRUE(same_pixels(opencv_rgb(c.file), c.expected));
  // The same rows bottom-up give the picture upside down.
  const PaletteCase bottom_up = palette_case(8, 256, 0, false, false);
  cv::Mat flipped;
  cv::flip(c.expected, flipped, 0);
  EXPECT_TRUE(same_pixels(decode_image(bottom_up.file).pixels, flipped));
}

// --- GIF ------------------------------------------------------------------------------------

cv::Mat expected_pattern(int width, int height, const std::vector<GifColorType>& palette) {
  cv::Mat m(height, width, CV_8UC3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      const GifColorType& c = palette[static_cast<size_t>((x + 2 * y) % 4)];
      m.at<cv::Vec3b>(y, x) = cv::Vec3b(c.Red, c.Green, c.Blue);
    }
  }
  return m;
}

TEST(DecodeGif, PaletteInterlaceTransparencyOffsetAndFirstFrameOnly) {
  const cv::Mat expected = expected_pattern(7, 11, kPalette);
  GifFrame frame = pattern_frame(0, 0, 7, 11);
  EXPECT_TRUE(same_pixels(decode_image(write_gif(7, 11, kPalette, {frame})).pixels, expected));
  frame.interlaced = true;
  EXPECT_TRUE(same_pixels(decode_image(write_gif(7, 11, kPalette, {frame})).pixels, expected));

  GifFrame second = pattern_frame(0, 0, 7, 11);
  second.local_palette = {{1, 2, 3}, {4, 5, 6}, {7, 8, 9}, {10, 11, 12}};
  EXPECT_TRUE(same_pixels(decode_image(write_gif(7, 11, kPalette, {frame, second})).pixels, expected));
  EXPECT_TRUE(same_pixels(decode_image(write_gif(7, 11, kPalette, {second, frame})).pixels,
                          expected_pattern(7, 11, second.local_palette)));

  frame.transparent = 2;
  const cv::Mat transparent = decode_image(write_gif(7, 11, kPalette, {frame})).pixels;
  ASSERT_EQ(transparent.type(), CV_8UC4);
  for (int y = 0; y < 11; ++y) {
    for (int x = 0; x < 7; ++x) {
      const cv::Vec3b e = expected.at<cv::Vec3b>(y, x);
      const cv::Vec4b want = (x + 2 * y) % 4 == 2 ? cv::Vec4b(0, 0, 0, 0) : cv::Vec4b(e[0], e[1], e[2], 255);
      ASSERT_EQ(transparent.at<cv::Vec4b>(y, x), want) << x << "," << y;
    }
  }

  // A 4x3 frame at (5, 4) on a 10x8 screen, then one hanging over the edge (clipped).
  for (const auto& [left, top] : {std::pair{5, 4}, {8, 6}}) {
    const cv::Mat canvas = decode_image(write_gif(10, 8, kPalette, {pattern_frame(left, top, 4, 3)})).pixels;
    ASSERT_EQ(canvas.type(), CV_8UC4);
    ASSERT_EQ(canvas.size(), cv::Size(10, 8));
    const cv::Mat pattern = expected_pattern(4, 3, kPalette);
    for (int y = 0; y < 8; ++y) {
      for (int x = 0; x < 10; ++x) {
        const bool inside = x >= left && x < left + 4 && y >= top && y < top + 3;
        const cv::Vec3b e = inside ? pattern.at<cv::Vec3b>(y - top, x - left) : cv::Vec3b();
        ASSERT_EQ(canvas.at<cv::Vec4b>(y, x), inside ? cv::Vec4b(e[0], e[1], e[2], 255) : cv::Vec4b())
            << x << "," << y;
      }
    }
  }
}

}  // namespace
}  // namespace cutout
