// Tests of image_encode.h: our PNG writer (decoded by OpenCV and by libpng, structure checked
// chunk by chunk and the zlib stream inflated strictly), palette PNGs, JPEG, WebP, format names.
#include "core/image_encode.h"

#include <cmath>
#include <cstring>
#include <string>

#include <gtest/gtest.h>
#include <png.h>
#include <zlib.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "test_support.h"

namespace cutout {
namespace {

using cutout::testing::make_test_rgb;

// ---- Helpers

// A deterministic 8-bit picture with `channels` channels: gradients and shapes, optionally a band
// of noise (so every filter sees hard data) and, with alpha, transparent areas whose colour is
// zeroed like a real cut-out, plus a soft edge.
cv::Mat make_image(int width, int height, int channels, bool noisy = true) {
  cv::Mat rgb = make_test_rgb(width, height);
  if (noisy) {
    cv::Mat noise(height, width, CV_8UC3);
    cv::RNG rng(1234);
    rng.fill(noise, cv::RNG::UNIFORM, 0, 256);
    const int top = height / 4, band = std::max(1, height / 5);
    noise.rowRange(0, band).copyTo(rgb.rowRange(top, top + band));
  }
  if (channels == 3) return rgb;
  cv::Mat grey;
  cv::cvtColor(rgb, grey, cv::COLOR_RGB2GRAY);
  if (channels == 1) return grey;
  cv::Mat alpha(height, width, CV_8UC1);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      const int d = std::abs(x - width / 2) + std::abs(y - height / 2);
      alpha.at<uint8_t>(y, x) = static_cast<uint8_t>(std::clamp(255 - 4 * (d - width / 3), 0, 255));
    }
  }
  cv::Mat colour = channels == 2 ? grey : rgb;
  colour.setTo(cv::Scalar::all(0), alpha == 0);
  std::vector<cv::Mat> planes;
  cv::split(colour, planes);
  planes.push_back(alpha);
  cv::Mat out;
  cv::merge(planes, out);
  return out;
}

// A cut-out like the pipeline's: an eval photo (RGBA) with an elliptic matte, soft edge, and the
// colour of fully transparent pixels zeroed.
cv::Mat make_cutout(int width, int height) {
  cv::Mat bgr = cv::imread((cutout::testing::eval_dir() / "grabcut/images/person1.jpg").string());
  if (bgr.empty()) {
    ADD_FAILURE() << "missing eval photo person1.jpg";
    return {};
  }
  cv::resize(bgr, bgr, {width, height}, 0, 0, cv::INTER_CUBIC);
  cv::Mat alpha(bgr.size(), CV_8UC1, cv::Scalar(0));
  cv::ellipse(alpha, {width / 2, height / 2}, {width / 3, height / 3}, 0, 0, 360, cv::Scalar(255),
              cv::FILLED);
  cv::GaussianBlur(alpha, alpha, {21, 21}, 0);
  cv::Mat rgba;
  cv::cvtColor(bgr, rgba, cv::COLOR_BGR2RGBA);
  rgba.setTo(cv::Scalar::all(0), alpha == 0);
  cv::insertChannel(alpha, rgba, 3);
  return rgba;
}

std::string describe(const cv::Mat& m) {
  return std::to_string(m.cols) + "x" + std::to_string(m.rows) + "x" + std::to_string(m.channels());
}

bool same_pixels(const cv::Mat& a, const cv::Mat& b) {
  if (a.size() != b.size() || a.type() != b.type()) return false;
  for (int y = 0; y < a.rows; ++y) {
    if (std::memcmp(a.ptr(y), b.ptr(y), a.cols * a.elemSize()) != 0) return false;
  }
  return true;
}

// OpenCV decodes to BGR(A), and grey + alpha to BGRA: back to our channel layout.
cv::Mat decode_opencv(const std::vector<uint8_t>& bytes, int channels) {
  cv::Mat decoded = cv::imdecode(bytes, cv::IMREAD_UNCHANGED);
  if (decoded.empty()) return decoded;
  cv::Mat out;
  if (channels == 2 && decoded.channels() == 4) {
    out.create(decoded.size(), CV_8UC2);
    const int from_to[] = {0, 0, 3, 1};
    cv::mixChannels(&decoded, 1, &out, 1, from_to, 2);
  } else if (decoded.channels() == 3) {
    cv::cvtColor(decoded, out, cv::COLOR_BGR2RGB);
  } else if (decoded.channels() == 4) {
    cv::cvtColor(decoded, out, cv::COLOR_BGRA2RGBA);
  } else {
    out = decoded;
  }
  return out;
}

