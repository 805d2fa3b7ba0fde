// Reading photos: format sniffing, header probing and decoding to 8-bit RGB(A).
//
// All functions are pure and thread-safe. Input bytes are never trusted: the format comes from
// magic bytes, the pixel count is checked from the header before any pixel buffer is allocated,
// and a truncated or corrupt file is an Error(kUndecodable), never a partially grey picture.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include <opencv2/core.hpp>

namespace cutout {

enum class ImageFormat { kUnknown, kJpeg, kPng, kWebp, kBmp, kTiff, kGif };

std::string_view format_name(ImageFormat format);  // "jpeg", "png", ... "unknown"

// Format from the first bytes (magic numbers); kUnknown when none matches.
ImageFormat sniff_format(std::span<const uint8_t> bytes);

struct ImageInfo {
  ImageFormat format = ImageFormat::kUnknown;
  int width = 0;  // as stored, before EXIF orientation
  int height = 0;
};

// Reads only the header. Throws Error(kUnsupportedFormat) for unknown bytes and
// Error(kUndecodable) when the header itself is broken.
ImageInfo probe_image(std::span<const uint8_t> bytes);

struct DecodeOptions {
  uint64_t max_pixels = 50'000'000;  // width*height above this: Error(kImageTooLarge)
  bool apply_orientation = true;     // EXIF / TIFF orientation tag
  // Always return CV_8UC4 (alpha 255 where the source has none). JPEGs decode straight into
  // it, so a cut-out can then be made in place, without a second full-size buffer.
  bool rgba = false;
};

// "Has transparency", per format: PNG with an alpha channel or a tRNS chunk; WebP whose bitstream
// declares alpha; TIFF whose first extra sample is alpha (or an RGB TIFF with an unlabelled fourth
// sample, as OpenCV writes RGBA); GIF and animated WebP when some pixel of the first frame's
// canvas is transparent; BMP only with a BI_BITFIELDS alpha mask whose values are not all 0 or
// all 255. JPEG never. Pixels are straight (not premultiplied) alpha.
struct DecodedImage {
  cv::Mat pixels;  // CV_8UC3 (RGB) or CV_8UC4 (RGBA, only when the source has transparency)
  ImageFormat format = ImageFormat::kUnknown;
  int orientation = 1;     // the EXIF orientation found (1-8), already applied when asked
  bool has_alpha = false;  // the source itself has transparency
};

// Decodes the first frame/page. Grey, palette and 16-bit sources come back as 8-bit RGB(A);
// CMYK JPEGs are converted to RGB. Throws Error with kUnsupportedFormat (unknown or empty bytes),
// kImageTooLarge (header size over options.max_pixels, checked before any pixel buffer exists,
// by probe_image and again by the format's decoder), or kUndecodable (corrupt or truncated data,
// including a JPEG whose entropy data ends early; the message carries the library's text).
// The returned Mat is continuous and owns its memory.
DecodedImage decode_image(std::span<const uint8_t> bytes, const DecodeOptions& options = {});

// Applies an EXIF orientation (1-8) to an image; 1 and unknown values return it unchanged.
cv::Mat apply_orientation(const cv::Mat& image, int orientation);

}  // namespace cutout
