// TIFF through libtiff, read from memory, first page only.
//
// Pixels come from TIFFReadRGBAImageOriented, which handles every photometric interpretation
// libtiff knows (RGB, grey, palette, CMYK, YCbCr, ...) and every bit depth it supports, into
// packed 8-bit RGBA. Two tags are rewritten in libtiff's in-memory copy of the directory first
// (the input bytes are never touched):
//  - Orientation is set to 1, because libtiff only flips for 2-4 and handles the transposing
//    orientations 5-8 wrongly; decode_image applies the original value with apply_orientation.
//  - Unassociated (straight) alpha is relabelled associated, because libtiff would otherwise
//    premultiply it, losing precision; we want straight alpha. Files that really store
//    associated (premultiplied) alpha are un-premultiplied here.
// Alpha is kept (CV_8UC4) only when the first extra sample is an alpha channel, or when an RGB
// image has a fourth sample of unspecified meaning: that is how OpenCV writes RGBA, and libtiff
// (like OpenCV's reader) takes it for alpha too; it is read as straight alpha. Otherwise RGB.
//
// Errors: libtiff's messages go to a per-handle handler (thread-safe, libtiff >= 4.5) that keeps
// the first one for Error(kUndecodable); the process-wide handlers, which would print to stderr
// from code paths without a handle, are silenced once. A strip or tile that lies beyond the end
// of the data (a truncated file) makes the read fail (stop_on_error = 1).
#include <algorithm>
#include <bit>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

#include <tiffio.h>
#include <opencv2/imgproc.hpp>

#include "core/decode_internal.h"
#include "core/error.h"

