#include "core/exif.h"

#include <cstring>

#include "core/decode_internal.h"

namespace cutout {
namespace {

constexpr uint16_t kTagOrientation = 0x0112;
constexpr uint16_t kTypeShort = 3;
constexpr uint16_t kTypeLong = 4;
constexpr size_t kTiffHeaderBytes = 8;
constexpr size_t kIfdEntryBytes = 12;

// Reads integers of the block's byte order; every access is bounds-checked by the caller through
// has(), so a hostile offset can never reach outside the span.
class TiffBlock {
 public:
  explicit TiffBlock(std::span<const uint8_t> bytes) : bytes_(bytes) {}

  bool has(uint64_t offset, uint64_t count) const {
    return offset <= bytes_.size() && count <= bytes_.size() - offset;
  }
  uint16_t u16(uint64_t offset) const {
    const uint8_t* p = bytes_.data() + offset;
    return big_endian_ ? detail::load_u16_be(p) : detail::load_u16_le(p);
  }
  uint32_t u32(uint64_t offset) const {
    const uint8_t* p = bytes_.data() + offset;
    return big_endian_ ? detail::load_u32_be(p) : detail::load_u32_le(p);
  }

  // Validates the 8-byte header and returns the offset of IFD0, or nullopt.
  std::optional<uint64_t> first_ifd() {
    if (!has(0, kTiffHeaderBytes)) return std::nullopt;
    if (bytes_[0] == 'I' && bytes_[1] == 'I') {
      big_endian_ = false;
    } else if (bytes_[0] == 'M' && bytes_[1] == 'M') {
      big_endian_ = true;
    } else {
      return std::nullopt;
    }
    if (u16(2) != 42) return std::nullopt;
    return u32(4);
  }

 private:
  std::span<const uint8_t> bytes_;
  bool big_endian_ = false;
};

std::span<const uint8_t> skip_exif_prefix(std::span<const uint8_t> block) {
  static constexpr uint8_t kPrefix[6] = {'E', 'x', 'i', 'f', 0, 0};
  if (block.size() >= sizeof kPrefix && std::memcmp(block.data(), kPrefix, sizeof kPrefix) == 0) {
    return block.subspan(sizeof kPrefix);
  }
  return block;
}

}  // namespace

std::optional<uint32_t> tiff_ifd0_value(std::span<const uint8_t> tiff_block, uint16_t tag) {
  TiffBlock block(skip_exif_prefix(tiff_block));
  const std::optional<uint64_t> ifd = block.first_ifd();
  if (!ifd || !block.has(*ifd, 2)) return std::nullopt;
  const uint16_t entry_count = block.u16(*ifd);
  for (uint32_t i = 0; i < entry_count; ++i) {
    const uint64_t entry = *ifd + 2 + uint64_t{i} * kIfdEntryBytes;
    if (!block.has(entry, kIfdEntryBytes)) return std::nullopt;
    if (block.u16(entry) != tag) continue;
    const uint16_t type = block.u16(entry + 2);
    const uint32_t count = block.u32(entry + 4);
    if (count == 0 || (type != kTypeShort && type != kTypeLong)) return std::nullopt;
    // Values that fit in 4 bytes are stored inline, left-justified; longer arrays elsewhere, at
    // the offset stored in the entry.
    const uint64_t value_bytes = uint64_t{count} * (type == kTypeShort ? 2 : 4);
    const uint64_t value_at = value_bytes <= 4 ? entry + 8 : block.u32(entry + 8);
    if (!block.has(value_at, type == kTypeShort ? 2 : 4)) return std::nullopt;
    return type == kTypeShort ? block.u16(value_at) : block.u32(value_at);
  }
  return std::nullopt;
}

int exif_orientation(std::span<const uint8_t> tiff_block) {
  const std::optional<uint32_t> value = tiff_ifd0_value(tiff_block, kTagOrientation);
  if (!value || *value < 1 || *value > 8) return 1;
  return static_cast<int>(*value);
}

}  // namespace cutout
