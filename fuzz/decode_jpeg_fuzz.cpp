// Feeds the input to the JPEG decoder itself (detail::decode_jpeg, what decode_image dispatches to)
// when it starts with the JPEG magic (others are rejected, return -1), without probe_image in front:
// the decoder must hold on its own, since it re-checks the limit against its library's header.
// Limits: fuzz::kMaxPixels (2^16) pixels.
// An odd input length asks for RGBA output (libjpeg-turbo's JCS_EXT_RGBA), an even one for RGB.
// Expected outcomes: a picture meeting decode_internal.h's invariants, or Error kUndecodable /
// kImageTooLarge; anything else (crash, sanitizer report, other exception) is a finding.
#include <span>

#include "core/decode_internal.h"
#include "core/error.h"
#include "core/image_io.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> bytes(data, size);
  if (cutout::sniff_format(bytes) != cutout::ImageFormat::kJpeg) return -1;
  try {
    const bool rgba = size % 2 == 1;
    const cutout::detail::RawImage raw = cutout::detail::decode_jpeg(bytes, cutout::fuzz::kMaxPixels, rgba);
    cutout::fuzz::check_pixels(raw.pixels, cutout::fuzz::kMaxPixels);
    FUZZ_CHECK(raw.pixels.channels() == (rgba ? 4 : 3));
    FUZZ_CHECK(raw.orientation >= 1 && raw.orientation <= 8);
  } catch (const cutout::Error& e) {
    FUZZ_CHECK(e.code() == cutout::ErrorCode::kUndecodable || e.code() == cutout::ErrorCode::kImageTooLarge);
  }
  return 0;
}