// libpng's simplified API: a strict reference decoder (CRCs, adler32, data length).
cv::Mat decode_libpng(const std::vector<uint8_t>& bytes, int channels) {
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&image, bytes.data(), bytes.size())) {
    ADD_FAILURE() << "libpng: " << image.message;
    return {};
  }
  static constexpr png_uint_32 kFormats[5] = {0, PNG_FORMAT_GRAY, PNG_FORMAT_GA, PNG_FORMAT_RGB,
                                              PNG_FORMAT_RGBA};
  image.format = kFormats[channels];
  cv::Mat out(static_cast<int>(image.height), static_cast<int>(image.width), CV_8UC(channels));
  if (!png_image_finish_read(&image, nullptr, out.data, static_cast<png_int_32>(out.step[0]), nullptr)) {
    ADD_FAILURE() << "libpng: " << image.message;
    png_image_free(&image);
    return {};
  }
  if (image.warning_or_error != 0) ADD_FAILURE() << "libpng warning: " << image.message;
  return out;
}

uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

struct Chunk {
  std::string type;
  std::vector<uint8_t> data;
};

// Splits a PNG into chunks, checking the signature, each length and each CRC.
std::vector<Chunk> parse_chunks(const std::vector<uint8_t>& png) {
  static constexpr uint8_t kSignature[8] = {137, 80, 78, 71, 13, 10, 26, 10};
  std::vector<Chunk> chunks;
  if (png.size() < 8 || std::memcmp(png.data(), kSignature, 8) != 0) {
    ADD_FAILURE() << "bad signature";
    return chunks;
  }
  size_t at = 8;
  while (at < png.size()) {
    if (png.size() - at < 12) {
      ADD_FAILURE() << "truncated chunk at " << at;
      break;
    }
    const uint32_t length = be32(&png[at]);
    if (length > 0x7fffffffu || png.size() - at - 12 < length) {
      ADD_FAILURE() << "chunk length out of range at " << at;
      break;
    }
    Chunk c;
    c.type.assign(reinterpret_cast<const char*>(&png[at + 4]), 4);
    c.data.assign(png.begin() + static_cast<long>(at + 8), png.begin() + static_cast<long>(at + 8 + length));
    const uLong crc = crc32(crc32(0, nullptr, 0), &png[at + 4], 4 + length);
    EXPECT_EQ(be32(&png[at + 8 + length]), static_cast<uint32_t>(crc)) << "CRC of " << c.type;
    chunks.push_back(std::move(c));
    at += 12 + length;
  }
  return chunks;
}