namespace cutout::detail {
namespace {

struct MemoryFile {
  std::span<const uint8_t> bytes;
  uint64_t position = 0;
  char first_error[512] = {};
};

MemoryFile& file_of(thandle_t handle) {
  return *static_cast<MemoryFile*>(handle);
}

tmsize_t on_read(thandle_t handle, void* buffer, tmsize_t size) {
  MemoryFile& file = file_of(handle);
  if (size <= 0 || file.position >= file.bytes.size()) return 0;
  const uint64_t count = std::min<uint64_t>(static_cast<uint64_t>(size), file.bytes.size() - file.position);
  std::memcpy(buffer, file.bytes.data() + file.position, count);
  file.position += count;
  return static_cast<tmsize_t>(count);
}

tmsize_t on_write(thandle_t, void*, tmsize_t) {
  return -1;
}

toff_t on_seek(thandle_t handle, toff_t offset, int whence) {
  MemoryFile& file = file_of(handle);
  uint64_t base = 0;
  if (whence == SEEK_CUR) base = file.position;
  if (whence == SEEK_END) base = file.bytes.size();
  // Seeking past the end is allowed (reads there return 0 bytes); wrapping around is not.
  if (offset > UINT64_MAX - base) return static_cast<toff_t>(-1);
  file.position = base + offset;
  return file.position;
}

int on_close(thandle_t) {
  return 0;
}

toff_t on_size(thandle_t handle) {
  return file_of(handle).bytes.size();
}

// "Mapping" hands libtiff the input itself, so strips are read without a copy.
int on_map(thandle_t handle, void** base, toff_t* size) {
  MemoryFile& file = file_of(handle);
  *base = const_cast<uint8_t*>(file.bytes.data());  // libtiff only reads through it ("r" mode)
  *size = file.bytes.size();
  return 1;
}

void on_unmap(thandle_t, void*, toff_t) {}

int on_error(TIFF*, void* user_data, const char* module, const char* format, va_list args) {
  auto* file = static_cast<MemoryFile*>(user_data);
  if (file->first_error[0] == '\0') {
    char text[400];
    std::vsnprintf(text, sizeof text, format, args);
    std::snprintf(file->first_error, sizeof file->first_error, "%s: %s", module ? module : "libtiff", text);
  }
  return 1;  // handled: do not call the process-wide handler
}

int on_warning(TIFF*, void*, const char*, const char*, va_list) {
  return 1;
}

void silence_global_handlers() {
  static std::once_flag once;
  std::call_once(once, [] {
    TIFFSetErrorHandler(nullptr);
    TIFFSetWarningHandler(nullptr);
  });
}

struct TiffCloser {
  void operator()(TIFF* tiff) const { TIFFClose(tiff); }
};
struct OptionsDeleter {
  void operator()(TIFFOpenOptions* options) const { TIFFOpenOptionsFree(options); }
};

[[noreturn]] void fail(const MemoryFile& file, const char* fallback) {
  throw_undecodable(ImageFormat::kTiff, file.first_error[0] != '\0' ? file.first_error : fallback);
}

// out = c * 255 / a, rounded and clamped, for premultiplied input.
void unpremultiply(cv::Mat& rgba) {
  for (int y = 0; y < rgba.rows; ++y) {
    auto* row = rgba.ptr<cv::Vec4b>(y);
    for (int x = 0; x < rgba.cols; ++x) {
      const int a = row[x][3];
      if (a == 255 || a == 0) continue;
      for (int c = 0; c < 3; ++c)
        row[x][c] = static_cast<uint8_t>(std::min(255, (row[x][c] * 255 + a / 2) / a));
    }
  }
}

}  // namespace

RawImage decode_tiff(std::span<const uint8_t> bytes, uint64_t max_pixels) {
  silence_global_handlers();
  MemoryFile file{bytes};

  std::unique_ptr<TIFFOpenOptions, OptionsDeleter> options(TIFFOpenOptionsAlloc());
  if (!options) throw Error(ErrorCode::kInternal, "tiff: out of memory");
  TIFFOpenOptionsSetErrorHandlerExtR(options.get(), on_error, &file);
  TIFFOpenOptionsSetWarningHandlerExtR(options.get(), on_warning, &file);
  // Caps every single allocation libtiff makes (strip buffers, offset arrays of a hostile
  // directory) at what a legitimate image under the limit can need: 16 bytes per pixel covers
  // 16-bit samples with up to 8 channels per pixel.
  const uint64_t max_alloc = std::min<uint64_t>(max_pixels, uint64_t{1} << 34) * 16 + (uint64_t{64} << 20);
  TIFFOpenOptionsSetMaxSingleMemAlloc(options.get(), static_cast<tmsize_t>(max_alloc));

  std::unique_ptr<TIFF, TiffCloser> tiff(TIFFClientOpenExt(
      "memory", "r", &file, on_read, on_write, on_seek, on_close, on_size, on_map, on_unmap, options.get()));
  if (!tiff) fail(file, "cannot open");

  uint32_t width = 0;
  uint32_t height = 0;
  if (TIFFGetField(tiff.get(), TIFFTAG_IMAGEWIDTH, &width) != 1 ||
      TIFFGetField(tiff.get(), TIFFTAG_IMAGELENGTH, &height) != 1 || width == 0 || height == 0 ||
      width > 0x7fffffff || height > 0x7fffffff) {
    fail(file, "missing or invalid image size");
  }
  check_pixel_limit(width, height, max_pixels, ImageFormat::kTiff);

  RawImage out;
  uint16_t orientation = ORIENTATION_TOPLEFT;
  TIFFGetFieldDefaulted(tiff.get(), TIFFTAG_ORIENTATION, &orientation);
  out.orientation = orientation >= 1 && orientation <= 8 ? orientation : 1;
  TIFFSetField(tiff.get(), TIFFTAG_ORIENTATION, ORIENTATION_TOPLEFT);

  // Which alpha, if any: see the file comment.
  uint16_t extra_count = 0;
  uint16_t* extra_types = nullptr;
  uint16_t samples_per_pixel = 1;
  uint16_t photometric = PHOTOMETRIC_MINISBLACK;
  TIFFGetFieldDefaulted(tiff.get(), TIFFTAG_EXTRASAMPLES, &extra_count, &extra_types);
  TIFFGetFieldDefaulted(tiff.get(), TIFFTAG_SAMPLESPERPIXEL, &samples_per_pixel);
  TIFFGetField(tiff.get(), TIFFTAG_PHOTOMETRIC, &photometric);
  const uint16_t first_extra =
      extra_count > 0 && extra_types != nullptr ? extra_types[0] : EXTRASAMPLE_UNSPECIFIED;
  const bool unlabelled_rgba =
      photometric == PHOTOMETRIC_RGB && samples_per_pixel >= 4 && first_extra == EXTRASAMPLE_UNSPECIFIED;
  const bool premultiplied = extra_count > 0 && first_extra == EXTRASAMPLE_ASSOCALPHA;
  const bool has_alpha = premultiplied || first_extra == EXTRASAMPLE_UNASSALPHA || unlabelled_rgba;
  if (extra_count > 0 && first_extra == EXTRASAMPLE_UNASSALPHA) {
    std::vector<uint16_t> relabelled(extra_types, extra_types + extra_count);
    relabelled[0] = EXTRASAMPLE_ASSOCALPHA;
    TIFFSetField(tiff.get(), TIFFTAG_EXTRASAMPLES, extra_count, relabelled.data());
  }

  char why[1024] = {};
  if (!TIFFRGBAImageOK(tiff.get(), why)) throw_undecodable(ImageFormat::kTiff, why);

  // The packed ABGR words libtiff writes are R, G, B, A bytes in memory on little-endian hosts.
  static_assert(std::endian::native == std::endian::little, "RGBA byte order assumes little-endian");
  cv::Mat rgba(static_cast<int>(height), static_cast<int>(width), CV_8UC4);
  if (!TIFFReadRGBAImageOriented(tiff.get(), width, height, reinterpret_cast<uint32_t*>(rgba.data),
                                 ORIENTATION_TOPLEFT, 1)) {
    fail(file, "cannot read the pixel data");
  }
  if (has_alpha) {
    if (premultiplied) unpremultiply(rgba);
    out.pixels = std::move(rgba);
  } else {
    cv::cvtColor(rgba, out.pixels, cv::COLOR_RGBA2RGB);
  }
  return out;
}

}  // namespace cutout::detail
