// Feeds the input to the JPEG decoder itself (detail::decode_jpeg, what decode_image dispatches to)
// when it starts with the JPEG magic (others are rejected, return -1), without probe_image in front:
// the decoder must hold on its own, since it re-checks the limit against its library's header.
// Limits: fuzz::kMaxPixels (2^16) pixels.
// An odd input length asks for RGBA output (libjpeg-turbo's JCS_EXT_RGBA), an even one for RGB.
// Expected outcomes: a picture meeting decode_internal.h's invariants, or Error kUndecodable /
// kImageTooLarge; anything else (crash, sanitizer report, other exception) is a finding.
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const bool rgba = size % 2 == 1;
  return cutout::fuzz::decode_one(
      data, size, cutout::ImageFormat::kJpeg, [rgba](std::span<const uint8_t> bytes) {
        cutout::detail::RawImage raw = cutout::detail::decode_jpeg(bytes, cutout::fuzz::kMaxPixels, rgba);
        FUZZ_CHECK(raw.pixels.channels() == (rgba ? 4 : 3));
        return raw;
      });
}
