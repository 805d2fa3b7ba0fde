// JPEG through libjpeg-turbo, straight into the rows of the output cv::Mat.
//
// Error policy. libjpeg reports fatal errors through error_exit, which we turn into a longjmp and
// then Error(kUndecodable) carrying libjpeg's text. It reports recoverable corruption as warnings
// and would otherwise go on and fill the missing part of the picture with grey. Warnings that mean
// "pixel data is missing or was skipped" are treated as fatal:
//   JWRN_JPEG_EOF     premature end of file (a truncated download)
//   JWRN_HIT_MARKER   entropy data ended early
//   JWRN_MUST_RESYNC  restart marker missing (blocks were skipped)
//   JWRN_HUFF_BAD_CODE, JWRN_ARITH_BAD_CODE  corrupt entropy data
// Other warnings are tolerated because they do not lose pixels and are common in real camera and
// editor output: extraneous bytes before a marker (JWRN_EXTRANEOUS_DATA), unknown JFIF revision,
// unknown Adobe transform, bogus progression or ICC marker, "not sequential" SOS parameters.
// Corruption that produces valid-looking entropy codes cannot be detected by any decoder; such a
// file decodes to a damaged picture.
//
// Bytes after the last scanline (normally just EOI) are not read: jpeg_finish_decompress is not
// called, so trailing garbage is ignored.
//
// setjmp/longjmp and C++: everything that must survive a longjmp lives in a JpegDecoder owned by
// the caller of run_decoder(); run_decoder() itself constructs no object with a destructor after
// setjmp, so the jump skips no destructor. The decoder's destructor releases libjpeg's memory on
// every path, including a C++ exception (kImageTooLarge) thrown from run_decoder().
#include <algorithm>
#include <csetjmp>
#include <cstdio>  // jpeglib.h needs FILE and size_t declared first
#include <cstring>
#include <vector>

// clang-format off
#include <jpeglib.h>
#include <jerror.h>  // after jpeglib.h: its message list depends on jconfig.h's feature macros
// clang-format on

#include "core/decode_internal.h"
#include "core/error.h"
#include "core/exif.h"

namespace cutout::detail {
namespace {

// A progressive JPEG can have thousands of tiny scans, each one a full pass over the coefficient
// buffer: a CPU bomb. Real encoders use at most a few dozen; libjpeg-turbo's TurboJPEG API stops
// at 500 with TJFLAG_LIMITSCANS, so do we.
constexpr int kMaxScans = 500;

// Scanlines requested per jpeg_read_scanlines call; libjpeg returns at most rec_outbuf_height
// (1-4) per call, the rest of the batch only saves loop iterations.
constexpr int kBatchRows = 16;

struct ErrorManager {
  jpeg_error_mgr pub;  // must be first: libjpeg hands us a pointer to it
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

struct JpegDecoder {
  jpeg_decompress_struct cinfo{};
  ErrorManager error{};
  jpeg_progress_mgr progress{};
  std::vector<uint8_t> cmyk_rows;  // CMYK output of one batch, converted into the Mat afterwards

