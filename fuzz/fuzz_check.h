// What the fuzz targets share: a check that aborts (libFuzzer then keeps the input as a crash),
// the pixel limit of the image targets, and the invariants every decoded picture must meet.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include <opencv2/core.hpp>

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

}  // namespace cutout::fuzz
