// BMP: our own header parser and pixel decoder, written for hostile input (the server decodes
// uploads): every offset is checked against the buffer, sizes are computed in 64 bits, and the
// pixel limit is checked before anything is allocated.
//
// Why not OpenCV's reader: it was the only use of libopencv-imgcodecs in the library, and that
// package pulls GDAL, poppler, HDF5, OpenEXR and more (~200 MB) into the runtime image. OpenCV's
// reader also silently left missing rows black when the file was short.
//
// Variants (is_supported_variant): BI_RGB 1/4/8-bit with a palette, 16-bit (5-5-5), 24-bit and
// 32-bit; BI_BITFIELDS 16/32-bit; BI_RLE8 and BI_RLE4; rows bottom-up or top-down. Palette
// entries are 4 bytes (BGRX) after the info header, 3 bytes (BGR) after the 12-byte OS/2 core
// header; colors_used 0 means 2^bpp entries. The masks of BI_BITFIELDS follow a 40-byte header
// and are inside larger ones (R, G, B at 40..51, alpha at 52..55 of the info header).
//
// Errors, all Error(kUndecodable): uncompressed pixel data shorter than offset + stride * height;
// a palette or masks past the end of the file; a zero, non-contiguous or too wide R/G/B mask; RLE
// data that ends before the end-of-bitmap (or the end-of-line of the last row); an RLE run,
// absolute run or delta that leaves its row or the image.
//
// Chosen behaviour, and where it differs from OpenCV 4.6 (which the tests compare against):
// - A palette index beyond the palette gives black, as in OpenCV (and browsers).
// - Masked fields are scaled to 8 bits by rounding, v * 255 / (2^bits - 1): 5-bit 31 is 255.
//   OpenCV shifts instead (5-bit 31 is 248, 6-bit 63 is 252); 8-bit fields are identical.
// - BI_BITFIELDS masks are honoured. OpenCV accepts only the 5-5-5 and 5-6-5 masks for 16-bit
//   (and looks for them after even a V4/V5 header) and copies 32-bit pixels as BGRA whatever the
//   masks say; so a 32-bit BI_BITFIELDS file without an alpha mask (e.g. a 40-byte header) is
//   RGB here, where OpenCV returned its fourth byte as alpha.
// - RLE pixels that no run writes (skipped by a delta, end-of-line or end-of-bitmap) are black;
//   OpenCV paints them with palette entry 0. A run that starts at the end of a full row, and a
//   delta past the right edge, are errors here; OpenCV's RLE8 continued them on the next row.
//   (OpenCV's RLE4 also ignored a delta's vertical part and took end-of-bitmap for end-of-line.)
//
// Alpha: in a plain 32-bit BMP (BI_RGB) the fourth byte is officially unused, most writers leave
// it 0, and it is ignored: the result is RGB. Only a BI_BITFIELDS BMP with an alpha mask (V3/V4/V5
// header) has alpha; it is kept (CV_8UC4 RGBA) when it carries information, i.e. some pixel has
// alpha > 0 and some pixel alpha < 255; otherwise the result is RGB too.
#include <algorithm>
#include <array>
#include <bit>
#include <climits>
#include <cstdlib>
#include <string>
#include <vector>

#include <opencv2/imgproc.hpp>

#include "core/decode_internal.h"
#include "core/error.h"

