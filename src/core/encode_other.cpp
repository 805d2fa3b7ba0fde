// Output format names, and the JPEG (libjpeg-turbo) and WebP (libwebp) writers.
//
// Both libraries are used directly rather than through cv::imencode so that we choose the input
// layout (RGB, no BGR round trip), libwebp's speed/quality knobs and the alpha handling.
#include <algorithm>
#include <cctype>
#include <csetjmp>
#include <cstring>
#include <memory>
#include <string>

#include <jerror.h>  // after jpeglib.h, which it needs
#include <jpeglib.h>
#include <webp/encode.h>
#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "core/image_encode.h"

namespace cutout {
namespace {

// The names of a format, in one place so that the three lookups below cannot disagree.
struct FormatNames {
  std::string_view name;
  std::string_view mime_type;
  std::string_view extension;
};

constexpr FormatNames kPngNames{"png", "image/png", "png"};

FormatNames format_names(OutputFormat format) {
  switch (format) {
    case OutputFormat::kPng:
      return kPngNames;
    case OutputFormat::kWebp:
      return {"webp", "image/webp", "webp"};
    case OutputFormat::kJpeg:
      return {"jpeg", "image/jpeg", "jpg"};
  }
  return kPngNames;  // not an enumerator: named as PNG, the default format
}

}  // namespace

std::string_view output_format_name(OutputFormat format) {
  return format_names(format).name;
}

std::string_view output_mime_type(OutputFormat format) {
  return format_names(format).mime_type;
}

std::string_view output_extension(OutputFormat format) {
  return format_names(format).extension;
}

OutputFormat parse_output_format(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "png") return OutputFormat::kPng;
  if (lower == "webp") return OutputFormat::kWebp;
  if (lower == "jpeg" || lower == "jpg") return OutputFormat::kJpeg;
  throw Error(ErrorCode::kInvalidArgument,
              "unknown format '" + std::string(name) + "' (allowed: png, webp, jpeg)");
}

// ---- JPEG

