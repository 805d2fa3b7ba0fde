// Format sniffing and header-only probing. Every parser here reads a few fixed-size fields with
// explicit bounds checks; none of them allocates in proportion to the claimed image size.
#include <cstring>
#include <string>

#include <zlib.h>

#include "core/decode_internal.h"
#include "core/error.h"
#include "core/exif.h"
#include "core/image_io.h"

namespace cutout {
namespace {

using detail::load_u16_be;
using detail::load_u16_le;
using detail::load_u24_le;
using detail::load_u32_be;
using detail::load_u32_le;
using detail::throw_undecodable;

bool starts_with(std::span<const uint8_t> bytes, std::string_view magic, size_t at = 0) {
  return bytes.size() >= at + magic.size() && std::memcmp(bytes.data() + at, magic.data(), magic.size()) == 0;
}

void require_bytes(std::span<const uint8_t> bytes, size_t count, ImageFormat format) {
  if (bytes.size() < count) throw_undecodable(format, "truncated header");
}

ImageInfo make_info(ImageFormat format, uint64_t width, uint64_t height) {
  // Zero sizes are broken files; sizes beyond int cannot be represented by cv::Mat.
  if (width == 0 || height == 0) throw_undecodable(format, "zero width or height in the header");
  if (width > 0x7fffffff || height > 0x7fffffff) {
    throw_undecodable(format, "width or height beyond 2^31 in the header");
  }
  return {format, static_cast<int>(width), static_cast<int>(height)};
}

bool is_jpeg_sof(uint8_t marker) {
  // SOF0-SOF15 are C0-CF except DHT (C4), JPG (C8) and DAC (CC).
  return marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
}

ImageInfo probe_jpeg(std::span<const uint8_t> b) {
  size_t pos = 2;  // after SOI
  for (;;) {
    // Like libjpeg, skip garbage before a marker and any number of 0xFF fill bytes.
    while (pos < b.size() && b[pos] != 0xFF) ++pos;
    while (pos < b.size() && b[pos] == 0xFF) ++pos;
    if (pos >= b.size()) throw_undecodable(ImageFormat::kJpeg, "no frame header (SOF) found");
    const uint8_t marker = b[pos++];
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) continue;  // no length field
    if (marker == 0xDA || marker == 0xD9) {
      throw_undecodable(ImageFormat::kJpeg, "scan data or end of image before the frame header");
    }
    require_bytes(b, pos + 2, ImageFormat::kJpeg);
    const size_t length = load_u16_be(&b[pos]);
    if (length < 2) throw_undecodable(ImageFormat::kJpeg, "bad marker length");
    if (is_jpeg_sof(marker)) {
      // length(2) precision(1) height(2) width(2)
      require_bytes(b, pos + 7, ImageFormat::kJpeg);
      return make_info(ImageFormat::kJpeg, load_u16_be(&b[pos + 5]), load_u16_be(&b[pos + 3]));
    }
    pos += length;
  }
}

ImageInfo probe_png(std::span<const uint8_t> b) {
  // signature(8) IHDR: length(4) "IHDR" width(4) height(4) depth colour compression filter
  // interlace(5) crc(4)
  require_bytes(b, 33, ImageFormat::kPng);
  if (load_u32_be(&b[8]) != 13 || !starts_with(b, "IHDR", 12)) {
    throw_undecodable(ImageFormat::kPng, "first chunk is not a valid IHDR");
  }
  const uLong crc = crc32(crc32(0L, Z_NULL, 0), &b[12], 17);
  if (crc != load_u32_be(&b[29])) throw_undecodable(ImageFormat::kPng, "IHDR CRC mismatch");
  return make_info(ImageFormat::kPng, load_u32_be(&b[16]), load_u32_be(&b[20]));
}

ImageInfo probe_webp(std::span<const uint8_t> b) {
  // "RIFF" size "WEBP", then the first chunk: fourcc(4) size(4) payload at 20.
  require_bytes(b, 20, ImageFormat::kWebp);
  const uint8_t* payload = b.data() + 20;
  if (starts_with(b, "VP8X", 12)) {
    // flags(1) reserved(3) canvas width-1 (24 bits) canvas height-1 (24 bits)
    require_bytes(b, 30, ImageFormat::kWebp);
    return make_info(ImageFormat::kWebp, uint64_t{load_u24_le(payload + 4)} + 1,
                     uint64_t{load_u24_le(payload + 7)} + 1);
  }
  if (starts_with(b, "VP8 ", 12)) {
    // frame tag(3) start code 9D 01 2A, then 14-bit width and height (2 scale bits above each).
    require_bytes(b, 30, ImageFormat::kWebp);
    if ((payload[0] & 1) != 0 || payload[3] != 0x9D || payload[4] != 0x01 || payload[5] != 0x2A) {
      throw_undecodable(ImageFormat::kWebp, "bad VP8 key frame header");
    }
    return make_info(ImageFormat::kWebp, load_u16_le(payload + 6) & 0x3FFF,
                     load_u16_le(payload + 8) & 0x3FFF);
  }
  if (starts_with(b, "VP8L", 12)) {
    // signature 0x2F, then width-1 (14 bits) and height-1 (14 bits), little-endian bit order.
    require_bytes(b, 25, ImageFormat::kWebp);
    if (payload[0] != 0x2F) throw_undecodable(ImageFormat::kWebp, "bad VP8L signature");
    const uint32_t bits = load_u32_le(payload + 1);
    return make_info(ImageFormat::kWebp, (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1);
  }
  throw_undecodable(ImageFormat::kWebp, "unknown first chunk");
}

ImageInfo probe_tiff(std::span<const uint8_t> b) {
  constexpr uint16_t kTagImageWidth = 256;
  constexpr uint16_t kTagImageLength = 257;
  const auto width = tiff_ifd0_value(b, kTagImageWidth);
  const auto height = tiff_ifd0_value(b, kTagImageLength);
  if (!width || !height) throw_undecodable(ImageFormat::kTiff, "first IFD lacks width or height");
  return make_info(ImageFormat::kTiff, *width, *height);
}

ImageInfo probe_gif(std::span<const uint8_t> b) {
  // "GIF8?a" then the logical screen: width(2) height(2) flags background aspect.
  require_bytes(b, 13, ImageFormat::kGif);
  return make_info(ImageFormat::kGif, load_u16_le(&b[6]), load_u16_le(&b[8]));
}

}  // namespace

std::string_view format_name(ImageFormat format) {
  switch (format) {
    case ImageFormat::kJpeg:
      return "jpeg";
    case ImageFormat::kPng:
      return "png";
    case ImageFormat::kWebp:
      return "webp";
    case ImageFormat::kBmp:
      return "bmp";
    case ImageFormat::kTiff:
      return "tiff";
    case ImageFormat::kGif:
      return "gif";
    case ImageFormat::kUnknown:
      break;
  }
  return "unknown";
}

ImageFormat sniff_format(std::span<const uint8_t> bytes) {
  if (starts_with(bytes, "\xFF\xD8\xFF")) return ImageFormat::kJpeg;
  if (starts_with(bytes, "\x89PNG\r\n\x1A\n")) return ImageFormat::kPng;
  if (starts_with(bytes, "RIFF") && starts_with(bytes, "WEBP", 8)) return ImageFormat::kWebp;
  if (starts_with(bytes, "BM")) return ImageFormat::kBmp;
  if (starts_with(bytes, std::string_view("II*\0", 4)) || starts_with(bytes, std::string_view("MM\0*", 4))) {
    return ImageFormat::kTiff;
  }
  if (starts_with(bytes, "GIF87a") || starts_with(bytes, "GIF89a")) return ImageFormat::kGif;
  return ImageFormat::kUnknown;
}

ImageInfo probe_image(std::span<const uint8_t> bytes) {
  switch (sniff_format(bytes)) {
    case ImageFormat::kJpeg:
      return probe_jpeg(bytes);
    case ImageFormat::kPng:
      return probe_png(bytes);
    case ImageFormat::kWebp:
      return probe_webp(bytes);
    case ImageFormat::kBmp: {
      const detail::BmpHeader header = detail::parse_bmp_header(bytes);
      return make_info(ImageFormat::kBmp, header.width, header.height);
    }
    case ImageFormat::kTiff:
      return probe_tiff(bytes);
    case ImageFormat::kGif:
      return probe_gif(bytes);
    case ImageFormat::kUnknown:
      break;
  }
  if (bytes.empty()) throw Error(ErrorCode::kUnsupportedFormat, "empty image data");
  throw Error(ErrorCode::kUnsupportedFormat,
              "not a supported image format (expected JPEG, PNG, WebP, BMP, TIFF or GIF)");
}

}  // namespace cutout
