// Tests of decoding what is not a good image (src/core/image_io.h, decode_internal.h): truncated,
// corrupt, mutated and non-image inputs must end in a cutout::Error with the right code, never a
// crash; header-only pixel bombs are rejected before allocation, and every decoder checks the
// pixel limit itself. The fixture writers are in image_decode_helpers.h.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <exception>
#include <map>
#include <random>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <zlib.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

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

// --- BMP ------------------------------------------------------------------------------------

// A BMP with a 40-byte header (or `info_bytes` with the masks inside it, zero after), `extra`
// (palette or masks) and `pixels`; a 2-colour palette unless extra is given for bpp <= 8.
Bytes bmp_file(int width, int height, unsigned bpp, uint32_t compression, const Bytes& extra,
               const Bytes& pixels, uint32_t colors_used = 0, uint32_t info_bytes = 40,
               std::array<uint32_t, 4> header_masks = {}) {
  const auto offset = static_cast<uint32_t>(14 + info_bytes + extra.size());
  Bytes b = {'B', 'M'};
  for (const uint32_t v :
       {offset + uint32_t(pixels.size()), 0u, offset, info_bytes, uint32_t(width), uint32_t(height)}) {
    put_u32_le(b, v);
  }
  put_u16_le(b, 1);
  put_u16_le(b, bpp);
  for (const uint32_t v : {compression, uint32_t(pixels.size()), 2835u, 2835u, colors_used, 0u})
    put_u32_le(b, v);
  if (info_bytes > 40) {
    for (const uint32_t mask : header_masks) put_u32_le(b, mask);
    b.resize(14 + info_bytes, 0);
  }
  b.insert(b.end(), extra.begin(), extra.end());
  b.insert(b.end(), pixels.begin(), pixels.end());
  return b;
}

// Two entries, BGRX: 0 red, 1 green.
const Bytes kTwoColours = {0, 0, 255, 0, 0, 255, 0, 0};

Bytes rle8_file(int width, int height, const Bytes& stream) {
  return bmp_file(width, height, 8, 1, kTwoColours, stream, 2);
}

TEST(DecodeErrors, TruncatedBmpRleDataIsUndecodable) {
  // 4x2: a run and end of line, a run, an odd absolute run (padded), end of bitmap. Every proper
  // prefix of the stream stops before the bitmap is complete.
  const Bytes stream = {2, 1, 0, 0, 1, 1, 0, 3, 1, 0, 1, 0, 0, 1};
  const Bytes whole = rle8_file(4, 2, stream);
  EXPECT_NO_THROW(decode_image(whole));
  const size_t offset = whole.size() - stream.size();
  for (size_t size = offset; size < whole.size(); ++size) {
    EXPECT_EQ(decode_error(Bytes(whole.begin(), whole.begin() + std::ptrdiff_t(size))),
              ErrorCode::kUndecodable)
        << size - offset << " of " << stream.size() << " stream bytes";
  }
  // The same for RLE4, and a data offset past the end of the file.
  const Bytes rle4 = bmp_file(4, 1, 4, 2, kTwoColours, {0, 3, 0x10, 0x10, 1, 0x10, 0, 1}, 2);
  EXPECT_NO_THROW(decode_image(rle4));
  for (size_t cut = 1; cut <= 8; ++cut) {
    EXPECT_EQ(decode_error(Bytes(rle4.begin(), rle4.end() - std::ptrdiff_t(cut))), ErrorCode::kUndecodable)
        << cut;
  }
  Bytes far_offset = whole;
  const uint32_t past = uint32_t(whole.size()) + 100;
  std::memcpy(&far_offset[10], &past, 4);
  EXPECT_EQ(decode_error(far_offset), ErrorCode::kUndecodable);
}

TEST(DecodeErrors, BmpRleRunsOutsideTheImageAreUndecodable) {
  const std::vector<std::pair<std::string, Bytes>> streams = {
      {"run past the row end", {5, 1, 0, 1}},
      {"run after a full row", {4, 1, 1, 1, 0, 1}},
      {"absolute run past the row end", {2, 0, 0, 3, 1, 1, 1, 0, 0, 1}},
      {"delta past the right edge", {0, 2, 5, 0, 0, 1}},
      {"delta below the last row", {0, 2, 0, 2, 0, 1}},
      {"delta after a full row", {4, 1, 0, 2, 1, 0, 0, 1}},
  };
  for (const auto& [name, stream] : streams) {
    EXPECT_EQ(decode_error(rle8_file(4, 2, stream)), ErrorCode::kUndecodable) << name;
  }
  // RLE4: a run and an absolute run past the row end.
  EXPECT_EQ(decode_error(bmp_file(4, 1, 4, 2, kTwoColours, {5, 0x10, 0, 1}, 2)), ErrorCode::kUndecodable);
  EXPECT_EQ(decode_error(bmp_file(4, 1, 4, 2, kTwoColours, {2, 0x10, 0, 3, 0x10, 0x10, 0, 1}, 2)),
            ErrorCode::kUndecodable);
  // Within bounds: a run ending exactly at the row end, then end of line; end of line on the last
  // row ends the bitmap without an end-of-bitmap code.
  EXPECT_NO_THROW(decode_image(rle8_file(4, 2, {4, 1, 0, 0, 4, 0, 0, 0})));
}