namespace {

// libjpeg reports errors through error_exit, which must not return. We longjmp back to the
// setjmp in compress_jpeg; no C++ object with a destructor is alive in the frames it skips.
struct JpegErrorManager {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void on_jpeg_error(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

void on_jpeg_message(j_common_ptr) {}  // warnings: libjpeg would print them to stderr

// Destination appending to a std::vector through a 64 KiB staging buffer. (jpeg_mem_dest leaks
// its buffer when compression fails half way.)
struct VectorDestination {
  jpeg_destination_mgr pub;
  std::vector<uint8_t>* out;
  JOCTET staging[65536];
};

void dest_init(j_compress_ptr cinfo) {
  auto* dest = reinterpret_cast<VectorDestination*>(cinfo->dest);
  dest->pub.next_output_byte = dest->staging;
  dest->pub.free_in_buffer = sizeof dest->staging;
}

// Appends `bytes` of the staging buffer; a failed allocation becomes a libjpeg error (longjmp)
// outside the catch block, so no exception crosses libjpeg's C frames.
void dest_flush(j_compress_ptr cinfo, size_t bytes) {
  auto* dest = reinterpret_cast<VectorDestination*>(cinfo->dest);
  bool failed = false;
  try {
    dest->out->insert(dest->out->end(), dest->staging, dest->staging + bytes);
  } catch (...) {
    failed = true;
  }
  if (failed) {
    cinfo->err->msg_code = JERR_OUT_OF_MEMORY;
    (*cinfo->err->error_exit)(reinterpret_cast<j_common_ptr>(cinfo));
  }
}

boolean dest_empty(j_compress_ptr cinfo) {
  auto* dest = reinterpret_cast<VectorDestination*>(cinfo->dest);
  dest_flush(cinfo, sizeof dest->staging);  // libjpeg calls this only when the buffer is full
  dest_init(cinfo);
  return TRUE;
}

void dest_term(j_compress_ptr cinfo) {
  auto* dest = reinterpret_cast<VectorDestination*>(cinfo->dest);
  dest_flush(cinfo, sizeof dest->staging - dest->pub.free_in_buffer);
}

// Returns false with err.message set when libjpeg fails.
bool compress_jpeg(const cv::Mat& image, const JpegOptions& options, JpegErrorManager& err,
                   VectorDestination& dest) {
  jpeg_compress_struct cinfo{};
  cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = on_jpeg_error;
  err.pub.output_message = on_jpeg_message;
  if (setjmp(err.jump)) {
    jpeg_destroy_compress(&cinfo);
    return false;
  }
  jpeg_create_compress(&cinfo);
  dest.pub.init_destination = dest_init;
  dest.pub.empty_output_buffer = dest_empty;
  dest.pub.term_destination = dest_term;
  cinfo.dest = &dest.pub;
  cinfo.image_width = static_cast<JDIMENSION>(image.cols);
  cinfo.image_height = static_cast<JDIMENSION>(image.rows);
  cinfo.input_components = image.channels();
  cinfo.in_color_space = image.channels() == 3 ? JCS_EXT_RGB : JCS_GRAYSCALE;
  jpeg_set_defaults(&cinfo);  // 4:2:0 chroma, Huffman tables from the standard, no optimisation
  jpeg_set_quality(&cinfo, options.quality, TRUE);
  if (!options.subsample_chroma && image.channels() == 3) {
    cinfo.comp_info[0].h_samp_factor = 1;  // luma 1x1 like chroma: 4:4:4
    cinfo.comp_info[0].v_samp_factor = 1;
  }
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(image.ptr<uint8_t>(static_cast<int>(cinfo.next_scanline)));
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  return true;
}

}  // namespace

std::vector<uint8_t> encode_jpeg(const cv::Mat& image, const JpegOptions& options) {
  if (image.empty() || image.dims != 2 || image.depth() != CV_8U) {
    throw Error(ErrorCode::kInvalidArgument, "jpeg: expected a non-empty 8-bit image");
  }
  if (image.channels() != 3 && image.channels() != 1) {
    throw Error(ErrorCode::kInvalidArgument, "jpeg: expected RGB or grey, got " +
                                                 std::to_string(image.channels()) +
                                                 " channels (composite alpha onto a background first)");
  }
  if (options.quality < 1 || options.quality > 100) {
    throw Error(ErrorCode::kInvalidArgument,
                "jpeg: quality must be 1-100, got " + std::to_string(options.quality));
  }
  if (image.cols > JPEG_MAX_DIMENSION || image.rows > JPEG_MAX_DIMENSION) {
    throw Error(ErrorCode::kInvalidArgument, "jpeg: image larger than 65500 pixels on a side");
  }
  std::vector<uint8_t> out;
  out.reserve(static_cast<size_t>(image.total()) * image.channels() / 8 + 4096);  // typical q90
  auto err = std::make_unique<JpegErrorManager>();
  auto dest = std::make_unique<VectorDestination>();
  dest->out = &out;
  if (!compress_jpeg(image, options, *err, *dest)) {
    throw Error(ErrorCode::kInternal, std::string("jpeg: ") + err->message);
  }
  return out;
}

// ---- WebP

namespace {

std::string webp_error_text(WebPEncodingError code) {
  switch (code) {
    case VP8_ENC_ERROR_OUT_OF_MEMORY:
    case VP8_ENC_ERROR_BITSTREAM_OUT_OF_MEMORY:
      return "out of memory";
    case VP8_ENC_ERROR_BAD_DIMENSION:
      return "bad dimension";
    case VP8_ENC_ERROR_PARTITION0_OVERFLOW:
    case VP8_ENC_ERROR_PARTITION_OVERFLOW:
      return "partition overflow (lower the quality)";
    case VP8_ENC_ERROR_FILE_TOO_BIG:
      return "file too big";
    default:
      return "error " + std::to_string(static_cast<int>(code));
  }
}

struct PictureGuard {
  WebPPicture* picture;
  ~PictureGuard() { WebPPictureFree(picture); }
};
struct WriterGuard {
  WebPMemoryWriter* writer;
  ~WriterGuard() { WebPMemoryWriterClear(writer); }
};

}  // namespace

std::vector<uint8_t> encode_webp(const cv::Mat& image, const WebpOptions& options) {
  if (image.empty() || image.dims != 2 || image.depth() != CV_8U || image.channels() > 4) {
    throw Error(ErrorCode::kInvalidArgument, "webp: expected a non-empty 8-bit image, 1-4 channels");
  }
  if (image.cols > WEBP_MAX_DIMENSION || image.rows > WEBP_MAX_DIMENSION) {
    throw Error(ErrorCode::kInvalidArgument, "webp: image larger than 16383 pixels on a side");
  }
  if (!(options.quality >= 0.0f && options.quality <= 100.0f) || options.method < 0 || options.method > 6) {
    throw Error(ErrorCode::kInvalidArgument, "webp: quality must be 0-100 and method 0-6");
  }
  // libwebp imports RGB or RGBA only: grey (+ alpha) is expanded first.
  cv::Mat rgb = image;
  if (image.channels() == 1) cv::cvtColor(image, rgb, cv::COLOR_GRAY2RGB);
  if (image.channels() == 2) {
    const int from_to[] = {0, 0, 0, 1, 0, 2, 1, 3};
    rgb.create(image.size(), CV_8UC4);
    cv::mixChannels(&image, 1, &rgb, 1, from_to, 4);
  }

  WebPConfig config;
  if (!WebPConfigInit(&config)) throw Error(ErrorCode::kInternal, "webp: library version mismatch");
  config.quality = options.quality;
  config.method = options.method;
  config.lossless = options.lossless ? 1 : 0;
  config.thread_level = options.use_threads ? 1 : 0;
  config.alpha_compression = 1;  // lossless alpha plane ...
  config.alpha_quality = 100;    // ... without alpha quantisation
  config.alpha_filtering = 1;    // fast predictive filter for the alpha plane
  config.exact = 0;              // colour under alpha 0 is invisible: libwebp may flatten it
  if (!WebPValidateConfig(&config)) throw Error(ErrorCode::kInvalidArgument, "webp: bad options");

  WebPPicture picture;
  if (!WebPPictureInit(&picture)) throw Error(ErrorCode::kInternal, "webp: library version mismatch");
  PictureGuard picture_guard{&picture};
  picture.width = rgb.cols;
  picture.height = rgb.rows;
  // Lossy: import straight to YUV(A); lossless works on ARGB.
  picture.use_argb = options.lossless ? 1 : 0;
  const int stride = static_cast<int>(rgb.step[0]);
  const bool imported = rgb.channels() == 4 ? WebPPictureImportRGBA(&picture, rgb.data, stride)
                                            : WebPPictureImportRGB(&picture, rgb.data, stride);
  if (!imported) throw Error(ErrorCode::kInternal, "webp: cannot import the picture (memory)");

  WebPMemoryWriter writer;
  WebPMemoryWriterInit(&writer);
  WriterGuard writer_guard{&writer};
  picture.writer = WebPMemoryWrite;
  picture.custom_ptr = &writer;
  if (!WebPEncode(&config, &picture)) {
    throw Error(ErrorCode::kInternal, "webp: " + webp_error_text(picture.error_code));
  }
  return std::vector<uint8_t>(writer.mem, writer.mem + writer.size);
}

}  // namespace cutout
