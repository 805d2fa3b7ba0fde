// What the fuzz targets share: a check that aborts (libFuzzer then keeps the input as a crash),
// the pixel limit of the image targets, and the invariants every decoded picture must meet.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>

#include <opencv2/core.hpp>

#include "core/decode_internal.h"
#include "core/error.h"
#include "core/image_io.h"

// A documented property that does not hold is a bug like a crash: report it and abort.
#define FUZZ_CHECK(condition)                                                                 \
  do {                                                                                        \
    if (!(condition)) {                                                                       \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                           \
    }                                                                                         \
  } while (0)

namespace cutout::fuzz {

// 2^16 pixels (256 x 256): large enough for every header trick, small enough that no input can
// make a decoder allocate more than a few MB for pixels (the server's default is 50 MP).
constexpr uint64_t kMaxPixels = uint64_t{1} << 16;

// image_io.h / decode_internal.h: continuous, owning, 8-bit RGB or RGBA, within the limit.
inline void check_pixels(const cv::Mat& pixels, uint64_t max_pixels) {
  FUZZ_CHECK(!pixels.empty());
  FUZZ_CHECK(pixels.isContinuous());
  FUZZ_CHECK(pixels.type() == CV_8UC3 || pixels.type() == CV_8UC4);
  FUZZ_CHECK(static_cast<uint64_t>(pixels.cols) * static_cast<uint64_t>(pixels.rows) <= max_pixels);
}

// One decoder on its own (detail::decode_<format>, what decode_image dispatches to), without
// probe_image in front, so that it must hold on its own: inputs of other formats are rejected (-1);
// an image must meet check_pixels and have an EXIF orientation 1..8, an error must be
// kUndecodable or kImageTooLarge. `decode(bytes)` returns the RawImage.
template <class Decode>
int decode_one(const uint8_t* data, size_t size, ImageFormat format, Decode decode) {
  const std::span<const uint8_t> bytes(data, size);
  if (sniff_format(bytes) != format) return -1;
  try {
    const detail::RawImage raw = decode(bytes);
    check_pixels(raw.pixels, kMaxPixels);
    FUZZ_CHECK(raw.orientation >= 1 && raw.orientation <= 8);
  } catch (const Error& e) {
    FUZZ_CHECK(e.code() == ErrorCode::kUndecodable || e.code() == ErrorCode::kImageTooLarge);
  }
  return 0;
}

}  // namespace cutout::fuzz