TEST(DecodeErrors, BmpPaletteIndexBeyondThePaletteIsBlack) {
  // As OpenCV (and browsers) do: entries the file does not define are black.
  const Bytes plain = bmp_file(3, 1, 8, 0, kTwoColours, {1, 5, 9, 0}, 2);
  const Bytes rle = rle8_file(3, 1, {1, 1, 2, 200, 0, 1});
  cv::Mat want(1, 3, CV_8UC3, cv::Scalar(0, 0, 0));
  want.at<cv::Vec3b>(0, 0) = cv::Vec3b(0, 255, 0);
  EXPECT_TRUE(same_pixels(decode_image(plain).pixels, want));
  EXPECT_TRUE(same_pixels(decode_image(rle).pixels, want));
  cv::Mat opencv;
  cv::cvtColor(cv::imdecode(plain, cv::IMREAD_COLOR), opencv, cv::COLOR_BGR2RGB);
  EXPECT_TRUE(same_pixels(opencv, want));
  // A 4-bit file with a 2-entry palette, indices up to 15.
  EXPECT_TRUE(
      same_pixels(decode_image(bmp_file(3, 1, 4, 0, kTwoColours, {0x1F, 0xF0, 0, 0}, 2)).pixels, want));
}

TEST(DecodeErrors, BadBmpBitMasksAreUndecodable) {
  const Bytes pixels = {0xFF, 0xFF, 0, 0};  // one 16-bit pixel, padded
  const std::vector<std::pair<std::string, std::array<uint32_t, 3>>> masks16 = {
      {"all zero", {0, 0, 0}},
      {"green zero", {0xF800, 0, 0x1F}},
      {"not contiguous", {0xF00F, 0x07E0, 0x001F}},
      {"wider than 16 bits", {0x1F800, 0x07E0, 0x001F}},
  };
  for (const auto& [name, masks] : masks16) {
    Bytes extra;
    for (const uint32_t m : masks) put_u32_le(extra, m);
    EXPECT_EQ(decode_error(bmp_file(1, 1, 16, 3, extra, pixels)), ErrorCode::kUndecodable) << name;
  }
  // Zero masks inside a V4 header, 32-bit; a non-contiguous alpha mask.
  EXPECT_EQ(decode_error(bmp_file(1, 1, 32, 3, {}, {1, 2, 3, 4}, 0, 108, {0, 0, 0, 0})),
            ErrorCode::kUndecodable);
  EXPECT_EQ(
      decode_error(bmp_file(1, 1, 32, 3, {}, {1, 2, 3, 4}, 0, 108, {0xFF0000, 0xFF00, 0xFF, 0x0F000001})),
      ErrorCode::kUndecodable);
  EXPECT_NO_THROW(decode_image(bmp_file(1, 1, 32, 3, {}, {1, 2, 3, 4}, 0, 108, {0xFF0000, 0xFF00, 0xFF, 0})));
  // Masks cut off by the end of the file.
  Bytes cut = bmp_file(1, 1, 16, 3, {}, {});
  put_u32_le(cut, 0xF800);
  EXPECT_EQ(decode_error(cut), ErrorCode::kUndecodable);
}

