// Internals of the image decoders (image_decode.cpp and decode_<format>.cpp); not a public API.
//
// Each decode_<format> function gets the whole file and the pixel limit. decode_image has already
// sniffed the format and checked the limit against probe_image's header dimensions; every decoder
// checks the limit again against the dimensions its own library parsed, before allocating pixels,
// so that the two header parsers disagreeing can never bypass the limit.
//
// All functions are thread-safe (no shared state apart from libtiff's global handlers, set once).
// They throw cutout::Error: kUndecodable for corrupt or truncated data, kImageTooLarge over the
// limit. The returned pixels are continuous, CV_8UC3 RGB or CV_8UC4 RGBA, NOT yet oriented.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include <opencv2/core.hpp>

#include "core/image_io.h"

namespace cutout::detail {

struct RawImage {
  cv::Mat pixels;
  int orientation = 1;  // EXIF / TIFF orientation found in the file (1-8), not applied
};

RawImage decode_jpeg(std::span<const uint8_t> bytes, uint64_t max_pixels);
// rgba: decode straight into CV_8UC4 with alpha 255 (libjpeg-turbo's JCS_EXT_RGBA).
RawImage decode_jpeg(std::span<const uint8_t> bytes, uint64_t max_pixels, bool rgba);
RawImage decode_png(std::span<const uint8_t> bytes, uint64_t max_pixels);
RawImage decode_webp(std::span<const uint8_t> bytes, uint64_t max_pixels);
RawImage decode_tiff(std::span<const uint8_t> bytes, uint64_t max_pixels);
RawImage decode_gif(std::span<const uint8_t> bytes, uint64_t max_pixels);
RawImage decode_bmp(std::span<const uint8_t> bytes, uint64_t max_pixels);

// Throws Error(kImageTooLarge) when width * height > max_pixels (computed without overflow).
void check_pixel_limit(uint64_t width, uint64_t height, uint64_t max_pixels, ImageFormat format);

// Error(kUndecodable) with the message "<format>: <why>".
[[noreturn]] void throw_undecodable(ImageFormat format, const std::string& why);

// The parts of a BMP header that probing and decoding need (decode_bmp.cpp).
struct BmpHeader {
  int width = 0;
  int height = 0;  // absolute value; top_down tells the row order
  bool top_down = false;
  uint32_t data_offset = 0;
  uint32_t bits_per_pixel = 0;
  uint32_t compression = 0;  // BI_RGB = 0, BI_RLE8 = 1, BI_RLE4 = 2, BI_BITFIELDS = 3, ...
  uint32_t colors_used = 0;  // palette entries; 0 means 2^bits_per_pixel
};
// Throws Error(kUndecodable) when the header is truncated or nonsensical.
BmpHeader parse_bmp_header(std::span<const uint8_t> bytes);

// Little/big-endian loads; the caller has checked that the bytes exist.
inline uint16_t load_u16_le(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] | (p[1] << 8));
}
inline uint16_t load_u16_be(const uint8_t* p) {
  return static_cast<uint16_t>((p[0] << 8) | p[1]);
}
inline uint32_t load_u24_le(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16);
}
inline uint32_t load_u32_le(const uint8_t* p) {
  return load_u24_le(p) | (static_cast<uint32_t>(p[3]) << 24);
}
inline uint32_t load_u32_be(const uint8_t* p) {
  return (static_cast<uint32_t>(p[0]) << 24) | (static_cast<uint32_t>(p[1]) << 16) |
         (static_cast<uint32_t>(p[2]) << 8) | static_cast<uint32_t>(p[3]);
}

}  // namespace cutout::detail