// Checks the chunk order and inflates the IDAT stream strictly (zlib verifies the header and the
// adler32); returns the filtered bytes.
std::vector<uint8_t> check_structure(const std::vector<uint8_t>& png) {
  const std::vector<Chunk> chunks = parse_chunks(png);
  if (chunks.empty()) return {};
  EXPECT_EQ(chunks.front().type, "IHDR");
  EXPECT_EQ(chunks.front().data.size(), 13u);
  EXPECT_EQ(chunks.back().type, "IEND");
  EXPECT_TRUE(chunks.back().data.empty());
  std::vector<uint8_t> stream;
  int idat_runs = 0;
  for (size_t i = 0; i < chunks.size(); ++i) {
    if (chunks[i].type != "IDAT") continue;
    if (i == 0 || chunks[i - 1].type != "IDAT") ++idat_runs;
    stream.insert(stream.end(), chunks[i].data.begin(), chunks[i].data.end());
  }
  EXPECT_EQ(idat_runs, 1) << "IDAT chunks must be consecutive";
  if (stream.size() < 2) {
    ADD_FAILURE() << "no zlib stream";
    return {};
  }
  EXPECT_EQ(stream[0] & 0x0f, 8) << "zlib method must be deflate";
  EXPECT_EQ((stream[0] * 256 + stream[1]) % 31, 0) << "zlib FCHECK";

  const uint8_t* ihdr = chunks.front().data.data();
  const size_t width = be32(ihdr), height = be32(ihdr + 4);
  static constexpr int kSamples[7] = {1, 0, 3, 1, 2, 0, 4};  // by colour type
  const size_t bits_per_pixel = size_t{ihdr[8]} * static_cast<size_t>(kSamples[ihdr[9]]);
  const size_t expected = height * (1 + (width * bits_per_pixel + 7) / 8);

  std::vector<uint8_t> raw(expected + 1);  // one spare byte detects excess data
  z_stream zs{};
  EXPECT_EQ(inflateInit(&zs), Z_OK);
  zs.next_in = stream.data();
  zs.avail_in = static_cast<uInt>(stream.size());
  zs.next_out = raw.data();
  zs.avail_out = static_cast<uInt>(raw.size());
  const int rc = inflate(&zs, Z_FINISH);
  EXPECT_EQ(rc, Z_STREAM_END) << (zs.msg ? zs.msg : "");
  EXPECT_EQ(zs.avail_in, 0u) << "bytes after the end of the zlib stream";
  EXPECT_EQ(zs.total_out, expected);
  inflateEnd(&zs);
  raw.resize(zs.total_out);
  for (size_t row = 0; row < height && raw.size() == expected; ++row) {
    const uint8_t filter = raw[row * (expected / height)];
    if (filter > 4) {
      ADD_FAILURE() << "filter type " << int{filter} << " in row " << row;
      break;
    }
  }
  return raw;
}

// Encodes with 1, 2 and 8 threads, expects identical bytes, checks structure and both decoders.
void expect_round_trip(const cv::Mat& image, PngOptions options = {}) {
  SCOPED_TRACE(describe(image));
  options.threads = 1;
  const std::vector<uint8_t> png = encode_png(image, options);
  for (int threads : {2, 8}) {
    options.threads = threads;
    EXPECT_EQ(encode_png(image, options), png) << "output differs with " << threads << " threads";
  }
  check_structure(png);
  EXPECT_TRUE(same_pixels(decode_opencv(png, image.channels()), image)) << "OpenCV decode";
  EXPECT_TRUE(same_pixels(decode_libpng(png, image.channels()), image)) << "libpng decode";
}

// ---- PNG

TEST(EncodePng, RoundTripsAllChannelCountsAndShapes) {
  const cv::Size sizes[] = {{1, 1}, {1, 37}, {37, 1}, {5000, 1}, {1, 300}, {333, 517}};
  for (int channels = 1; channels <= 4; ++channels) {
    for (const cv::Size size : sizes) expect_round_trip(make_image(size.width, size.height, channels));
  }
}

TEST(EncodePng, RoundTripsManyStripesWithPartialLastStripe) {
  // 4 channels x 1000 columns: 263 rows per ~1 MiB stripe, so 4 stripes, the last one partial.
  expect_round_trip(make_image(1000, 1000, 4));
  expect_round_trip(make_image(2999, 501, 1));
}

TEST(EncodePng, EveryFilterStrategyAndLevelRoundTrips) {
  const cv::Mat image = make_image(500, 800, 3);  // 2 stripes of ~1 MiB, the second partial
  for (PngFilter filter : {PngFilter::kNone, PngFilter::kSub, PngFilter::kUp, PngFilter::kAverage,
                           PngFilter::kPaeth, PngFilter::kAdaptive}) {
    for (PngStrategy strategy :
         {PngStrategy::kDefault, PngStrategy::kRle, PngStrategy::kFiltered, PngStrategy::kHuffmanOnly}) {
      SCOPED_TRACE("filter " + std::to_string(static_cast<int>(filter)) + " strategy " +
                   std::to_string(static_cast<int>(strategy)));
      PngOptions options;
      options.filter = filter;
      options.strategy = strategy;
      expect_round_trip(image, options);
    }
  }
  for (int level : {0, 1, 4, 6, 9}) {  // stored, fast, lazy, default, best
    SCOPED_TRACE("level " + std::to_string(level));
    PngOptions options;
    options.compression_level = level;
    options.strategy = PngStrategy::kDefault;
    expect_round_trip(image, options);
  }
}

