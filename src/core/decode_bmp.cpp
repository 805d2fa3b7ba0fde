// BMP: our own header parser (dimensions, limit, truncation check), OpenCV's decoder for pixels.
//
// OpenCV's BMP reader silently leaves missing rows black when the file is short, so for the
// uncompressed layouts (BI_RGB, BI_BITFIELDS) the required size, offset + stride * height, is
// checked first and a short file is Error(kUndecodable). RLE-compressed files have no fixed size;
// for them truncation is only caught when OpenCV itself fails (a known limitation).
//
// Alpha: in a plain 32-bit BMP (BI_RGB) the fourth byte is officially unused, most writers leave
// it 0, and OpenCV drops it: the result is RGB. Only a BI_BITFIELDS BMP with an alpha mask (V4/V5
// header) reaches us as BGRA; its alpha is kept (CV_8UC4 RGBA) when it carries information, i.e.
// some pixel has alpha > 0 and some pixel alpha < 255; otherwise the result is RGB too.
#include <algorithm>
#include <climits>
#include <cstdlib>
#include <string>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "core/decode_internal.h"
#include "core/error.h"

namespace cutout::detail {
namespace {

constexpr size_t kFileHeaderBytes = 14;
constexpr uint32_t kCoreHeaderBytes = 12;  // OS/2 1.x BITMAPCOREHEADER, 16-bit sizes
constexpr uint32_t kBiRgb = 0;
constexpr uint32_t kBiRle8 = 1;
constexpr uint32_t kBiRle4 = 2;
constexpr uint32_t kBiBitfields = 3;

void require(std::span<const uint8_t> bytes, size_t count) {
  if (bytes.size() < count) throw_undecodable(ImageFormat::kBmp, "truncated header");
}

// The variants OpenCV reads. Anything else (JPEG or PNG inside BMP, 2-bit, oversized palettes)
// is refused here rather than by OpenCV, which would also print its complaint to stderr.
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

bool alpha_is_meaningful(const cv::Mat& bgra) {
  bool any_nonzero = false;
  bool any_below_max = false;
  for (int y = 0; y < bgra.rows; ++y) {
    const auto* row = bgra.ptr<cv::Vec4b>(y);
    for (int x = 0; x < bgra.cols; ++x) {
      any_nonzero |= row[x][3] != 0;
      any_below_max |= row[x][3] != 255;
    }
    if (any_nonzero && any_below_max) return true;
  }
  return false;
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
  const BmpHeader header = parse_bmp_header(bytes);
  const auto width = static_cast<uint64_t>(header.width);
  const auto height = static_cast<uint64_t>(header.height);
  check_pixel_limit(width, height, max_pixels, ImageFormat::kBmp);

  const uint32_t bpp = header.bits_per_pixel;
  if (!is_supported_variant(header)) {
    throw_undecodable(ImageFormat::kBmp, "unsupported variant (" + std::to_string(bpp) +
                                             " bits, compression " + std::to_string(header.compression) +
                                             ", " + std::to_string(header.colors_used) + " palette entries)");
  }
  const bool uncompressed = header.compression == kBiRgb || header.compression == kBiBitfields;
  if (uncompressed) {
    const uint64_t stride = (width * bpp + 31) / 32 * 4;  // rows are padded to 4 bytes
    const uint64_t needed = uint64_t{header.data_offset} + stride * height;
    if (needed > bytes.size()) {
      throw_undecodable(ImageFormat::kBmp, "truncated pixel data (" + std::to_string(bytes.size()) + " of " +
                                               std::to_string(needed) + " bytes)");
    }
  }

  // imdecode only reads the buffer; the header wraps the caller's bytes without a copy.
  const cv::Mat encoded(1, static_cast<int>(std::min<size_t>(bytes.size(), INT_MAX)), CV_8UC1,
                        const_cast<uint8_t*>(bytes.data()));
  const cv::Mat decoded = cv::imdecode(encoded, cv::IMREAD_UNCHANGED);
  if (decoded.empty() || decoded.depth() != CV_8U) throw_undecodable(ImageFormat::kBmp, "corrupt pixel data");
  if (decoded.cols != header.width || decoded.rows != header.height) {
    throw_undecodable(ImageFormat::kBmp, "decoded size differs from the header");
  }

  RawImage out;
  switch (decoded.channels()) {
    case 1:
      cv::cvtColor(decoded, out.pixels, cv::COLOR_GRAY2RGB);
      break;
    case 3:
      cv::cvtColor(decoded, out.pixels, cv::COLOR_BGR2RGB);
      break;
    case 4:
      cv::cvtColor(decoded, out.pixels,
                   alpha_is_meaningful(decoded) ? cv::COLOR_BGRA2RGBA : cv::COLOR_BGRA2RGB);
      break;
    default:
      throw_undecodable(ImageFormat::kBmp, "unexpected channel count");
  }
  return out;
}

}  // namespace cutout::detail
