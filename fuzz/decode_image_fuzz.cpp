// Feeds the input to decode_image (image_io.h), the public entry every upload goes through:
// sniff, probe_image, the pixel limit, the format's decoder, EXIF orientation.
// Limits: fuzz::kMaxPixels (2^16) pixels. The last byte picks the options (bit 0: rgba, bit 1:
// apply_orientation), so both output paths are reached from the same corpus.
// Expected outcomes: a picture meeting image_io.h's promises, or Error kUnsupportedFormat /
// kUndecodable / kImageTooLarge.
#include <span>

#include "core/error.h"
#include "core/image_io.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> bytes(data, size);
  cutout::DecodeOptions options;
  options.max_pixels = cutout::fuzz::kMaxPixels;
  options.rgba = size > 0 && (data[size - 1] & 1) != 0;
  options.apply_orientation = size > 0 && (data[size - 1] & 2) != 0;
  try {
    const cutout::DecodedImage image = cutout::decode_image(bytes, options);
    cutout::fuzz::check_pixels(image.pixels, options.max_pixels);
    FUZZ_CHECK(image.pixels.u != nullptr);  // owns its memory
    FUZZ_CHECK(image.format == cutout::sniff_format(bytes));
    FUZZ_CHECK(image.orientation >= 1 && image.orientation <= 8);
    FUZZ_CHECK(!options.rgba || image.pixels.channels() == 4);
    FUZZ_CHECK(!image.has_alpha || image.pixels.channels() == 4);
    FUZZ_CHECK(image.format != cutout::ImageFormat::kJpeg || !image.has_alpha);
  } catch (const cutout::Error& e) {
    FUZZ_CHECK(e.code() == cutout::ErrorCode::kUnsupportedFormat ||
               e.code() == cutout::ErrorCode::kUndecodable || e.code() == cutout::ErrorCode::kImageTooLarge);
  }
  return 0;
}