// Our BMP decoder on damaged input: every prefix of each variant, then 2000 random mutations,
// must end in an image of the header's size or a cutout::Error (and never read out of bounds:
// the fixtures are small enough to run under ASan).
TEST(DecodeErrors, DamagedBmpsOfEveryVariantNeverCrash) {
  const cv::Mat rgb = make_test_rgb(9, 5);
  cv::Mat grey;
  cv::cvtColor(rgb, grey, cv::COLOR_RGB2GRAY);
  Bytes palette16;
  for (int i = 0; i < 16; ++i) palette16.insert(palette16.end(), {uint8_t(i * 16), uint8_t(i * 5), 7, 0});
  Bytes masks565;
  for (const uint32_t m : {0xF800u, 0x07E0u, 0x001Fu}) put_u32_le(masks565, m);
  Bytes pixels16(20 * 5, 0x5A);  // 18-byte rows padded to 20
  Bytes core = {'B', 'M', 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0, 0, 12, 0, 0, 0, 3, 0, 2, 0, 1, 0, 1, 0};
  core.insert(core.end(), {0, 0, 0, 255, 255, 255, 0x40, 0, 0, 0, 0x80, 0, 0, 0});
  const std::vector<std::pair<std::string, Bytes>> samples = {
      {"24-bit", encode(".bmp", rgb)},
      {"8-bit grey", encode(".bmp", grey)},
      {"32-bit", encode(".bmp", make_test_rgba(9, 5))},
      {"rle8", rle8_file(4, 2, {2, 1, 0, 0, 1, 1, 0, 3, 1, 0, 1, 0, 0, 2, 0, 0, 0, 1})},
      {"rle4", bmp_file(9, 3, 4, 2, palette16, {5, 0x12, 0, 4, 0x34, 0x56, 0, 0, 0, 2, 2, 1, 3, 0x9A, 0, 1})},
      {"16-bit 565", bmp_file(9, 5, 16, 3, masks565, pixels16)},
      {"16-bit v5 argb",
       bmp_file(3, 2, 16, 3, {}, Bytes(16, 0x93), 0, 124, {0x0F00, 0x00F0, 0x000F, 0xF000})},
      {"4-bit", bmp_file(9, 5, 4, 0, palette16, Bytes(8 * 5, 0x3C))},
      {"1-bit os/2", core},
  };
  constexpr uint64_t kMaxPixels = 1 << 16;  // mutated sizes must not make the loop slow
  auto check = [&](const std::string& name, const Bytes& bytes) {
    try {
      const detail::RawImage raw = detail::decode_bmp(bytes, kMaxPixels);
      const detail::BmpHeader header = detail::parse_bmp_header(bytes);
      EXPECT_TRUE(raw.pixels.type() == CV_8UC3 || raw.pixels.type() == CV_8UC4) << name;
      EXPECT_EQ(raw.pixels.size(), cv::Size(header.width, header.height)) << name;
    } catch (const Error&) {
    } catch (const std::exception& e) {
      ADD_FAILURE() << name << ": " << e.what();
    }
  };
  for (const auto& [name, bytes] : samples) {
    ASSERT_NO_THROW(detail::decode_bmp(bytes, kMaxPixels)) << name;
    for (size_t size = 0; size <= bytes.size(); ++size) {
      check(name + " cut at " + std::to_string(size),
            Bytes(bytes.begin(), bytes.begin() + std::ptrdiff_t(size)));
    }
  }
  std::mt19937 rng(2024);
  for (int trial = 0; trial < 2000; ++trial) {
    const auto& [name, bytes] = samples[size_t(trial) % samples.size()];
    Bytes mutated = bytes;
    for (unsigned k = 0, flips = 1 + rng() % 4; k < flips; ++k) {
      // Mostly the headers, palette and masks, where one byte changes the meaning of the rest.
      const size_t at = rng() % 2 ? rng() % std::min<size_t>(mutated.size(), 70) : rng() % mutated.size();
      mutated[at] = static_cast<uint8_t>(rng());
    }
    check(name + " mutation " + std::to_string(trial), mutated);
  }
}

// Found by fuzz/decode_png_fuzz.cpp: libpng takes a chunk longer than its 8 MB chunk limit for a
// benign error and then allocates the declared length (here 1.3 GB, for a file of a few hundred
// bytes). The decoder refuses the chunk on its length, with libpng's text, before the allocation;
// it used to fail only later, when the file ran out ("truncated file").
TEST(DecodeErrors, PngChunkOverLibpngsLimitIsRefusedBeforeItIsAllocated) {
  const Bytes png = encode(".png", make_test_rgb(6, 4));
  Bytes chunk;
  put_u32_be(chunk, 0x50000000);  // the length claimed; only two bytes follow
  put_text(chunk, "eXIf");
  put_text(chunk, "MM");
  Bytes bomb(png.begin(), png.begin() + 33);  // signature and IHDR
  bomb.insert(bomb.end(), chunk.begin(), chunk.end());
  bomb.insert(bomb.end(), png.begin() + 33, png.end());
  try {
    decode_image(bomb);
    ADD_FAILURE() << "decoded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUndecodable);
    EXPECT_NE(std::string(e.what()).find("chunk data is too large"), std::string::npos) << e.what();
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
