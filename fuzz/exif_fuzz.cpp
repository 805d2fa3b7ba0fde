// Feeds the input, as a TIFF-structured metadata block (the EXIF of JPEG, PNG and WebP; the first
// IFD of a TIFF), to exif_orientation and tiff_ifd0_value (exif.h) for the three tags the
// decoders read. No limits needed: the reader allocates nothing.
// Expected outcomes (exif.h): never an exception; an orientation 1-8 that agrees with the raw tag.
#include <cstdint>
#include <optional>
#include <span>

#include "core/exif.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> block(data, size);
  const int orientation = cutout::exif_orientation(block);
  FUZZ_CHECK(orientation >= 1 && orientation <= 8);
  const std::optional<uint32_t> raw = cutout::tiff_ifd0_value(block, 0x0112);
  FUZZ_CHECK(raw && *raw >= 1 && *raw <= 8 ? orientation == static_cast<int>(*raw) : orientation == 1);
  (void)cutout::tiff_ifd0_value(block, 256);  // ImageWidth, as probe_image reads it
  (void)cutout::tiff_ifd0_value(block, 257);  // ImageLength
  return 0;
}
