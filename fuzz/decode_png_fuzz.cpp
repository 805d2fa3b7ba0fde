// Feeds the input to the PNG decoder itself (detail::decode_png, what decode_image dispatches to)
// when it starts with the PNG magic (others are rejected, return -1), without probe_image in front:
// the decoder must hold on its own, since it re-checks the limit against its library's header.
// Limits: fuzz::kMaxPixels (2^16) pixels.
// libpng refuses a critical chunk whose CRC does not match, where nearly every mutation would end,
// so the CRC of every complete chunk is recomputed first (on a copy): mutations reach the chunk
// parsers. (decode_image_fuzz feeds PNGs as they are, CRC errors included.)
// Expected outcomes: a picture meeting decode_internal.h's invariants, or Error kUndecodable /
// kImageTooLarge; anything else (crash, sanitizer report, other exception) is a finding.
#include <span>
#include <vector>

#include <zlib.h>

#include "fuzz_check.h"

namespace {

std::vector<uint8_t> with_chunk_crcs_fixed(std::span<const uint8_t> bytes) {
  std::vector<uint8_t> out(bytes.begin(), bytes.end());
  size_t pos = 8;  // after the signature; a chunk is length(4) type(4) data crc(4)
  while (out.size() - pos >= 12) {
    const uint32_t length = cutout::detail::load_u32_be(&out[pos]);
    if (length > out.size() - pos - 12) break;
    const uLong crc = crc32(crc32(0L, Z_NULL, 0), &out[pos + 4], length + 4);
    for (int i = 0; i < 4; ++i) out[pos + 8 + length + i] = static_cast<uint8_t>(crc >> (24 - 8 * i));
    pos += 12 + size_t{length};
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return cutout::fuzz::decode_one(data, size, cutout::ImageFormat::kPng, [](std::span<const uint8_t> bytes) {
    return cutout::detail::decode_png(with_chunk_crcs_fixed(bytes), cutout::fuzz::kMaxPixels);
  });
}
