// PNG through libpng, straight into the rows of the output cv::Mat.
//
// Output: CV_8UC4 RGBA when the file can carry transparency (an alpha channel or a tRNS chunk),
// even if every pixel happens to be opaque, so that an RGBA PNG round-trips as RGBA; CV_8UC3 RGB
// otherwise. Palette, grey and sub-byte depths are expanded; 16-bit samples are rounded to 8 bits
// (png_set_scale_16, i.e. v / 257 rounded, not truncated). No gamma or colour-profile correction.
//
// Error policy: libpng errors (bad CRC in a critical chunk, broken zlib stream, too little image
// data, a read past the end of the input) become Error(kUndecodable) with libpng's text. The
// decoder reads up to IEND (png_read_end), so a file cut anywhere before IEND is rejected.
// libpng warnings and "benign errors" are ignored; with libpng's defaults they include an
// ancillary chunk with a bad CRC, which is dropped (its metadata, e.g. eXIf, is then not used).
// The exception is a chunk longer than libpng's 8 MB chunk limit, an error (see on_warning).
//
// setjmp/longjmp: as in decode_jpeg.cpp, all state that survives the jump is in a PngDecoder
// owned by the caller of run_decoder(); callbacks copy messages into a fixed char array so that
// no C++ exception ever crosses libpng's C frames.
#include <algorithm>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <png.h>

#include "core/decode_internal.h"
#include "core/error.h"
#include "core/exif.h"

namespace cutout::detail {
namespace {

struct PngDecoder {
  png_structp png = nullptr;
  png_infop info = nullptr;
  std::span<const uint8_t> input;
  size_t position = 0;
  char message[256] = {};
  bool over_user_limit = false;  // libpng refused the IHDR size (png_set_user_limits)
  std::vector<png_bytep> rows;

  PngDecoder() = default;
  PngDecoder(const PngDecoder&) = delete;
  PngDecoder& operator=(const PngDecoder&) = delete;
  ~PngDecoder() { png_destroy_read_struct(&png, &info, nullptr); }
};

void on_error(png_structp png, png_const_charp message) {
  auto* d = static_cast<PngDecoder*>(png_get_error_ptr(png));
  std::snprintf(d->message, sizeof d->message, "%s", message);
  d->over_user_limit = std::strstr(message, "exceeds user limit") != nullptr;
  png_longjmp(png, 1);
}

void on_warning(png_structp png, png_const_charp message) {
  // libpng (1.6.39) reports a chunk longer than its chunk limit (png_set_chunk_malloc_max, 8 MB) only
  // as a benign error, i.e. a warning, and then allocates the declared length anyway: a 100-byte
  // file could make it allocate 2 GB for an eXIf chunk. Such a chunk is a broken file.
  if (std::strstr(message, "chunk data is too large") != nullptr) png_error(png, message);
}

void on_read(png_structp png, png_bytep out, size_t count) {
  auto* d = static_cast<PngDecoder*>(png_get_io_ptr(png));
  if (count > d->input.size() - d->position) png_error(png, "truncated file");
  std::memcpy(out, d->input.data() + d->position, count);
  d->position += count;
}

int exif_orientation_of(png_structp png, png_infop info) {
  png_uint_32 size = 0;
  png_bytep exif = nullptr;
  if (png_get_eXIf_1(png, info, &size, &exif) == 0 || exif == nullptr) return 1;
  return exif_orientation({exif, size});
}

// Returns false after a libpng error, with the text in d.message.
bool run_decoder(PngDecoder& d, uint64_t max_pixels, RawImage& out) {
  if (setjmp(png_jmpbuf(d.png)) != 0) return false;

  png_set_read_fn(d.png, &d, on_read);
  // A second guard beside check_pixel_limit: libpng itself refuses larger IHDR dimensions.
  const auto side_limit = static_cast<png_uint_32>(std::min<uint64_t>(max_pixels, PNG_UINT_31_MAX));
  png_set_user_limits(d.png, std::max<png_uint_32>(side_limit, 1), std::max<png_uint_32>(side_limit, 1));
  png_read_info(d.png, d.info);

  png_uint_32 width = 0;
  png_uint_32 height = 0;
  int bit_depth = 0;
  int color_type = 0;
  png_get_IHDR(d.png, d.info, &width, &height, &bit_depth, &color_type, nullptr, nullptr, nullptr);
  check_pixel_limit(width, height, max_pixels, ImageFormat::kPng);

  const bool has_trns = png_get_valid(d.png, d.info, PNG_INFO_tRNS) != 0;
  const bool has_alpha = (color_type & PNG_COLOR_MASK_ALPHA) != 0 || has_trns;
  if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(d.png);
  if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(d.png);
  if (has_trns) png_set_tRNS_to_alpha(d.png);
  if (bit_depth == 16) png_set_scale_16(d.png);
  if ((color_type & PNG_COLOR_MASK_COLOR) == 0) png_set_gray_to_rgb(d.png);
  png_set_interlace_handling(d.png);
  png_read_update_info(d.png, d.info);

  const int channels = has_alpha ? 4 : 3;
  if (png_get_rowbytes(d.png, d.info) != size_t{width} * static_cast<size_t>(channels)) {
    std::snprintf(d.message, sizeof d.message, "unexpected row size after transformations");
    return false;
  }
  out.pixels.create(static_cast<int>(height), static_cast<int>(width), channels == 4 ? CV_8UC4 : CV_8UC3);
  d.rows.resize(height);
  for (png_uint_32 y = 0; y < height; ++y) d.rows[y] = out.pixels.ptr<uint8_t>(static_cast<int>(y));
  png_read_image(d.png, d.rows.data());
  // Reads the chunks after IDAT up to IEND: catches a truncated tail and picks up an eXIf chunk
  // stored after the image data.
  png_read_end(d.png, d.info);
  out.orientation = exif_orientation_of(d.png, d.info);
  return true;
}

}  // namespace

RawImage decode_png(std::span<const uint8_t> bytes, uint64_t max_pixels) {
  PngDecoder decoder;
  decoder.input = bytes;
  decoder.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &decoder, on_error, on_warning);
  if (decoder.png != nullptr) decoder.info = png_create_info_struct(decoder.png);
  if (decoder.png == nullptr || decoder.info == nullptr) {
    throw Error(ErrorCode::kInternal, "png: cannot create the libpng decoder (out of memory)");
  }
  RawImage out;
  if (!run_decoder(decoder, max_pixels, out)) {
    if (decoder.over_user_limit) {
      throw Error(ErrorCode::kImageTooLarge, std::string("png: ") + decoder.message);
    }
    throw_undecodable(ImageFormat::kPng, decoder.message);
  }
  return out;
}

}  // namespace cutout::detail
