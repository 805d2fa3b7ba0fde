// Feeds the input to the WebP decoder itself (detail::decode_webp, what decode_image dispatches to)
// when it starts with the WebP magic (others are rejected, return -1), without probe_image in front:
// the decoder must hold on its own, since it re-checks the limit against its library's header.
// Limits: fuzz::kMaxPixels (2^16) pixels.
// Expected outcomes: a picture meeting decode_internal.h's invariants, or Error kUndecodable /
// kImageTooLarge; anything else (crash, sanitizer report, other exception) is a finding.
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return cutout::fuzz::decode_one(data, size, cutout::ImageFormat::kWebp, [](std::span<const uint8_t> bytes) {
    return cutout::detail::decode_webp(bytes, cutout::fuzz::kMaxPixels);
  });
}
