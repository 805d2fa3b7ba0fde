// Tests of sniffing, probing and decoding (src/core/image_io.h, exif.h). Every fixture is generated
// here: OpenCV's encoders for the common cases, libpng / libjpeg / giflib / libtiff writers and
// hand-built containers for the rest. Tolerances: lossless formats must match exactly; JPEG
// within a mean absolute error stated at each check.
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>

#include <gif_lib.h>
#include <jpeglib.h>
#include <png.h>
#include <tiffio.h>
#include <zlib.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "core/decode_internal.h"
#include "core/error.h"
#include "core/exif.h"
#include "core/image_io.h"
#include "test_support.h"

namespace cutout {
namespace {

using Bytes = std::vector<uint8_t>;
using testing::make_test_rgb;

cv::Mat make_test_rgba(int width, int height) {
  cv::Mat rgb = make_test_rgb(width, height), rgba;
  cv::cvtColor(rgb, rgba, cv::COLOR_RGB2RGBA);
  for (int y = 0; y < height; ++y) {
    // Never 0: lossless WebP may change the colour of fully transparent pixels.
    for (int x = 0; x < width; ++x)
      rgba.at<cv::Vec4b>(y, x)[3] = static_cast<uint8_t>(1 + (x * 255 / width + y) % 255);
  }
  return rgba;
}

// For lossy codecs: the test picture without its hard edges and sawtooth channel.
cv::Mat make_smooth_rgb(int width, int height) {
  cv::Mat smooth;
  cv::GaussianBlur(make_test_rgb(width, height), smooth, cv::Size(9, 9), 3.0);
  return smooth;
}

// OpenCV encoders take BGR(A); the tests think in RGB(A).
Bytes encode(const std::string& ext, const cv::Mat& image, const std::vector<int>& params = {}) {
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

double mean_abs_error(const cv::Mat& a, const cv::Mat& b) {
  if (a.size() != b.size() || a.type() != b.type()) return 1e9;
  cv::Mat diff;
  cv::absdiff(a, b, diff);
  const cv::Scalar per_channel = cv::mean(diff);
  return (per_channel[0] + per_channel[1] + per_channel[2] + per_channel[3]) / a.channels();
}

::testing::AssertionResult same_pixels(const cv::Mat& actual, const cv::Mat& expected) {
  if (actual.size() != expected.size() || actual.type() != expected.type()) {
    return ::testing::AssertionFailure()
           << "got " << actual.cols << "x" << actual.rows << " type " << actual.type() << ", expected "
           << expected.cols << "x" << expected.rows << " type " << expected.type();
  }
  const double max_diff = cv::norm(actual, expected, cv::NORM_INF);
  if (max_diff != 0) return ::testing::AssertionFailure() << "max abs difference " << max_diff;
  return ::testing::AssertionSuccess();
}

ErrorCode decode_error(const Bytes& bytes, const DecodeOptions& options = {}) {
  try {
    decode_image(bytes, options);
  } catch (const Error& e) {
    return e.code();
  }
  ADD_FAILURE() << "decode_image did not throw";
  return ErrorCode::kInternal;
}

Bytes head(const Bytes& bytes, double fraction) {
  return Bytes(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(bytes.size() * fraction));
}

void put_u16_be(Bytes& b, unsigned v) {
  b.insert(b.end(), {uint8_t(v >> 8), uint8_t(v)});
}
void put_u32_be(Bytes& b, uint32_t v) {
  b.insert(b.end(), {uint8_t(v >> 24), uint8_t(v >> 16), uint8_t(v >> 8), uint8_t(v)});
}
void put_u16_le(Bytes& b, unsigned v) {
  b.insert(b.end(), {uint8_t(v), uint8_t(v >> 8)});
}
void put_u24_le(Bytes& b, uint32_t v) {
  b.insert(b.end(), {uint8_t(v), uint8_t(v >> 8), uint8_t(v >> 16)});
}
void put_u32_le(Bytes& b, uint32_t v) {
  put_u16_le(b, v & 0xFFFF);
  put_u16_le(b, v >> 16);
}
void put_text(Bytes& b, std::string_view s) {
  b.insert(b.end(), s.begin(), s.end());
}

// --- EXIF -----------------------------------------------------------------------------------

// A TIFF-structured block whose IFD0 holds one entry: Orientation = value.
Bytes exif_block(int orientation, bool big_endian) {
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

TEST(Exif, ReadsBothByteOrdersAndRejectsBrokenBlocks) {
  for (int o = 1; o <= 8; ++o) {
    EXPECT_EQ(exif_orientation(exif_block(o, true)), o);
    EXPECT_EQ(exif_orientation(exif_block(o, false)), o);
  }
  Bytes prefixed = {'E', 'x', 'i', 'f', 0, 0};
  const Bytes six = exif_block(6, false);
  prefixed.insert(prefixed.end(), six.begin(), six.end());
  EXPECT_EQ(exif_orientation(prefixed), 6);
  EXPECT_EQ(exif_orientation(exif_block(9, true)), 1);  // out of range
  EXPECT_EQ(exif_orientation(exif_block(0, true)), 1);
  EXPECT_EQ(exif_orientation({}), 1);
  for (size_t n = 0; n < six.size(); ++n) EXPECT_EQ(exif_orientation({six.data(), n}), n >= 22 ? 6 : 1) << n;
  Bytes bad_offset = six;
  bad_offset[4] = 0xF0;  // IFD0 far beyond the block
  EXPECT_EQ(exif_orientation(bad_offset), 1);
  Bytes many_entries = six;
  many_entries[8] = 0xFF;  // 255 entries claimed, one present
  many_entries[9] = 0x00;
  EXPECT_EQ(exif_orientation(many_entries), 6);  // found before running off the end
  many_entries[10] = 0x13;  // a different tag: the search must stop at the end of the block
  EXPECT_EQ(exif_orientation(many_entries), 1);
}

TEST(ApplyOrientation, MovesTheStoredCornersWhereExifSaysTheyAre) {
  // Stored 2 rows x 3 columns; a = row 0 col 0, b = row 0 last col.
  const cv::Mat stored = (cv::Mat_<uint8_t>(2, 3) << 1, 2, 3, 4, 5, 6);
  struct Case {
    int orientation;
    int rows;
    uint8_t top_left, top_right, bottom_left, bottom_right;
  };
  const Case cases[] = {{1, 2, 1, 3, 4, 6}, {2, 2, 3, 1, 6, 4}, {3, 2, 6, 4, 3, 1}, {4, 2, 4, 6, 1, 3},
                        {5, 3, 1, 4, 3, 6}, {6, 3, 4, 1, 6, 3}, {7, 3, 6, 3, 4, 1}, {8, 3, 3, 6, 1, 4}};
  for (const Case& c : cases) {
    const cv::Mat out = apply_orientation(stored, c.orientation);
    ASSERT_EQ(out.rows, c.rows) << c.orientation;
    EXPECT_EQ(out.at<uint8_t>(0, 0), c.top_left) << c.orientation;
    EXPECT_EQ(out.at<uint8_t>(0, out.cols - 1), c.top_right) << c.orientation;
    EXPECT_EQ(out.at<uint8_t>(out.rows - 1, 0), c.bottom_left) << c.orientation;
    EXPECT_EQ(out.at<uint8_t>(out.rows - 1, out.cols - 1), c.bottom_right) << c.orientation;
  }
  EXPECT_TRUE(same_pixels(apply_orientation(stored, 0), stored));
  EXPECT_TRUE(same_pixels(apply_orientation(stored, 9), stored));
}

// --- Sniffing and probing -------------------------------------------------------------------

TEST(Sniff, RecognisesMagicBytes) {
  const cv::Mat rgb = make_test_rgb(40, 30);
  EXPECT_EQ(sniff_format(encode(".jpg", rgb)), ImageFormat::kJpeg);
  EXPECT_EQ(sniff_format(encode(".png", rgb)), ImageFormat::kPng);
  EXPECT_EQ(sniff_format(encode(".webp", rgb)), ImageFormat::kWebp);
  EXPECT_EQ(sniff_format(encode(".bmp", rgb)), ImageFormat::kBmp);
  EXPECT_EQ(sniff_format(encode(".tiff", rgb)), ImageFormat::kTiff);
  EXPECT_EQ(sniff_format(Bytes{'M', 'M', 0, '*', 0, 0, 0, 8}), ImageFormat::kTiff);
  EXPECT_EQ(sniff_format(Bytes{'G', 'I', 'F', '8', '7', 'a'}), ImageFormat::kGif);
  EXPECT_EQ(sniff_format(Bytes{'G', 'I', 'F', '8', '9', 'a'}), ImageFormat::kGif);
  EXPECT_EQ(sniff_format(Bytes{'G', 'I', 'F', '8', '8', 'a'}), ImageFormat::kUnknown);
  EXPECT_EQ(sniff_format(Bytes{}), ImageFormat::kUnknown);
  EXPECT_EQ(sniff_format(Bytes{0xFF, 0xD8}), ImageFormat::kUnknown);
  EXPECT_EQ(format_name(ImageFormat::kWebp), "webp");
  EXPECT_EQ(format_name(ImageFormat::kUnknown), "unknown");
}

TEST(Probe, ReadsDimensionsOfEveryFormat) {
  const cv::Mat rgb = make_test_rgb(37, 23);
  const std::pair<std::string, ImageFormat> cases[] = {{".jpg", ImageFormat::kJpeg},
                                                       {".png", ImageFormat::kPng},
                                                       {".webp", ImageFormat::kWebp},
                                                       {".bmp", ImageFormat::kBmp},
                                                       {".tiff", ImageFormat::kTiff}};
  for (const auto& [ext, format] : cases) {
    const ImageInfo info = probe_image(encode(ext, rgb));
    EXPECT_EQ(info.format, format) << ext;
    EXPECT_EQ(info.width, 37) << ext;
    EXPECT_EQ(info.height, 23) << ext;
  }
  // Lossy VP8 and extended VP8X headers.
  EXPECT_EQ(probe_image(encode(".webp", rgb, {cv::IMWRITE_WEBP_QUALITY, 80})).width, 37);
  EXPECT_EQ(probe_image(encode(".webp", make_test_rgba(37, 23))).height, 23);
  EXPECT_THROW(probe_image(Bytes{'h', 'e', 'l', 'l', 'o'}), Error);
  try {
    probe_image(Bytes{0xFF, 0xD8, 0xFF, 0xE0, 0x00});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUndecodable);
  }
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

Bytes riff_chunk(std::string_view fourcc, const Bytes& payload) {
  Bytes b;
  put_text(b, fourcc);
  put_u32_le(b, static_cast<uint32_t>(payload.size()));
  b.insert(b.end(), payload.begin(), payload.end());
  if (payload.size() % 2 == 1) b.push_back(0);
  return b;
}

Bytes webp_file(const std::vector<Bytes>& chunks) {
  Bytes body;
  put_text(body, "WEBP");
  for (const Bytes& c : chunks) body.insert(body.end(), c.begin(), c.end());
  Bytes b;
  put_text(b, "RIFF");
  put_u32_le(b, static_cast<uint32_t>(body.size()));
  b.insert(b.end(), body.begin(), body.end());
  return b;
}

Bytes vp8x(uint8_t flags, uint32_t width, uint32_t height) {
  Bytes p = {flags, 0, 0, 0};
  put_u24_le(p, width - 1);
  put_u24_le(p, height - 1);
  return riff_chunk("VP8X", p);
}

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

Bytes write_tiff(const cv::Mat& image, int orientation, uint16_t extra_sample = EXTRASAMPLE_UNASSALPHA) {
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
Bytes write_tiff_ifd_first(const cv::Mat& rgb) {
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

struct GifFrame {
  int left = 0, top = 0, width = 0, height = 0;
  Bytes indices;  // row-major, width * height
  bool interlaced = false;
  int transparent = -1;
  std::vector<GifColorType> local_palette;
};

Bytes write_gif(int width, int height, const std::vector<GifColorType>& palette,
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

const std::vector<GifColorType> kPalette = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {250, 250, 250}};

GifFrame pattern_frame(int left, int top, int width, int height) {
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

// --- Errors ---------------------------------------------------------------------------------

std::vector<std::pair<std::string, Bytes>> sample_files(int width, int height) {
  const cv::Mat rgb = make_test_rgb(width, height);
  GifFrame frame = pattern_frame(0, 0, width, height);
  for (size_t i = 0; i < frame.indices.size(); ++i)
    frame.indices[i] = static_cast<uint8_t>((i * 7919 / 13) % 4);
  return {{"jpeg", encode(".jpg", rgb)},
          {"progressive jpeg", encode(".jpg", rgb, {cv::IMWRITE_JPEG_PROGRESSIVE, 1})},
          {"png", encode(".png", rgb)},
          {"webp lossy", encode(".webp", rgb, {cv::IMWRITE_WEBP_QUALITY, 90})},
          {"webp lossless", encode(".webp", rgb, {cv::IMWRITE_WEBP_QUALITY, 101})},
          {"tiff", encode(".tiff", rgb)},
          {"tiff lzw strips", write_tiff(rgb, 1)},
          {"tiff ifd first", write_tiff_ifd_first(rgb)},
          {"bmp", encode(".bmp", rgb)},
          {"gif", write_gif(width, height, kPalette, {frame})}};
}

TEST(DecodeErrors, TruncatedFilesAreUndecodable) {
  for (const auto& [name, bytes] : sample_files(120, 90)) {
    EXPECT_NO_THROW(decode_image(bytes)) << name;
    EXPECT_EQ(decode_error(head(bytes, 0.6)), ErrorCode::kUndecodable) << name;
    EXPECT_EQ(decode_error(head(bytes, 0.95)), ErrorCode::kUndecodable) << name;
  }
  // PNG without its IEND chunk, and with a damaged IDAT CRC.
  const Bytes png = encode(".png", make_test_rgb(60, 40));
  EXPECT_EQ(decode_error(Bytes(png.begin(), png.end() - 12)), ErrorCode::kUndecodable);
  Bytes bad_crc = png;
  bad_crc[bad_crc.size() - 12 - 1] ^= 0x55;  // last byte of the IDAT CRC
  EXPECT_EQ(decode_error(bad_crc), ErrorCode::kUndecodable);
  const Bytes bmp = encode(".bmp", make_test_rgb(60, 40));
  EXPECT_EQ(decode_error(Bytes(bmp.begin(), bmp.end() - 1)), ErrorCode::kUndecodable);
}

TEST(DecodeErrors, CorruptJpegEntropyDataNeverCrashes) {
  // Damage inside the entropy-coded segment is only detectable when it breaks the Huffman
  // coding or hits a marker; either outcome below is acceptable, a crash or a wrong size is not.
  const Bytes jpeg = encode(".jpg", make_test_rgb(160, 120), {cv::IMWRITE_JPEG_QUALITY, 90});
  std::mt19937 rng(7);
  int rejected = 0;
  for (int trial = 0; trial < 20; ++trial) {
    Bytes corrupt = jpeg;
    const size_t middle = corrupt.size() / 2;
    for (size_t i = 0; i < 32; ++i) corrupt[middle + i] = static_cast<uint8_t>(rng() % 255);  // no 0xFF
    try {
      const DecodedImage decoded = decode_image(corrupt);
      EXPECT_EQ(decoded.pixels.size(), cv::Size(160, 120));
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kUndecodable);
      ++rejected;
    }
  }
  // 0 of these 20 are rejected today: the damage desynchronises the Huffman decoder, which then
  // either stops short of the scan's end (leftover bytes are not read) or runs into EOI (caught).
  Bytes with_marker = jpeg;
  with_marker[with_marker.size() / 2] = 0xFF;
  with_marker[with_marker.size() / 2 + 1] = 0xD9;  // EOI in the middle of the scan
  EXPECT_EQ(decode_error(with_marker), ErrorCode::kUndecodable);
  RecordProperty("corrupt_rejected_of_20", rejected);
}

TEST(DecodeErrors, NonImagesAreUnsupported) {
  std::mt19937 rng(42);
  Bytes random(4096);
  for (uint8_t& b : random) b = static_cast<uint8_t>(rng());
  random[0] = 0x00;  // make sure no magic number matches by chance
  EXPECT_EQ(decode_error(random), ErrorCode::kUnsupportedFormat);
  EXPECT_EQ(decode_error(Bytes{}), ErrorCode::kUnsupportedFormat);
  EXPECT_EQ(decode_error(Bytes{'h', 'e', 'l', 'l', 'o'}), ErrorCode::kUnsupportedFormat);
}

// A small fuzz pass (a longer one ran under ASan while writing the decoders): random byte changes,
// some on a truncated copy, must end in a valid image or a cutout::Error, never anything else.
TEST(DecodeErrors, MutatedFilesThrowOnlyCutoutErrors) {
  std::mt19937 rng(1234);
  for (const auto& [name, bytes] : sample_files(24, 16)) {
    for (int trial = 0; trial < 150; ++trial) {
      Bytes mutated = trial % 3 == 0 ? head(bytes, 0.2 + 0.8 * (rng() % 1000) / 1000.0) : bytes;
      for (int k = 0; k < 3; ++k) mutated[rng() % mutated.size()] = static_cast<uint8_t>(rng());
      try {
        const DecodedImage decoded = decode_image(mutated);
        EXPECT_TRUE(decoded.pixels.type() == CV_8UC3 || decoded.pixels.type() == CV_8UC4) << name;
      } catch (const Error&) {
      } catch (const std::exception& e) {
        ADD_FAILURE() << name << " trial " << trial << ": " << e.what();
      }
    }
  }
}

// --- Pixel limits ---------------------------------------------------------------------------

// Header-only files that claim huge images; decoding must stop at the header.
std::vector<std::pair<std::string, Bytes>> bomb_files() {
  Bytes jpeg = {0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x11, 0x08};
  put_u16_be(jpeg, 65000);  // height
  put_u16_be(jpeg, 65000);  // width
  jpeg.insert(jpeg.end(), {3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1, 0xFF, 0xD9});

  Bytes png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n', 0, 0, 0, 13};
  Bytes ihdr;
  put_text(ihdr, "IHDR");
  put_u32_be(ihdr, 100000);
  put_u32_be(ihdr, 100000);
  ihdr.insert(ihdr.end(), {8, 2, 0, 0, 0});
  png.insert(png.end(), ihdr.begin(), ihdr.end());
  put_u32_be(png, static_cast<uint32_t>(crc32(0, ihdr.data(), static_cast<unsigned>(ihdr.size()))));

  Bytes gif;
  put_text(gif, "GIF89a");
  put_u16_le(gif, 65535);
  put_u16_le(gif, 65535);
  gif.insert(gif.end(), {0, 0, 0, ';'});

  // A 16x16 screen whose first frame claims 60000x60000: caught by the GIF decoder itself.
  Bytes gif_frame;
  put_text(gif_frame, "GIF89a");
  put_u16_le(gif_frame, 16);
  put_u16_le(gif_frame, 16);
  gif_frame.insert(gif_frame.end(), {0x80, 0, 0, 0, 0, 0, 255, 255, 255, ','});  // 2-colour map
  put_u32_le(gif_frame, 0);
  put_u16_le(gif_frame, 60000);
  put_u16_le(gif_frame, 60000);
  gif_frame.insert(gif_frame.end(), {0, 2, 2, 0x4C, 0x01, 0, ';'});

  Bytes bmp = {'B', 'M'};
  put_u32_le(bmp, 54);
  put_u32_le(bmp, 0);
  put_u32_le(bmp, 54);
  put_u32_le(bmp, 40);
  put_u32_le(bmp, 100000);
  put_u32_le(bmp, 100000);
  put_u16_le(bmp, 1);
  put_u16_le(bmp, 24);
  bmp.resize(54, 0);

  const Bytes webp = webp_file({vp8x(0, 30000, 30000)});

  Bytes tiff = {'I', 'I', 42, 0, 8, 0, 0, 0, 2, 0};
  for (const uint16_t tag : {256, 257}) {
    put_u16_le(tiff, tag);
    put_u16_le(tiff, 4);  // LONG
    put_u32_le(tiff, 1);
    put_u32_le(tiff, 100000);
  }
  put_u32_le(tiff, 0);
  return {{"jpeg", jpeg}, {"png", png},   {"gif", gif},  {"gif frame", gif_frame},
          {"bmp", bmp},   {"webp", webp}, {"tiff", tiff}};
}

TEST(PixelLimit, HeaderOnlyBombsAreRejectedBeforeAllocation) {
  for (const auto& [name, bytes] : bomb_files()) {
    if (name != "gif frame") {
      const ImageInfo info = probe_image(bytes);
      EXPECT_GT(uint64_t(info.width) * uint64_t(info.height), uint64_t{50'000'000}) << name;
    }
    const auto start = std::chrono::steady_clock::now();
    try {
      decode_image(bytes);
      ADD_FAILURE() << name << " decoded";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kImageTooLarge) << name << ": " << e.what();
    }
    // Allocating (and zeroing) billions of pixels would take far longer than this.
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(200)) << name;
  }
}

TEST(PixelLimit, EveryDecoderChecksTheLimitItself) {
  DecodeOptions small;
  small.max_pixels = 1000;
  using Decoder = detail::RawImage (*)(std::span<const uint8_t>, uint64_t);
  const std::map<std::string, Decoder> decoders = {{"jpeg", detail::decode_jpeg},
                                                   {"progressive jpeg", detail::decode_jpeg},
                                                   {"png", detail::decode_png},
                                                   {"webp lossy", detail::decode_webp},
                                                   {"webp lossless", detail::decode_webp},
                                                   {"tiff", detail::decode_tiff},
                                                   {"tiff lzw strips", detail::decode_tiff},
                                                   {"tiff ifd first", detail::decode_tiff},
                                                   {"bmp", detail::decode_bmp},
                                                   {"gif", detail::decode_gif}};
  for (const auto& [name, bytes] : sample_files(100, 100)) {
    EXPECT_EQ(decode_error(bytes, small), ErrorCode::kImageTooLarge) << name;
    small.max_pixels = 10000;
    EXPECT_NO_THROW(decode_image(bytes, small)) << name;
    small.max_pixels = 1000;
    try {
      decoders.at(name)(bytes, 9999);
      ADD_FAILURE() << name << " decoded";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kImageTooLarge) << name;
    }
  }
}

// --- The evaluation photos ------------------------------------------------------------------

TEST(DecodeEvalSet, EveryPhotoDecodesLikeOpenCV) {
  for (const char* set : {"grabcut", "davis2016"}) {
    int count = 0;
    const auto dir = testing::eval_dir() / set / "images";
    ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      const Bytes bytes = testing::read_file(entry.path());
      DecodeOptions as_stored;
      as_stored.apply_orientation = false;
      const DecodedImage decoded = decode_image(bytes, as_stored);
      const ImageInfo info = probe_image(bytes);
      cv::Mat reference = cv::imdecode(bytes, cv::IMREAD_COLOR | cv::IMREAD_IGNORE_ORIENTATION);
      cv::cvtColor(reference, reference, cv::COLOR_BGR2RGB);
      EXPECT_EQ(decoded.pixels.cols, info.width) << entry.path();
      EXPECT_EQ(decoded.pixels.rows, info.height) << entry.path();
      EXPECT_GE(std::min(info.width, info.height), 100) << entry.path();
      // The same libraries underneath: identical pixels up to the odd rounding step.
      EXPECT_LT(mean_abs_error(decoded.pixels, reference), 0.05) << entry.path();
      ++count;
    }
    EXPECT_GT(count, 10) << set;
  }
}

}  // namespace
}  // namespace cutout

