// decode_image: sniff, probe, check the pixel limit, dispatch to the per-format decoder, orient.
#include <string>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "core/decode_internal.h"
#include "core/error.h"
#include "core/image_io.h"

namespace cutout {

namespace detail {

void check_pixel_limit(uint64_t width, uint64_t height, uint64_t max_pixels, ImageFormat format) {
  // Both factors fit in 32 bits wherever they come from, so the product cannot overflow.
  if (width * height > max_pixels) {
    throw Error(ErrorCode::kImageTooLarge, std::string(format_name(format)) + ": " + std::to_string(width) +
                                               "x" + std::to_string(height) +
                                               " pixels is over the limit of " + std::to_string(max_pixels) +
                                               " pixels");
  }
}

void throw_undecodable(ImageFormat format, const std::string& why) {
  throw Error(ErrorCode::kUndecodable, std::string(format_name(format)) + ": " + why);
}

}  // namespace detail

DecodedImage decode_image(std::span<const uint8_t> bytes, const DecodeOptions& options) {
  // probe_image throws kUnsupportedFormat for unknown bytes and kUndecodable for a broken header.
  const ImageInfo info = probe_image(bytes);
  detail::check_pixel_limit(static_cast<uint64_t>(info.width), static_cast<uint64_t>(info.height),
                            options.max_pixels, info.format);

  detail::RawImage raw;
  switch (info.format) {
    case ImageFormat::kJpeg:
      raw = detail::decode_jpeg(bytes, options.max_pixels, options.rgba);
      break;
    case ImageFormat::kPng:
      raw = detail::decode_png(bytes, options.max_pixels);
      break;
    case ImageFormat::kWebp:
      raw = detail::decode_webp(bytes, options.max_pixels);
      break;
    case ImageFormat::kTiff:
      raw = detail::decode_tiff(bytes, options.max_pixels);
      break;
    case ImageFormat::kGif:
      raw = detail::decode_gif(bytes, options.max_pixels);
      break;
    case ImageFormat::kBmp:
      raw = detail::decode_bmp(bytes, options.max_pixels);
      break;
    case ImageFormat::kUnknown:
      throw Error(ErrorCode::kInternal, "probe returned an unknown format");
  }

  DecodedImage result;
  result.format = info.format;
  result.has_alpha = raw.pixels.channels() == 4 && info.format != ImageFormat::kJpeg;
  if (options.rgba && raw.pixels.channels() == 3) {
    cv::Mat rgba;
    cv::cvtColor(raw.pixels, rgba, cv::COLOR_RGB2RGBA);
    raw.pixels = rgba;
  }
  result.orientation = raw.orientation;
  result.pixels =
      options.apply_orientation ? apply_orientation(raw.pixels, raw.orientation) : std::move(raw.pixels);
  return result;
}

cv::Mat apply_orientation(const cv::Mat& image, int orientation) {
  // EXIF orientation = where the stored row 0 / column 0 are when displayed; each case below is
  // the transform that brings the stored image upright. Cases 5-8 swap width and height.
  cv::Mat out;
  switch (orientation) {
    case 2:  // mirror left-right
      cv::flip(image, out, 1);
      return out;
    case 3:
      cv::rotate(image, out, cv::ROTATE_180);
      return out;
    case 4:  // mirror top-bottom
      cv::flip(image, out, 0);
      return out;
    case 5:  // mirror along the main diagonal
      cv::transpose(image, out);
      return out;
    case 6:
      cv::rotate(image, out, cv::ROTATE_90_CLOCKWISE);
      return out;
    case 7: {  // mirror along the anti-diagonal: transpose, then turn half-way
      cv::Mat transposed;
      cv::transpose(image, transposed);
      cv::rotate(transposed, out, cv::ROTATE_180);
      return out;
    }
    case 8:
      cv::rotate(image, out, cv::ROTATE_90_COUNTERCLOCKWISE);
      return out;
    default:
      return image;
  }
}

}  // namespace cutout