namespace cutout::detail {
namespace {

constexpr size_t kFileHeaderBytes = 14;
constexpr uint32_t kCoreHeaderBytes = 12;  // OS/2 1.x BITMAPCOREHEADER, 16-bit sizes
constexpr uint32_t kInfoHeaderBytes = 40;  // BITMAPINFOHEADER
constexpr uint32_t kV2HeaderBytes = 52;    // the first with the R, G, B masks inside
constexpr uint32_t kV3HeaderBytes = 56;    // the first with the alpha mask inside
constexpr uint32_t kBiRgb = 0;
constexpr uint32_t kBiRle8 = 1;
constexpr uint32_t kBiRle4 = 2;
constexpr uint32_t kBiBitfields = 3;

void require(std::span<const uint8_t> bytes, size_t count) {
  if (bytes.size() < count) throw_undecodable(ImageFormat::kBmp, "truncated header");
}

// Whether `count` bytes starting at `offset` lie inside the buffer (no overflow for any inputs).
bool fits(std::span<const uint8_t> bytes, uint64_t offset, uint64_t count) {
  return offset <= bytes.size() && count <= bytes.size() - offset;
}

// The variants we decode (OpenCV's set, which the server has always accepted). Anything else (JPEG
// or PNG inside BMP, 2-bit, oversized palettes) is refused.
bool is_supported_variant(const BmpHeader& h) {
  const uint32_t bpp = h.bits_per_pixel;
  if (bpp <= 8 && h.colors_used > 256) return false;
  switch (h.compression) {
    case kBiRgb:
      return bpp == 1 || bpp == 4 || bpp == 8 || bpp == 16 || bpp == 24 || bpp == 32;
    case kBiBitfields:
      return bpp == 16 || bpp == 32;
    case kBiRle8:
      return bpp == 8;
    case kBiRle4:
      return bpp == 4;
    default:
      return false;
  }
}

bool alpha_is_meaningful(const cv::Mat& rgba) {
  bool any_nonzero = false;
  bool any_below_max = false;
  for (int y = 0; y < rgba.rows; ++y) {
    const auto* row = rgba.ptr<cv::Vec4b>(y);
    for (int x = 0; x < rgba.cols; ++x) {
      any_nonzero |= row[x][3] != 0;
      any_below_max |= row[x][3] != 255;
    }
    if (any_nonzero && any_below_max) return true;
  }
  return false;
}

// RGB colours; entries the file does not define stay black.
using Palette = std::array<cv::Vec3b, 256>;

Palette read_palette(std::span<const uint8_t> bytes, const BmpHeader& header, uint32_t info_bytes) {
  Palette palette{};
  const bool core = info_bytes == kCoreHeaderBytes;
  const uint64_t entry_bytes = core ? 3 : 4;
  const uint64_t declared =
      core || header.colors_used == 0 ? uint64_t{1} << header.bits_per_pixel : uint64_t{header.colors_used};
  const uint64_t start = kFileHeaderBytes + uint64_t{info_bytes};
  if (!fits(bytes, start, declared * entry_bytes)) throw_undecodable(ImageFormat::kBmp, "truncated palette");
  const uint64_t count = std::min<uint64_t>(declared, palette.size());
  for (uint64_t i = 0; i < count; ++i) {
    const uint8_t* p = &bytes[start + i * entry_bytes];
    palette[i] = cv::Vec3b(p[2], p[1], p[0]);
  }
  return palette;
}

// One channel of a BI_BITFIELDS pixel: its mask, and a table from the masked field to 0..255.
struct MaskChannel {
  uint32_t mask = 0;
  int shift = 0;             // fields wider than 16 bits also drop their low bits
  std::vector<uint8_t> lut;  // empty when the mask is 0 (alpha only)