TEST(EncodePng, SmallerThanOpenCvOnACutOut) {
  // The defaults must not trade size away for speed: OpenCV's writer (libpng, Sub filter, Z_RLE,
  // level 1) is the reference.
  const cv::Mat rgba = make_cutout(1200, 900);
  ASSERT_FALSE(rgba.empty());
  std::vector<uint8_t> reference;
  ASSERT_TRUE(cv::imencode(".png", rgba, reference));
  const std::vector<uint8_t> ours = encode_png(rgba);
  EXPECT_LT(ours.size(), reference.size());
  EXPECT_TRUE(same_pixels(decode_libpng(ours, 4), rgba));
}

TEST(EncodePng, AcceptsNonContinuousRows) {
  const cv::Mat big = make_image(400, 300, 4);
  const cv::Mat roi = big(cv::Rect(13, 7, 251, 199));
  ASSERT_FALSE(roi.isContinuous());
  expect_round_trip(roi);
}

TEST(EncodePng, HeaderAndExtraChunks) {
  PngOptions options;
  const std::string text = "Software";
  PngChunk chunk{"tEXt", std::vector<uint8_t>(text.begin(), text.end())};
  chunk.data.push_back(0);
  chunk.data.insert(chunk.data.end(), {'c', 'u', 't', 'o', 'u', 't'});
  options.extra_chunks.push_back(chunk);
  const cv::Mat image = make_image(1000, 600, 2);
  const std::vector<uint8_t> png = encode_png(image, options);
  const std::vector<Chunk> chunks = parse_chunks(png);
  ASSERT_GE(chunks.size(), 4u);
  const uint8_t* ihdr = chunks[0].data.data();
  EXPECT_EQ(be32(ihdr), 1000u);
  EXPECT_EQ(be32(ihdr + 4), 600u);
  EXPECT_EQ(ihdr[8], 8);  // bit depth
  EXPECT_EQ(ihdr[9], 4);  // grey + alpha
  EXPECT_EQ(ihdr[10] + ihdr[11] + ihdr[12], 0);
  EXPECT_EQ(chunks[1].type, "tEXt");
  EXPECT_EQ(chunks[1].data, chunk.data);
  EXPECT_TRUE(same_pixels(decode_libpng(png, 2), image));

  const std::pair<int, int> colour_types[] = {{1, 0}, {2, 4}, {3, 2}, {4, 6}};
  for (auto [channels, colour_type] : colour_types) {
    const auto c = parse_chunks(encode_png(make_image(3, 2, channels)));
    ASSERT_FALSE(c.empty());
    EXPECT_EQ(c[0].data[9], colour_type) << channels << " channels";
  }
}

TEST(EncodePng, RejectsBadInputAndOptions) {
  auto expect_invalid = [](const cv::Mat& image, const PngOptions& options) {
    try {
      encode_png(image, options);
      ADD_FAILURE() << "no error for " << describe(image);
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << e.what();
    }
  };
  const cv::Mat ok = make_image(8, 8, 3);
  expect_invalid(cv::Mat(), {});
  expect_invalid(cv::Mat(4, 4, CV_16UC3, cv::Scalar::all(0)), {});
  expect_invalid(cv::Mat(4, 4, CV_8UC(5), cv::Scalar::all(0)), {});
  PngOptions bad;
  bad.compression_level = 10;
  expect_invalid(ok, bad);
  bad = {};
  bad.compression_level = -1;
  expect_invalid(ok, bad);
  bad = {};
  bad.threads = -1;
  expect_invalid(ok, bad);
  for (const char* type : {"IDAT", "PLTE", "tRNS", "bKGD", "abc", "ab1d", "tEXtt"}) {
    bad = {};
    bad.extra_chunks.push_back({type, {}});
    expect_invalid(ok, bad);
  }
}

// ---- Palette PNG

using Palette = std::vector<std::array<uint8_t, 4>>;

