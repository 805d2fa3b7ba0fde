// Writing images: PNG (own encoder, deflate split across threads), WebP and JPEG.
//
// All functions are thread-safe and may run concurrently on different images; they only read their
// inputs. Inputs are 8-bit cv::Mat (any row stride, ROIs fine): 1 channel (grey), 2 (grey + alpha),
// 3 (RGB) or 4 (RGBA); channel order is always RGB(A), never OpenCV's BGR. Invalid inputs or options
// throw Error(kInvalidArgument); a codec failure throws Error(kInternal).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <opencv2/core.hpp>

namespace cutout {

enum class OutputFormat { kPng, kWebp, kJpeg };

std::string_view output_format_name(OutputFormat format);  // "png", "webp", "jpeg"
std::string_view output_mime_type(OutputFormat format);    // "image/png", ...
std::string_view output_extension(OutputFormat format);    // "png", "webp", "jpg"
// Parses "png", "webp", "jpeg"/"jpg" (any case); throws Error(kInvalidArgument) listing
// the allowed values.
OutputFormat parse_output_format(std::string_view name);

// PNG row filter (PNG spec §9). kAdaptive picks per row the filter whose output has the smallest
// sum of absolute values (libpng's heuristic): best size, about twice the filtering time.
enum class PngFilter { kNone, kSub, kUp, kAverage, kPaeth, kAdaptive };

// zlib strategy. kRle only finds runs (distance 1): faster than kDefault and, after Paeth
// filtering, even smaller on photos and cut-outs at level 1; at any level > 0 it is coded by our
// own deflate_runs() (core/deflate_runs.h), not zlib; kDefault searches matches (slow at high
// levels); kFiltered only differs from kDefault at levels >= 4; kHuffmanOnly does no matching.
enum class PngStrategy { kDefault, kRle, kFiltered, kHuffmanOnly };

// An ancillary chunk to add, e.g. {"pHYs", ...} or {"tEXt", ...}. It is written right after IHDR,
// so it may be any ancillary chunk allowed before PLTE; "tRNS", "bKGD" and "hIST" (which must follow
// PLTE) and critical chunks are rejected.
struct PngChunk {
  std::string type;           // 4 ASCII letters, first one lower case
  std::vector<uint8_t> data;  // payload without length, type or CRC
};

// Defaults chosen by measurement on a 12 MP RGBA cut-out, a 1 MP one and a 12 MP matte
// (bench/codec_bench.cpp): Paeth + Z_RLE gives the smallest files of the fast settings (Paeth
// beats Sub/Up by 10-25 %; kAdaptive gains < 1 % for 15-40 % more time; Z_RLE after Paeth is both
// smaller and faster than level 1 kDefault). With Z_RLE the level only matters as 0 vs. 1-9.
// 12 MP cut-out: 0.74x the size of cv::imencode's PNG, ~1.3x faster on 1 thread, ~2.7x on 2.
struct PngOptions {
  int compression_level = 1;             // zlib level 0-9 (0: stored, no compression)
  PngFilter filter = PngFilter::kPaeth;  // ignored for palette images (always kNone)
  PngStrategy strategy = PngStrategy::kRle;
  // Worker threads; 0: cv::getNumThreads(). The rows are cut in stripes whose layout depends only on
  // the image size, so the output bytes are identical for any thread count.
  int threads = 0;
  std::vector<PngChunk> extra_chunks;  // written right after IHDR
};

// 8-bit PNG of colour type 0 (1 channel), 4 (2), 2 (3) or 6 (4).
std::vector<uint8_t> encode_png(const cv::Mat& image, const PngOptions& options = {});

// Palette PNG (colour type 3) with PLTE and, when any entry is not opaque, tRNS.
// indices: CV_8UC1, each value < palette_rgba.size(); palette_rgba: 1 to 2^bit_depth entries
// (at most 256) of {R, G, B, A}; bit_depth: 1, 2, 4 or 8 (pixels packed most significant bits first).
std::vector<uint8_t> encode_png_indexed(const cv::Mat& indices,
                                        std::span<const std::array<uint8_t, 4>> palette_rgba, int bit_depth,
                                        const PngOptions& options = {});

// Lossy (or lossless) WebP through libwebp's advanced API. With alpha, the alpha plane is always
// compressed losslessly (fast alpha filtering); the colour of fully transparent pixels may be
// changed (exact = 0) since it is invisible and costs bits. WebP limits each side to 16383 pixels.
// Grey (+ alpha) input is expanded to RGB(A) first.
// Defaults by measurement at 12 MP: method 0 is the fastest (method 2 gives 40 % smaller files for
// ~1.4x the time); quality 90 keeps the visible pixels at ~44 dB PSNR. Most of the time of an RGBA
// encode is the lossless alpha plane, whose effort libwebp also ties to `method`.
struct WebpOptions {
  float quality = 90.0f;  // 0-100: lossy quality of the colour (lossless: effort of the search)
  int method = 0;         // libwebp effort 0 (fast) - 6 (small)
  bool lossless = false;
  bool use_threads = true;  // config.thread_level: alpha and colour planes encoded concurrently
};

// Baseline JPEG through libjpeg-turbo; 3-channel RGB or 1-channel grey input only (alpha must be
// composited by the caller first, 4 channels throw kInvalidArgument).
struct JpegOptions {
  int quality = 90;  // 1-100
  // 4:2:0 halves the colour resolution: ~25 % smaller and ~10 % faster, but colour bleeds across
  // sharp edges such as a subject's outline on a flat background (27 dB instead of 38 dB PSNR on
  // make_test_rgb's stripes at quality 90). Default 4:4:4.
  bool subsample_chroma = false;
};

std::vector<uint8_t> encode_webp(const cv::Mat& image, const WebpOptions& options = {});
std::vector<uint8_t> encode_jpeg(const cv::Mat& image, const JpegOptions& options = {});

}  // namespace cutout