namespace cutout {
namespace {

// DecodeOptions::rgba: every source as CV_8UC4, the same colours, alpha 255 where it had none.
TEST(DecodeRgba, SameColoursWithOpaqueAlpha) {
  cv::Mat rgb = testing::make_test_rgb(40, 30), bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  for (const char* ext : {".jpg", ".png", ".bmp", ".tiff", ".webp"}) {
    std::vector<uint8_t> bytes;
    ASSERT_TRUE(cv::imencode(ext, bgr, bytes));
    DecodedImage plain = decode_image(bytes);
    DecodeOptions options;
    options.rgba = true;
    DecodedImage four = decode_image(bytes, options);
    ASSERT_EQ(plain.pixels.type(), CV_8UC3) << ext;
    ASSERT_EQ(four.pixels.type(), CV_8UC4) << ext;
    EXPECT_FALSE(four.has_alpha) << ext;
    cv::Mat colour, alpha;
    cv::cvtColor(four.pixels, colour, cv::COLOR_RGBA2RGB);
    cv::extractChannel(four.pixels, alpha, 3);
    EXPECT_EQ(cv::norm(colour, plain.pixels, cv::NORM_INF), 0) << ext;
    EXPECT_EQ(cv::countNonZero(alpha != 255), 0) << ext;
  }
}

TEST(DecodeRgba, TransparencyIsReported) {
  cv::Mat bgra(10, 10, CV_8UC4, cv::Scalar(1, 2, 3, 100));
  std::vector<uint8_t> png;
  ASSERT_TRUE(cv::imencode(".png", bgra, png));
  DecodeOptions options;
  options.rgba = true;
  DecodedImage d = decode_image(png, options);
  EXPECT_TRUE(d.has_alpha);
  EXPECT_EQ(d.pixels.at<cv::Vec4b>(0, 0), cv::Vec4b(3, 2, 1, 100));
}

}  // namespace
}  // namespace cutout
