// Tests of decoding what is not a good image (src/core/image_io.h, decode_internal.h): truncated,
// corrupt, mutated and non-image inputs must end in a cutout::Error with the right code, never a
// crash; header-only pixel bombs are rejected before allocation, and every decoder checks the
// pixel limit itself. The fixture writers are in image_decode_helpers.h.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <exception>
#include <map>
#include <random>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <zlib.h>
#include <opencv2/imgcodecs.hpp>

#include "core/decode_internal.h"
#include "core/error.h"
#include "core/image_io.h"
#include "image_decode_helpers.h"
#include "test_support.h"

namespace cutout {
namespace {

using namespace decode_test;  // NOLINT: the tests' vocabulary
using testing::make_test_rgb;

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

}  // namespace
}  // namespace cutout