  JpegDecoder() = default;
  JpegDecoder(const JpegDecoder&) = delete;
  JpegDecoder& operator=(const JpegDecoder&) = delete;
  // Safe on a zeroed or half-created struct: jpeg_destroy checks for the memory manager.
  ~JpegDecoder() { jpeg_destroy_decompress(&cinfo); }
};

[[noreturn]] void jump_with_message(j_common_ptr cinfo) {
  auto* error = reinterpret_cast<ErrorManager*>(cinfo->err);
  error->pub.format_message(cinfo, error->message);
  std::longjmp(error->jump, 1);
}

void on_error_exit(j_common_ptr cinfo) {
  jump_with_message(cinfo);
}

bool is_fatal_warning(int code) {
  switch (code) {
    case JWRN_JPEG_EOF:
    case JWRN_HIT_MARKER:
    case JWRN_MUST_RESYNC:
    case JWRN_HUFF_BAD_CODE:
    case JWRN_ARITH_BAD_CODE:
      return true;
    default:
      return false;
  }
}

void on_emit_message(j_common_ptr cinfo, int msg_level) {
  if (msg_level >= 0) return;  // trace messages; libjpeg never writes to stderr without us
  if (is_fatal_warning(cinfo->err->msg_code)) jump_with_message(cinfo);
  ++cinfo->err->num_warnings;
}

void on_progress(j_common_ptr cinfo) {
  auto* dinfo = reinterpret_cast<j_decompress_ptr>(cinfo);
  if (dinfo->input_scan_number > kMaxScans) {
    auto* error = reinterpret_cast<ErrorManager*>(cinfo->err);
    std::snprintf(error->message, sizeof error->message, "more than %d scans", kMaxScans);
    std::longjmp(error->jump, 1);
  }
}

int orientation_from_markers(const jpeg_decompress_struct& cinfo) {
  static constexpr uint8_t kExifHeader[6] = {'E', 'x', 'i', 'f', 0, 0};
  for (jpeg_saved_marker_ptr m = cinfo.marker_list; m != nullptr; m = m->next) {
    if (m->marker == JPEG_APP0 + 1 && m->data_length >= sizeof kExifHeader &&
        std::memcmp(m->data, kExifHeader, sizeof kExifHeader) == 0) {
      return exif_orientation({m->data + sizeof kExifHeader, m->data_length - sizeof kExifHeader});
    }
  }
  return 1;
}

// libjpeg gives CMYK as stored. Adobe (Photoshop) files store inverted values, 255 - ink, and
// files written without the Adobe APP14 marker store the ink itself; R = (255-C)(255-K)/255 etc.
void cmyk_to_rgb(const uint8_t* cmyk, uint8_t* rgb, int width, bool inverted, int out_channels) {
  for (int x = 0; x < width; ++x, cmyk += 4, rgb += out_channels) {
    int c = cmyk[0], m = cmyk[1], y = cmyk[2], k = cmyk[3];
    if (!inverted) {
      c = 255 - c;
      m = 255 - m;
      y = 255 - y;
      k = 255 - k;
    }
    rgb[0] = static_cast<uint8_t>((c * k + 127) / 255);
    rgb[1] = static_cast<uint8_t>((m * k + 127) / 255);
    rgb[2] = static_cast<uint8_t>((y * k + 127) / 255);
    if (out_channels == 4) rgb[3] = 255;
  }
}

// Returns false after a libjpeg error, with the text in d.error.message. See the file comment for
// why only d and out may be touched after setjmp.
bool run_decoder(JpegDecoder& d, std::span<const uint8_t> bytes, uint64_t max_pixels, bool rgba,
                 RawImage& out) {
  if (setjmp(d.error.jump) != 0) return false;

  jpeg_create_decompress(&d.cinfo);
  d.progress.progress_monitor = on_progress;
  d.cinfo.progress = &d.progress;
  jpeg_mem_src(&d.cinfo, bytes.data(), static_cast<unsigned long>(bytes.size()));
  jpeg_save_markers(&d.cinfo, JPEG_APP0 + 1, 0xFFFF);
  jpeg_read_header(&d.cinfo, TRUE);
  check_pixel_limit(d.cinfo.image_width, d.cinfo.image_height, max_pixels, ImageFormat::kJpeg);
  out.orientation = orientation_from_markers(d.cinfo);

  // libjpeg-turbo converts grey and YCbCr to RGB itself (JCS_EXT_RGB: 3 bytes, R first; or
  // JCS_EXT_RGBA with alpha 255); CMYK and YCCK come out as CMYK and are converted below.
  const bool cmyk = d.cinfo.jpeg_color_space == JCS_CMYK || d.cinfo.jpeg_color_space == JCS_YCCK;
  const int channels = rgba ? 4 : 3;
  d.cinfo.out_color_space = cmyk ? JCS_CMYK : rgba ? JCS_EXT_RGBA : JCS_EXT_RGB;
  jpeg_start_decompress(&d.cinfo);

  const int width = static_cast<int>(d.cinfo.output_width);
  const int height = static_cast<int>(d.cinfo.output_height);
  if (d.cinfo.output_components != (cmyk ? 4 : channels)) {
    std::snprintf(d.error.message, sizeof d.error.message, "unexpected %d output components",
                  d.cinfo.output_components);
    return false;
  }
  out.pixels.create(height, width, CV_8UC(channels));
  if (cmyk) d.cmyk_rows.resize(size_t{kBatchRows} * static_cast<size_t>(width) * 4);

  JSAMPROW rows[kBatchRows];
  while (d.cinfo.output_scanline < d.cinfo.output_height) {
    const int first = static_cast<int>(d.cinfo.output_scanline);
    const int batch = std::min(kBatchRows, height - first);
    for (int i = 0; i < batch; ++i) {
      rows[i] = cmyk ? d.cmyk_rows.data() + size_t{4} * static_cast<size_t>(width * i)
                     : out.pixels.ptr<uint8_t>(first + i);
    }
    const int got = static_cast<int>(jpeg_read_scanlines(&d.cinfo, rows, static_cast<JDIMENSION>(batch)));
    if (got <= 0) {
      // Cannot happen with the memory source, which never suspends; guard against a livelock.
      std::snprintf(d.error.message, sizeof d.error.message, "decoder made no progress");
      return false;
    }
    if (cmyk) {
      for (int i = 0; i < got; ++i) {
        cmyk_to_rgb(rows[i], out.pixels.ptr<uint8_t>(first + i), width, d.cinfo.saw_Adobe_marker, channels);
      }
    }
  }
  return true;
}

}  // namespace

RawImage decode_jpeg(std::span<const uint8_t> bytes, uint64_t max_pixels, bool rgba) {
  JpegDecoder decoder;
  decoder.cinfo.err = jpeg_std_error(&decoder.error.pub);
  decoder.error.pub.error_exit = on_error_exit;
  decoder.error.pub.emit_message = on_emit_message;
  RawImage out;
  if (!run_decoder(decoder, bytes, max_pixels, rgba, out)) {
    throw_undecodable(ImageFormat::kJpeg, decoder.error.message);
  }
  return out;
}

RawImage decode_jpeg(std::span<const uint8_t> bytes, uint64_t max_pixels) {
  return decode_jpeg(bytes, max_pixels, false);
}

}  // namespace cutout::detail
