// Feeds the input to sniff_format and probe_image (image_io.h), the header-only reader that checks
// the pixel count before any decoder runs. It allocates nothing in proportion to the claimed
// size, so there is no limit to set.
// Expected outcomes: a positive width and height of the sniffed format, or Error
// kUnsupportedFormat (exactly when sniffing finds no format) / kUndecodable.
#include <span>

#include "core/error.h"
#include "core/image_io.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> bytes(data, size);
  const cutout::ImageFormat sniffed = cutout::sniff_format(bytes);
  try {
    const cutout::ImageInfo info = cutout::probe_image(bytes);
    FUZZ_CHECK(info.format == sniffed && sniffed != cutout::ImageFormat::kUnknown);
    FUZZ_CHECK(info.width > 0 && info.height > 0);
  } catch (const cutout::Error& e) {
    if (e.code() == cutout::ErrorCode::kUnsupportedFormat) {
      FUZZ_CHECK(sniffed == cutout::ImageFormat::kUnknown);
    } else {
      FUZZ_CHECK(e.code() == cutout::ErrorCode::kUndecodable && sniffed != cutout::ImageFormat::kUnknown);
    }
  }
  return 0;
}
