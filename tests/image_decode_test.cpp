// Tests of sniffing, probing and the format-independent parts of decoding (src/core/image_io.h,
// exif.h): EXIF orientation parsing and applying, DecodeOptions::rgba, and the evaluation photos
// against OpenCV. Per-format decoding is in image_decode_formats_test.cpp, damaged files and pixel
// limits in image_decode_errors_test.cpp. Every fixture is generated here or in
// image_decode_helpers.h; tolerances are stated at each check.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "core/exif.h"
#include "core/image_io.h"
#include "image_decode_helpers.h"
#include "test_support.h"

namespace cutout {
namespace {

using namespace decode_test;  // NOLINT: the tests' vocabulary
using testing::make_test_rgb;

// --- EXIF -----------------------------------------------------------------------------------

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

// --- DecodeOptions::rgba -------------------------------------------------------------------

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
