// Tests of decoding each format (src/core/image_io.h and the decoders behind it): JPEG (baseline,
// progressive, grey, CMYK, EXIF orientation), PNG, WebP (still and animated), TIFF, BMP and GIF.
// Every fixture is generated: OpenCV's encoders for the common cases, libpng / libjpeg / giflib /
// libtiff writers and hand-built containers for the rest (the shared ones in
// image_decode_helpers.h). Tolerances: lossless formats must match exactly; JPEG within a mean
// absolute error stated at each check.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
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