Palette make_palette(size_t entries, bool opaque) {
  Palette palette(entries);
  for (size_t i = 0; i < entries; ++i) {
    palette[i] = {static_cast<uint8_t>(i * 37), static_cast<uint8_t>(255 - i * 11),
                  static_cast<uint8_t>(i * 5 + 3), static_cast<uint8_t>(opaque ? 255 : i * 61 % 256)};
  }
  if (!opaque) palette[entries - 1][3] = 255;  // the tRNS chunk can stop before the last entry
  return palette;
}

cv::Mat make_indices(int width, int height, size_t entries) {
  cv::Mat indices(height, width, CV_8UC1);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      indices.at<uint8_t>(y, x) = static_cast<uint8_t>((x * 7 + y * 13 + (x * y) % 5) % entries);
    }
  }
  return indices;
}

cv::Mat expand_palette(const cv::Mat& indices, const Palette& palette) {
  cv::Mat rgba(indices.size(), CV_8UC4);
  for (int y = 0; y < indices.rows; ++y) {
    for (int x = 0; x < indices.cols; ++x) {
      const auto& e = palette[indices.at<uint8_t>(y, x)];
      rgba.at<cv::Vec4b>(y, x) = cv::Vec4b(e[0], e[1], e[2], e[3]);
    }
  }
  return rgba;
}

// 4001 x 300 at 8 bits is two stripes; widths not multiple of 8 leave partly filled last bytes.
TEST(EncodePngIndexed, RoundTripsEveryBitDepthWithTransparency) {
  for (int bit_depth : {1, 2, 4, 8}) {
    SCOPED_TRACE("bit depth " + std::to_string(bit_depth));
    const size_t entries = bit_depth == 8 ? 200 : size_t{1} << bit_depth;
    const Palette palette = make_palette(entries, false);
    for (cv::Size size : {cv::Size(1, 1), cv::Size(13, 9), cv::Size(8, 3), cv::Size(4001, 300)}) {
      const cv::Mat indices = make_indices(size.width, size.height, entries);
      PngOptions options;
      options.threads = 1;
      const std::vector<uint8_t> png = encode_png_indexed(indices, palette, bit_depth, options);
      options.threads = 4;
      EXPECT_EQ(encode_png_indexed(indices, palette, bit_depth, options), png);
      check_structure(png);
      const auto chunks = parse_chunks(png);
      ASSERT_GE(chunks.size(), 5u);
      EXPECT_EQ(chunks[0].data[8], bit_depth);
      EXPECT_EQ(chunks[0].data[9], 3);
      EXPECT_EQ(chunks[1].type, "PLTE");
      EXPECT_EQ(chunks[1].data.size(), 3 * entries);
      EXPECT_EQ(chunks[2].type, "tRNS");
      EXPECT_EQ(chunks[2].data.size(), entries - 1);
      const cv::Mat expected = expand_palette(indices, palette);
      EXPECT_TRUE(same_pixels(decode_libpng(png, 4), expected)) << size;
      EXPECT_TRUE(same_pixels(decode_opencv(png, 4), expected)) << size;
    }
  }
}

TEST(EncodePngIndexed, OpaquePaletteHasNoTrns) {
  const Palette palette = make_palette(3, true);
  const cv::Mat indices = make_indices(10, 10, 3);
  const std::vector<uint8_t> png = encode_png_indexed(indices, palette, 2);
  for (const auto& c : parse_chunks(png)) EXPECT_NE(c.type, "tRNS");
  cv::Mat rgb;
  cv::cvtColor(expand_palette(indices, palette), rgb, cv::COLOR_RGBA2RGB);
  EXPECT_TRUE(same_pixels(decode_libpng(png, 3), rgb));
}

TEST(EncodePngIndexed, RejectsBadInput) {
  auto expect_invalid = [](const cv::Mat& indices, const Palette& palette, int bit_depth) {
    try {
      encode_png_indexed(indices, palette, bit_depth);
      ADD_FAILURE() << "no error at bit depth " << bit_depth;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << e.what();
    }
  };
  const cv::Mat indices = make_indices(5, 5, 4);      // values 0-3
  expect_invalid(indices, make_palette(3, true), 2);  // index 3 outside a 3-entry palette
  expect_invalid(indices, make_palette(4, true), 1);  // 4 entries do not fit 1 bit
  expect_invalid(indices, make_palette(4, true), 3);  // no such bit depth
  expect_invalid(indices, {}, 8);                     // empty palette
  expect_invalid(cv::Mat(5, 5, CV_8UC3, cv::Scalar::all(0)), make_palette(4, true), 8);
  expect_invalid(cv::Mat(), make_palette(4, true), 8);
}