  uint8_t operator()(uint32_t pixel) const { return lut[(pixel & mask) >> shift]; }
};

MaskChannel make_channel(uint32_t mask, uint32_t bpp, const char* name) {
  MaskChannel channel;
  channel.mask = mask;
  if (mask == 0) return channel;
  const int low = std::countr_zero(mask);
  const int bits = std::popcount(mask);
  const bool contiguous = ((uint64_t{mask} >> low) + 1) == (uint64_t{1} << bits);
  if (!contiguous || (bpp == 16 && mask > 0xFFFF)) {
    throw_undecodable(ImageFormat::kBmp, std::string("invalid ") + name + " mask");
  }
  const int kept = std::min(bits, 16);
  channel.shift = low + (bits - kept);
  const uint32_t max = (uint32_t{1} << kept) - 1;
  channel.lut.resize(size_t{max} + 1);
  for (uint32_t v = 0; v <= max; ++v) channel.lut[v] = static_cast<uint8_t>((v * 255 + max / 2) / max);
  return channel;
}

struct Masks {
  MaskChannel r, g, b, a;
  bool standard_32 = false;  // 0x00FF0000, 0x0000FF00, 0x000000FF and alpha 0 or 0xFF000000
};

Masks read_masks(std::span<const uint8_t> bytes, const BmpHeader& header, uint32_t info_bytes) {
  std::array<uint32_t, 4> values = {0x7C00, 0x03E0, 0x001F, 0};  // BI_RGB 16-bit is 5-5-5
  if (header.bits_per_pixel == 32) values = {0x00FF0000, 0x0000FF00, 0x000000FF, 0};
  if (header.compression == kBiBitfields) {
    // A 40-byte header is followed by R, G, B; larger ones hold them (and alpha) inside.
    const uint64_t at = kFileHeaderBytes + (info_bytes >= kV2HeaderBytes ? kInfoHeaderBytes : info_bytes);
    const size_t count = info_bytes >= kV3HeaderBytes ? 4 : 3;
    if (!fits(bytes, at, count * 4)) throw_undecodable(ImageFormat::kBmp, "truncated bit masks");
    for (size_t i = 0; i < count; ++i) values[i] = load_u32_le(&bytes[at + 4 * i]);
  }
  const uint32_t bpp = header.bits_per_pixel;
  Masks masks;
  masks.r = make_channel(values[0], bpp, "red");
  masks.g = make_channel(values[1], bpp, "green");
  masks.b = make_channel(values[2], bpp, "blue");
  masks.a = make_channel(values[3], bpp, "alpha");
  if (values[0] == 0 || values[1] == 0 || values[2] == 0) {
    throw_undecodable(ImageFormat::kBmp, "a colour mask is zero");
  }
  masks.standard_32 = bpp == 32 && values[0] == 0x00FF0000 && values[1] == 0x0000FF00 &&
                      values[2] == 0x000000FF && (values[3] == 0 || values[3] == 0xFF000000);
  return masks;
}

// The output row that stored row `stored` lands on.
int output_row(const BmpHeader& header, uint64_t stored) {
  const auto row = static_cast<int>(stored);
  return header.top_down ? row : header.height - 1 - row;
}

cv::Mat decode_palette_rows(std::span<const uint8_t> bytes, const BmpHeader& header, const Palette& palette,
                            uint64_t stride) {
  cv::Mat out(header.height, header.width, CV_8UC3);
  const uint32_t bpp = header.bits_per_pixel;
  for (uint64_t r = 0; r < uint64_t(header.height); ++r) {
    const uint8_t* src = &bytes[header.data_offset + r * stride];
    auto* dst = out.ptr<cv::Vec3b>(output_row(header, r));
    for (int x = 0; x < header.width; ++x) {
      unsigned index = 0;
      if (bpp == 8) {
        index = src[x];
      } else if (bpp == 4) {
        index = (src[x >> 1] >> ((x & 1) ? 0 : 4)) & 0x0F;
      } else {
        index = (src[x >> 3] >> (7 - (x & 7))) & 0x01;
      }
      dst[x] = palette[index];
    }
  }
  return out;
}

// 16- and 32-bit pixels through their masks; RGBA when there is an alpha mask.
cv::Mat decode_masked_rows(std::span<const uint8_t> bytes, const BmpHeader& header, const Masks& masks,
                           uint64_t stride) {
  const bool alpha = masks.a.mask != 0;
  cv::Mat out(header.height, header.width, alpha ? CV_8UC4 : CV_8UC3);
  const bool wide = header.bits_per_pixel == 32;
  for (uint64_t r = 0; r < uint64_t(header.height); ++r) {
    const uint8_t* src = &bytes[header.data_offset + r * stride];
    uint8_t* dst = out.ptr(output_row(header, r));
    if (masks.standard_32) {  // BGRX or BGRA: OpenCV's conversions are vectorised
      const cv::Mat src_row(1, header.width, CV_8UC4, const_cast<uint8_t*>(src));
      cv::Mat dst_row(1, header.width, out.type(), dst);
      cv::cvtColor(src_row, dst_row, alpha ? cv::COLOR_BGRA2RGBA : cv::COLOR_BGRA2RGB);
      continue;
    }
    for (int x = 0; x < header.width; ++x) {
      const uint32_t pixel = wide ? load_u32_le(src + 4 * size_t(x)) : load_u16_le(src + 2 * size_t(x));
      *dst++ = masks.r(pixel);
      *dst++ = masks.g(pixel);
      *dst++ = masks.b(pixel);
      if (alpha) *dst++ = masks.a(pixel);
    }
  }
  return out;
}

cv::Mat decode_bgr_rows(std::span<const uint8_t> bytes, const BmpHeader& header, uint64_t stride) {
  cv::Mat out(header.height, header.width, CV_8UC3);
  for (uint64_t r = 0; r < uint64_t(header.height); ++r) {
    const cv::Mat src_row(1, header.width, CV_8UC3,
                          const_cast<uint8_t*>(&bytes[header.data_offset + r * stride]));
    cv::Mat dst_row(1, header.width, CV_8UC3, out.ptr(output_row(header, r)));
    cv::cvtColor(src_row, dst_row, cv::COLOR_BGR2RGB);
  }
  return out;
}

// BI_RLE8 / BI_RLE4: pairs of bytes, (count, colour) runs or (0, escape): 0 end of line, 1 end of
// bitmap, 2 delta (dx, dy follow), 3..255 an absolute run of that many pixels padded to 2 bytes.
cv::Mat decode_rle(std::span<const uint8_t> bytes, const BmpHeader& header, const Palette& palette) {
  cv::Mat out = cv::Mat::zeros(header.height, header.width, CV_8UC3);
  const bool rle4 = header.compression == kBiRle4;
  const auto width = uint64_t(header.width);
  const auto height = uint64_t(header.height);
  size_t pos = header.data_offset;
  auto next = [&]() -> uint8_t {
    if (pos >= bytes.size()) throw_undecodable(ImageFormat::kBmp, "truncated RLE data");
    return bytes[pos++];
  };
  uint64_t x = 0;
  uint64_t y = 0;  // stored row
  while (y < height) {
    const uint8_t count = next();
    const uint8_t code = next();
    if (count > 0) {
      if (x + count > width) throw_undecodable(ImageFormat::kBmp, "RLE run past the end of its row");
      auto* dst = out.ptr<cv::Vec3b>(output_row(header, y)) + x;
      for (unsigned i = 0; i < count; ++i) {
        dst[i] = palette[rle4 ? ((i & 1) ? code & 0x0F : code >> 4) : code];
      }
      x += count;
    } else if (code == 0) {  // end of line
      x = 0;
      ++y;
    } else if (code == 1) {  // end of bitmap
      break;
    } else if (code == 2) {  // delta
      x += next();
      y += next();
      if (x > width || y >= height) throw_undecodable(ImageFormat::kBmp, "RLE delta outside the image");
    } else {  // absolute run of `code` pixels
      if (x + code > width) throw_undecodable(ImageFormat::kBmp, "RLE run past the end of its row");
      const size_t data_bytes = rle4 ? (code + 1u) / 2 : code;
      const size_t padded = (data_bytes + 1) & ~size_t{1};
      if (!fits(bytes, pos, padded)) throw_undecodable(ImageFormat::kBmp, "truncated RLE data");
      auto* dst = out.ptr<cv::Vec3b>(output_row(header, y)) + x;
      for (unsigned i = 0; i < code; ++i) {
        const uint8_t b = bytes[pos + (rle4 ? i / 2 : i)];
        dst[i] = palette[rle4 ? ((i & 1) ? b & 0x0F : b >> 4) : b];
      }
      pos += padded;
      x += code;
    }
  }
  return out;
}

}  // namespace

BmpHeader parse_bmp_header(std::span<const uint8_t> b) {
  require(b, kFileHeaderBytes + 4);
  BmpHeader header;
  header.data_offset = load_u32_le(&b[10]);
  const uint32_t info_bytes = load_u32_le(&b[14]);
  int64_t height = 0;
  if (info_bytes == kCoreHeaderBytes) {
    require(b, kFileHeaderBytes + kCoreHeaderBytes);
    header.width = load_u16_le(&b[18]);
    height = load_u16_le(&b[20]);
    header.bits_per_pixel = load_u16_le(&b[24]);
  } else if (info_bytes >= 16 && info_bytes <= 4096) {
    // BITMAPINFOHEADER (40) and its V4/V5 and OS/2 2.x (16-64) variants: signed 32-bit sizes.
    require(b, kFileHeaderBytes + 16);
    const auto width = static_cast<int32_t>(load_u32_le(&b[18]));
    height = static_cast<int32_t>(load_u32_le(&b[22]));
    header.bits_per_pixel = load_u16_le(&b[28]);
    if (info_bytes >= 20) {
      require(b, kFileHeaderBytes + 20);
      header.compression = load_u32_le(&b[30]);
    }
    if (info_bytes >= 36) {
      require(b, kFileHeaderBytes + 36);
      header.colors_used = load_u32_le(&b[46]);
    }
    if (width <= 0) throw_undecodable(ImageFormat::kBmp, "width is not positive");
    header.width = width;
  } else {
    throw_undecodable(ImageFormat::kBmp, "unknown info header size " + std::to_string(info_bytes));
  }
  // A negative height means rows are stored top-down; INT32_MIN has no positive counterpart.
  if (header.width == 0 || height == 0 || height == INT32_MIN) {
    throw_undecodable(ImageFormat::kBmp, "zero or invalid size");
  }
  header.top_down = height < 0;
  header.height = static_cast<int>(std::llabs(height));
  return header;
}

RawImage decode_bmp(std::span<const uint8_t> bytes, uint64_t max_pixels) {
  const BmpHeader header = parse_bmp_header(bytes);  // it has checked that bytes 14..17 exist
  const uint32_t info_bytes = load_u32_le(&bytes[14]);
  const auto width = static_cast<uint64_t>(header.width);
  const auto height = static_cast<uint64_t>(header.height);
  check_pixel_limit(width, height, max_pixels, ImageFormat::kBmp);

  const uint32_t bpp = header.bits_per_pixel;
  if (!is_supported_variant(header)) {
    throw_undecodable(ImageFormat::kBmp, "unsupported variant (" + std::to_string(bpp) +
                                             " bits, compression " + std::to_string(header.compression) +
                                             ", " + std::to_string(header.colors_used) + " palette entries)");
  }

  RawImage out;
  if (header.compression == kBiRle8 || header.compression == kBiRle4) {
    out.pixels = decode_rle(bytes, header, read_palette(bytes, header, info_bytes));
    return out;
  }

  // No overflow: stride <= 4 * (2^31 - 1) and height < 2^31, so stride * height + offset < 2^64.
  const uint64_t stride = (width * bpp + 31) / 32 * 4;  // rows are padded to 4 bytes
  const uint64_t needed = uint64_t{header.data_offset} + stride * height;
  if (needed > bytes.size()) {
    throw_undecodable(ImageFormat::kBmp, "truncated pixel data (" + std::to_string(bytes.size()) + " of " +
                                             std::to_string(needed) + " bytes)");
  }

  if (bpp <= 8) {
    out.pixels = decode_palette_rows(bytes, header, read_palette(bytes, header, info_bytes), stride);
  } else if (bpp == 24) {
    out.pixels = decode_bgr_rows(bytes, header, stride);
  } else {
    out.pixels = decode_masked_rows(bytes, header, read_masks(bytes, header, info_bytes), stride);
    if (out.pixels.channels() == 4 && !alpha_is_meaningful(out.pixels)) {
      cv::cvtColor(out.pixels, out.pixels, cv::COLOR_RGBA2RGB);
    }
  }
  return out;
}

}  // namespace cutout::detail
