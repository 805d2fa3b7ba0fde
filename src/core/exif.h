// A bounds-checked reader of TIFF-structured metadata: the EXIF block of JPEG (APP1 "Exif\0\0"),
// PNG (eXIf chunk) and WebP (EXIF chunk) files, and the first IFD of a TIFF file.
//
// The input is untrusted: every offset is checked against the block, nothing is read outside it,
// and broken data yields "absent", never an exception. Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

namespace cutout {

// The orientation tag (0x0112) of IFD0, 1-8; 1 when the tag is absent, out of range or the block
// is broken. The block starts with the TIFF header ("II*\0" or "MM\0*"); a leading "Exif\0\0"
// (which some PNG and WebP writers wrongly keep) is skipped.
int exif_orientation(std::span<const uint8_t> tiff_block);

// The first value of a SHORT or LONG tag of IFD0 (same input rules as above); nullopt when absent,
// of another type, or out of bounds. Used for the orientation and for TIFF width and height.
std::optional<uint32_t> tiff_ifd0_value(std::span<const uint8_t> tiff_block, uint16_t tag);

}  // namespace cutout