// ---- JPEG

// PSNR over the pixels where mask != 0 (all pixels with an empty mask), all channels averaged.
double psnr_where(const cv::Mat& a, const cv::Mat& b, const cv::Mat& mask) {
  cv::Mat a64, b64;
  a.convertTo(a64, CV_64F);
  b.convertTo(b64, CV_64F);
  cv::Mat d = a64 - b64;
  d = d.mul(d);
  const cv::Scalar per_channel = mask.empty() ? cv::mean(d) : cv::mean(d, mask);
  double mse = 0;
  for (int c = 0; c < a.channels(); ++c) mse += per_channel[c] / a.channels();
  return mse == 0 ? 99.0 : 10.0 * std::log10(255.0 * 255.0 / mse);
}

TEST(EncodeJpeg, DecodesWithGoodQuality) {
  const cv::Mat rgb = make_test_rgb(640, 480);
  const std::vector<uint8_t> jpeg = encode_jpeg(rgb, {.quality = 90});
  ASSERT_GE(jpeg.size(), 4u);
  EXPECT_EQ(jpeg[0], 0xFF);
  EXPECT_EQ(jpeg[1], 0xD8);
  const cv::Mat decoded = decode_opencv(jpeg, 3);
  ASSERT_EQ(decoded.size(), rgb.size());
  ASSERT_EQ(decoded.channels(), 3);
  EXPECT_GT(psnr_where(decoded, rgb, {}), 35.0);
  // Channel order: the red circle must stay red.
  const cv::Vec3b centre = decoded.at<cv::Vec3b>(240, 320);
  EXPECT_GT(centre[0], 200);
  EXPECT_LT(centre[2], 90);
}

TEST(EncodeJpeg, GreyAndNonContinuousInput) {
  const cv::Mat grey = make_image(300, 200, 1, /*noisy=*/false);
  const cv::Mat decoded = cv::imdecode(encode_jpeg(grey), cv::IMREAD_UNCHANGED);
  ASSERT_EQ(decoded.type(), CV_8UC1);
  EXPECT_GT(psnr_where(decoded, grey, {}), 30.0);
  const cv::Mat big = make_test_rgb(400, 300);
  const cv::Mat roi = big(cv::Rect(10, 20, 200, 100));
  EXPECT_GT(psnr_where(decode_opencv(encode_jpeg(roi), 3), roi, {}), 30.0);
}

TEST(EncodeJpeg, RejectsAlphaAndBadQuality) {
  for (const cv::Mat& image : {make_image(16, 16, 4), make_image(16, 16, 2), cv::Mat()}) {
    try {
      encode_jpeg(image);
      ADD_FAILURE() << "no error for " << describe(image);
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    }
  }
  for (int quality : {0, 101}) {
    EXPECT_THROW(encode_jpeg(make_test_rgb(8, 8), {.quality = quality}), Error);
  }
}

// ---- WebP

// WebP lossy is always 4:2:0, so quality is judged on a photo: make_test_rgb's sharp blue stripes
// would measure the chroma subsampling, not the encoder settings.
TEST(EncodeWebp, KeepsAlphaLosslessly) {
  const cv::Mat rgba = make_cutout(600, 450);
  ASSERT_FALSE(rgba.empty());
  const std::vector<uint8_t> webp = encode_webp(rgba);
  ASSERT_GE(webp.size(), 12u);
  EXPECT_EQ(std::string(webp.begin(), webp.begin() + 4), "RIFF");
  EXPECT_EQ(std::string(webp.begin() + 8, webp.begin() + 12), "WEBP");
  const cv::Mat decoded = decode_opencv(webp, 4);
  ASSERT_EQ(decoded.size(), rgba.size());
  ASSERT_EQ(decoded.channels(), 4);
  cv::Mat alpha_in, alpha_out;
  cv::extractChannel(rgba, alpha_in, 3);
  cv::extractChannel(decoded, alpha_out, 3);
  EXPECT_TRUE(same_pixels(alpha_in, alpha_out));
  cv::Mat rgb_in, rgb_out;
  cv::cvtColor(rgba, rgb_in, cv::COLOR_RGBA2RGB);
  cv::cvtColor(decoded, rgb_out, cv::COLOR_RGBA2RGB);
  EXPECT_GT(psnr_where(rgb_out, rgb_in, alpha_in > 0), 35.0);
}

TEST(EncodeWebp, RgbGreyAndLossless) {
  cv::Mat rgb;
  cv::cvtColor(make_cutout(600, 450), rgb, cv::COLOR_RGBA2RGB);
  const cv::Mat decoded = decode_opencv(encode_webp(rgb), 3);
  ASSERT_EQ(decoded.channels(), 3);
  EXPECT_GT(psnr_where(decoded, rgb, {}), 35.0);

  cv::Mat grey;
  cv::cvtColor(rgb, grey, cv::COLOR_RGB2GRAY);
  const cv::Mat grey_decoded = cv::imdecode(encode_webp(grey), cv::IMREAD_GRAYSCALE);
  EXPECT_GT(psnr_where(grey_decoded, grey, {}), 35.0);

  // Lossless: visible pixels exact (the colour under alpha 0 may change: exact = 0).
  const cv::Mat rgba = make_image(200, 150, 4);
  const cv::Mat lossless = decode_opencv(encode_webp(rgba, {.lossless = true}), 4);
  ASSERT_EQ(lossless.type(), CV_8UC4);
  cv::Mat alpha;
  cv::extractChannel(rgba, alpha, 3);
  cv::Mat diff;
  cv::absdiff(rgba, lossless, diff);
  std::vector<cv::Mat> planes;
  cv::split(diff, planes);
  for (const cv::Mat& p : planes) EXPECT_EQ(cv::countNonZero(p & (alpha > 0)), 0);
  EXPECT_EQ(cv::countNonZero(planes[3]), 0);
}

TEST(EncodeWebp, RejectsBadInput) {
  EXPECT_THROW(encode_webp(cv::Mat()), Error);
  EXPECT_THROW(encode_webp(cv::Mat(1, 16384, CV_8UC3, cv::Scalar::all(0))), Error);
  EXPECT_THROW(encode_webp(make_test_rgb(8, 8), {.quality = 101.0f}), Error);
  EXPECT_THROW(encode_webp(make_test_rgb(8, 8), {.method = 7}), Error);
}

// ---- Format names

TEST(OutputFormat, ParsesNamesAndListsAllowedValues) {
  EXPECT_EQ(parse_output_format("png"), OutputFormat::kPng);
  EXPECT_EQ(parse_output_format("webp"), OutputFormat::kWebp);
  EXPECT_EQ(parse_output_format("jpeg"), OutputFormat::kJpeg);
  EXPECT_EQ(parse_output_format("jpg"), OutputFormat::kJpeg);
  EXPECT_EQ(parse_output_format("JPG"), OutputFormat::kJpeg);
  for (const char* bad : {"gif", "", "pngx", " png"}) {
    try {
      parse_output_format(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find("(allowed: png, webp, jpeg)"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("'" + std::string(bad) + "'"), std::string::npos);
    }
  }
  for (OutputFormat f : {OutputFormat::kPng, OutputFormat::kWebp, OutputFormat::kJpeg}) {
    EXPECT_EQ(parse_output_format(output_format_name(f)), f);
    EXPECT_EQ(parse_output_format(output_extension(f)), f);
  }
  EXPECT_EQ(output_mime_type(OutputFormat::kPng), "image/png");
  EXPECT_EQ(output_mime_type(OutputFormat::kWebp), "image/webp");
  EXPECT_EQ(output_mime_type(OutputFormat::kJpeg), "image/jpeg");
  EXPECT_EQ(output_extension(OutputFormat::kJpeg), "jpg");
}

}  // namespace
}  // namespace cutout
