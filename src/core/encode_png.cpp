// Our own PNG writer: filtering and deflate are split across threads, pigz-style.
//
// Why not libpng or cv::imencode: both deflate the whole image on one thread, which made PNG
// encoding the slowest step after inference for 12 MP cut-outs. Here the rows are cut in stripes;
// each stripe is filtered and compressed by its own raw-deflate stream that ends on a byte boundary
// (Z_SYNC_FLUSH, the last one Z_FINISH), so the pieces concatenate into one valid deflate stream.
// We write the zlib header and the adler32 (combined from per-stripe sums) ourselves. When the
// strategy searches matches, a stripe is primed with the last 32 KiB of the previous stripe's
// filtered bytes as its dictionary, so matches across the cut are not lost. The stripe layout
// depends only on the image size, never on the thread count: the output bytes are the same for any
// number of threads.
#include <algorithm>
#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <string>

#include <zlib.h>

#include "core/deflate_runs.h"
#include "core/error.h"
#include "core/image_encode.h"

namespace cutout {
namespace {

// Raw bytes per stripe. Smaller stripes balance threads better; each cut costs a flush (a few
// bytes) and a stream reset. ~1 MiB keeps the cost of a cut below 0.1 % of the output.
constexpr size_t kStripeTargetBytes = size_t{1} << 20;
constexpr int kMinStripeRows = 64;
constexpr size_t kIdatMaxBytes = size_t{1} << 18;  // IDAT payload size; any size is valid PNG
constexpr size_t kWindowBytes = 32768;             // deflate window, used as stripe dictionary

// The rows to compress: `rows` rows of `row_bytes` bytes starting at base, stride apart.
struct RowSource {
  const uint8_t* base = nullptr;
  size_t stride = 0;
  int rows = 0;
  size_t row_bytes = 0;
  int bpp = 1;  // bytes per complete pixel (1 for bit depths below 8), the filter's "left" distance
  const uint8_t* row(int y) const { return base + stride * static_cast<size_t>(y); }
};

// ---- Filters (PNG spec §9.2). Plain loops over distinct buffers; the compiler vectorises them at
// -O3 (no loop-carried dependency: filtering reads raw bytes only, unlike unfiltering).

void filter_sub(const uint8_t* __restrict cur, size_t n, int bpp, uint8_t* __restrict out) {
  const size_t b = static_cast<size_t>(bpp);
  for (size_t i = 0; i < b; ++i) out[i] = cur[i];
  for (size_t i = b; i < n; ++i) out[i] = static_cast<uint8_t>(cur[i] - cur[i - b]);
}

void filter_up(const uint8_t* __restrict cur, const uint8_t* __restrict prev, size_t n,
               uint8_t* __restrict out) {
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(cur[i] - prev[i]);
}

void filter_average(const uint8_t* __restrict cur, const uint8_t* __restrict prev, size_t n, int bpp,
                    uint8_t* __restrict out) {
  const size_t b = static_cast<size_t>(bpp);
  for (size_t i = 0; i < b; ++i) out[i] = static_cast<uint8_t>(cur[i] - (prev[i] >> 1));
  for (size_t i = b; i < n; ++i) {
    out[i] = static_cast<uint8_t>(cur[i] - ((cur[i - b] + prev[i]) >> 1));
  }
}

void filter_paeth(const uint8_t* __restrict cur, const uint8_t* __restrict prev, size_t n, int bpp,
                  uint8_t* __restrict out) {
  const size_t b = static_cast<size_t>(bpp);
  // Left and upper-left are 0 in the first pixel: the predictor is then always `up`.
  for (size_t i = 0; i < b; ++i) out[i] = static_cast<uint8_t>(cur[i] - prev[i]);
  for (size_t i = b; i < n; ++i) {
    // 16-bit arithmetic and selects instead of branches let the compiler use 8 lanes per vector.
    const int16_t a = cur[i - b], up = prev[i], c = prev[i - b];
    const int16_t pa = static_cast<int16_t>(std::abs(up - c));
    const int16_t pb = static_cast<int16_t>(std::abs(a - c));
    const int16_t pc = static_cast<int16_t>(std::abs(a + up - 2 * c));
    const int16_t pred = (pa <= pb && pa <= pc) ? a : (pb <= pc ? up : c);
    out[i] = static_cast<uint8_t>(cur[i] - pred);
  }
}

// libpng's heuristic: the filtered bytes, read as signed, with the smallest sum of magnitudes.
uint64_t signed_magnitude_sum(const uint8_t* p, size_t n) {
  uint64_t sum = 0;
  for (size_t i = 0; i < n; ++i) {
    const int v = static_cast<int8_t>(p[i]);
    sum += static_cast<uint32_t>(v < 0 ? -v : v);
  }
  return sum;
}

// Per-worker scratch rows for the adaptive filter.
struct FilterScratch {
  std::vector<uint8_t> zero_row;
  std::vector<uint8_t> candidates;  // 4 rows: Sub, Up, Average, Paeth
};

// Writes the filter type byte and the filtered row y into out (row_bytes + 1 bytes).
void filter_row(const RowSource& src, int y, PngFilter filter, FilterScratch& scratch, uint8_t* out) {
  const uint8_t* cur = src.row(y);
  const uint8_t* prev = y > 0 ? src.row(y - 1) : scratch.zero_row.data();
  const size_t n = src.row_bytes;
  uint8_t* data = out + 1;
  switch (filter) {
    case PngFilter::kNone:
      out[0] = 0;
      std::memcpy(data, cur, n);
      return;
    case PngFilter::kSub:
      out[0] = 1;
      filter_sub(cur, n, src.bpp, data);
      return;
    case PngFilter::kUp:
      out[0] = 2;
      filter_up(cur, prev, n, data);
      return;
    case PngFilter::kAverage:
      out[0] = 3;
      filter_average(cur, prev, n, src.bpp, data);
      return;
    case PngFilter::kPaeth:
      out[0] = 4;
      filter_paeth(cur, prev, n, src.bpp, data);
      return;
    case PngFilter::kAdaptive:
      break;
  }
  uint8_t* cand = scratch.candidates.data();
  filter_sub(cur, n, src.bpp, cand);
  filter_up(cur, prev, n, cand + n);
  filter_average(cur, prev, n, src.bpp, cand + 2 * n);
  filter_paeth(cur, prev, n, src.bpp, cand + 3 * n);
  int best = 0;
  uint64_t best_sum = signed_magnitude_sum(cur, n);
  for (int f = 1; f <= 4; ++f) {
    const uint64_t sum = signed_magnitude_sum(cand + (f - 1) * n, n);
    if (sum < best_sum) best = f, best_sum = sum;
  }
  out[0] = static_cast<uint8_t>(best);
  std::memcpy(data, best == 0 ? cur : cand + (best - 1) * n, n);
}

int zlib_strategy(PngStrategy strategy) {
  switch (strategy) {
    case PngStrategy::kDefault:
      return Z_DEFAULT_STRATEGY;
    case PngStrategy::kRle:
      return Z_RLE;
    case PngStrategy::kFiltered:
      return Z_FILTERED;
    case PngStrategy::kHuffmanOnly:
      return Z_HUFFMAN_ONLY;
  }
  return Z_DEFAULT_STRATEGY;
}

// One raw-deflate stream per worker, reset for each stripe it takes.
class StripeCompressor {
 public:
  StripeCompressor(const RowSource& src, const PngOptions& options, int stripe_rows)
      : src_(src),
        filter_(options.filter),
        stripe_rows_(stripe_rows),
        uses_matches_(options.compression_level > 0 && options.strategy != PngStrategy::kRle &&
                      options.strategy != PngStrategy::kHuffmanOnly),
        own_runs_(options.compression_level > 0 && options.strategy == PngStrategy::kRle) {
    const size_t filtered_row = src.row_bytes + 1;
    scratch_.zero_row.assign(src.row_bytes, 0);
    if (filter_ == PngFilter::kAdaptive) scratch_.candidates.resize(4 * src.row_bytes);
    filtered_.resize(filtered_row * static_cast<size_t>(stripe_rows));
    if (own_runs_) return;  // deflate_runs(): no zlib stream
    std::memset(&zs_, 0, sizeof zs_);
    // memLevel 8 (zlib's default): measured 5 % faster than 9 for 0.2 % more bytes; its 16 Ki
    // symbol buffer stays in cache.
    if (deflateInit2(&zs_, options.compression_level, Z_DEFLATED, -15, 8, zlib_strategy(options.strategy)) !=
        Z_OK) {
      throw Error(ErrorCode::kInternal, "png: deflateInit2 failed");
    }
    zlib_ready_ = true;
    out_.resize(deflateBound(&zs_, filtered_.size()) + 64);
  }
  ~StripeCompressor() {
    if (zlib_ready_) deflateEnd(&zs_);
  }
  StripeCompressor(const StripeCompressor&) = delete;
  StripeCompressor& operator=(const StripeCompressor&) = delete;

  struct Result {
    std::vector<uint8_t> deflated;
    uLong adler = 1;  // adler32 of this stripe's filtered bytes alone
    size_t filtered_bytes = 0;
  };

  Result compress(int stripe) {
    const int y0 = stripe * stripe_rows_;
    const int y1 = std::min(src_.rows, y0 + stripe_rows_);
    const bool last = y1 == src_.rows;
    const size_t filtered_row = src_.row_bytes + 1;
    uint8_t* p = filtered_.data();
    for (int y = y0; y < y1; ++y, p += filtered_row) filter_row(src_, y, filter_, scratch_, p);
    Result result;
    result.filtered_bytes = static_cast<size_t>(p - filtered_.data());
    result.adler =
        adler32(adler32(0, nullptr, 0), filtered_.data(), static_cast<uInt>(result.filtered_bytes));
    if (own_runs_) {
      deflate_runs(filtered_.data(), result.filtered_bytes, last, result.deflated);
      return result;
    }

    if (deflateReset(&zs_) != Z_OK) throw Error(ErrorCode::kInternal, "png: deflateReset failed");
    // Huffman-only coding never looks back: a dictionary would cost time for nothing.
    if (y0 > 0 && uses_matches_) set_dictionary(y0);

    zs_.next_in = filtered_.data();
    zs_.avail_in = static_cast<uInt>(result.filtered_bytes);
    const int flush = last ? Z_FINISH : Z_SYNC_FLUSH;
    for (;;) {
      zs_.next_out = out_.data();
      zs_.avail_out = static_cast<uInt>(out_.size());
      const int rc = deflate(&zs_, flush);
      if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
        throw Error(ErrorCode::kInternal, "png: deflate failed");
      }
      result.deflated.insert(result.deflated.end(), out_.data(), zs_.next_out);
      // Done when all input is consumed and the flush completed (output space left over); out_
      // holds deflateBound() bytes, so this is normally the first pass.
      if (last ? rc == Z_STREAM_END : (zs_.avail_in == 0 && zs_.avail_out != 0)) break;
    }
    return result;
  }

 private:
  // The previous stripe's last filtered bytes (recomputed: filtering a row depends only on the raw
  // rows), so this stripe can match across the cut exactly as a single stream would.
  void set_dictionary(int y0) {
    const size_t filtered_row = src_.row_bytes + 1;
    const int rows = static_cast<int>(
        std::min<size_t>(static_cast<size_t>(y0), (kWindowBytes + filtered_row - 1) / filtered_row));
    dictionary_.resize(filtered_row * static_cast<size_t>(rows));
    for (int i = 0; i < rows; ++i) {
      filter_row(src_, y0 - rows + i, filter_, scratch_, dictionary_.data() + filtered_row * i);
    }
    const size_t take = std::min(kWindowBytes, dictionary_.size());
    deflateSetDictionary(&zs_, dictionary_.data() + dictionary_.size() - take, static_cast<uInt>(take));
  }

  const RowSource& src_;
  PngFilter filter_;
  int stripe_rows_;
  bool uses_matches_;
  bool own_runs_;  // runs (kRle) go through deflate_runs(), not zlib
  bool zlib_ready_ = false;
  z_stream zs_;
  FilterScratch scratch_;
  std::vector<uint8_t> filtered_;
  std::vector<uint8_t> dictionary_;
  std::vector<uint8_t> out_;
};

int stripe_rows_for(const RowSource& src) {
  const size_t filtered_row = src.row_bytes + 1;
  // zlib counts input in 32-bit uInt: a stripe of kMinStripeRows rows must stay far below that.
  if (filtered_row > (size_t{1} << 31) / kMinStripeRows) {
    throw Error(ErrorCode::kInvalidArgument, "png: rows too wide");
  }
  const size_t rows =
      std::max<size_t>(kMinStripeRows, (kStripeTargetBytes + filtered_row - 1) / filtered_row);
  return static_cast<int>(std::min<size_t>(rows, static_cast<size_t>(src.rows)));
}

// The zlib stream of the filtered rows, in pieces: header, one deflate piece per stripe, adler32.
struct ZlibPieces {
  std::array<uint8_t, 2> header{};
  std::vector<std::vector<uint8_t>> stripes;
  std::array<uint8_t, 4> adler{};
  size_t size() const {
    size_t n = header.size() + adler.size();
    for (const auto& s : stripes) n += s.size();
    return n;
  }
};

ZlibPieces compress_rows(const RowSource& src, const PngOptions& options) {
  const int stripe_rows = stripe_rows_for(src);
  const int stripes = (src.rows + stripe_rows - 1) / stripe_rows;
  int threads = options.threads > 0 ? options.threads : std::max(1, cv::getNumThreads());
  threads = std::min(threads, stripes);

  std::vector<StripeCompressor::Result> results(static_cast<size_t>(stripes));
  std::atomic<int> next_stripe{0};
  std::mutex error_mutex;
  std::exception_ptr error;
  // Each worker owns one stream and pulls stripes until none is left: balanced even when the
  // transparent stripes compress much faster than the subject.
  auto worker = [&]() {
    try {
      int s = next_stripe++;
      if (s >= stripes) return;  // the others took all the work: no stream to set up
      StripeCompressor compressor(src, options, stripe_rows);
      for (; s < stripes; s = next_stripe++) results[static_cast<size_t>(s)] = compressor.compress(s);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!error) error = std::current_exception();
      next_stripe = stripes;
    }
  };
  if (threads <= 1) {
    worker();
  } else {
    cv::parallel_for_(
        cv::Range(0, threads),
        [&](const cv::Range& range) {
          for (int i = range.start; i < range.end; ++i) worker();
        },
        threads);
  }
  if (error) std::rethrow_exception(error);

  ZlibPieces pieces;
  // zlib header: deflate with a 32 KiB window, FLEVEL as zlib would write it, FCHECK.
  const int level = options.compression_level;
  const bool fastest =
      level < 2 || options.strategy == PngStrategy::kHuffmanOnly || options.strategy == PngStrategy::kRle;
  const unsigned flevel = fastest ? 0 : level < 6 ? 1 : level == 6 ? 2 : 3;
  const unsigned cmf = 0x78;
  unsigned flg = flevel << 6;
  flg += (31 - (cmf * 256 + flg) % 31) % 31;
  pieces.header = {static_cast<uint8_t>(cmf), static_cast<uint8_t>(flg)};

  uLong adler = results[0].adler;
  for (size_t i = 1; i < results.size(); ++i) {
    adler = adler32_combine(adler, results[i].adler, static_cast<z_off_t>(results[i].filtered_bytes));
  }
  for (int i = 0; i < 4; ++i) pieces.adler[i] = static_cast<uint8_t>(adler >> (24 - 8 * i));
  pieces.stripes.reserve(results.size());
  for (auto& r : results) pieces.stripes.push_back(std::move(r.deflated));
  return pieces;
}

void check_options(const PngOptions& options) {
  if (options.compression_level < 0 || options.compression_level > 9) {
    throw Error(ErrorCode::kInvalidArgument,
                "png: compression level must be 0-9, got " + std::to_string(options.compression_level));
  }
  if (options.threads < 0) throw Error(ErrorCode::kInvalidArgument, "png: threads must be >= 0");
  for (const auto& chunk : options.extra_chunks) {
    const std::string& t = chunk.type;
    const bool letters = t.size() == 4 && std::all_of(t.begin(), t.end(), [](char c) {
                           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
                         });
    if (!letters || !(t[0] >= 'a' && t[0] <= 'z') || t == "tRNS" || t == "bKGD" || t == "hIST") {
      throw Error(ErrorCode::kInvalidArgument,
                  "png: extra chunk type '" + t + "' is not an ancillary chunk allowed before PLTE");
    }
    if (chunk.data.size() > 0x7fffffffu) {
      throw Error(ErrorCode::kInvalidArgument, "png: extra chunk '" + t + "' is too large");
    }
  }
}

void check_size(const cv::Mat& image, const char* what) {
  if (image.empty()) throw Error(ErrorCode::kInvalidArgument, std::string(what) + ": empty image");
  if (image.dims != 2) throw Error(ErrorCode::kInvalidArgument, std::string(what) + ": not 2-D");
}

// ---- Chunks

// Writes into a buffer sized in advance by the caller (no reallocation, no bounds checks needed).
class ChunkWriter {
 public:
  explicit ChunkWriter(uint8_t* p) : begin_(p), p_(p) {}
  size_t written() const { return static_cast<size_t>(p_ - begin_); }

  void bytes(const void* data, size_t size) {
    if (size > 0) std::memcpy(p_, data, size);
    p_ += size;
  }
  void u32(uint32_t v) {
    const uint8_t b[4] = {static_cast<uint8_t>(v >> 24), static_cast<uint8_t>(v >> 16),
                          static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)};
    bytes(b, 4);
  }
  void chunk(std::string_view type, const uint8_t* data, size_t size) {
    u32(static_cast<uint32_t>(size));
    uint8_t* crc_from = p_;
    bytes(type.data(), 4);
    bytes(data, size);
    u32(static_cast<uint32_t>(crc32(crc32(0, nullptr, 0), crc_from, static_cast<uInt>(4 + size))));
  }
  // The zlib stream as IDAT chunks of at most kIdatMaxBytes, the CRC computed as it is copied.
  void idat_chunks(const ZlibPieces& pieces) {
    idat_append(pieces.header.data(), pieces.header.size());
    for (const auto& s : pieces.stripes) idat_append(s.data(), s.size());
    idat_append(pieces.adler.data(), pieces.adler.size());
    idat_close();
  }

 private:
  void idat_append(const uint8_t* data, size_t size) {
    while (size > 0) {
      if (idat_length_field_ == nullptr) {
        idat_length_field_ = p_;
        u32(0);  // patched in idat_close()
        bytes("IDAT", 4);
        crc_ = crc32(crc32(0, nullptr, 0), p_ - 4, 4);
        idat_length_ = 0;
      }
      const size_t take = std::min(size, kIdatMaxBytes - idat_length_);
      bytes(data, take);
      crc_ = crc32(crc_, data, static_cast<uInt>(take));
      idat_length_ += take, data += take, size -= take;
      if (idat_length_ == kIdatMaxBytes) idat_close();
    }
  }
  void idat_close() {
    if (idat_length_field_ == nullptr) return;
    uint8_t* end = p_;
    p_ = idat_length_field_;
    u32(static_cast<uint32_t>(idat_length_));
    p_ = end;
    u32(static_cast<uint32_t>(crc_));
    idat_length_field_ = nullptr;
  }

  uint8_t* begin_;
  uint8_t* p_;
  uint8_t* idat_length_field_ = nullptr;
  size_t idat_length_ = 0;
  uLong crc_ = 0;
};

// Signature, IHDR, extra chunks, PLTE/tRNS (palette only), IDATs, IEND.
std::vector<uint8_t> assemble(int width, int height, int bit_depth, int colour_type,
                              const PngOptions& options, std::span<const std::array<uint8_t, 4>> palette,
                              const ZlibPieces& pieces) {
  const size_t stream_size = pieces.size();
  size_t capacity = 8 + 25 + 12 + stream_size + 12 * (stream_size / kIdatMaxBytes + 1);
  for (const auto& c : options.extra_chunks) capacity += 12 + c.data.size();
  capacity += 12 + 3 * palette.size() + 12 + palette.size();
  std::vector<uint8_t> out(capacity);
  ChunkWriter w(out.data());

  static constexpr uint8_t kSignature[8] = {137, 80, 78, 71, 13, 10, 26, 10};
  w.bytes(kSignature, sizeof kSignature);
  uint8_t ihdr[13] = {};
  for (int i = 0; i < 4; ++i) {
    ihdr[i] = static_cast<uint8_t>(static_cast<uint32_t>(width) >> (24 - 8 * i));
    ihdr[4 + i] = static_cast<uint8_t>(static_cast<uint32_t>(height) >> (24 - 8 * i));
  }
  ihdr[8] = static_cast<uint8_t>(bit_depth);
  ihdr[9] = static_cast<uint8_t>(colour_type);
  // ihdr[10..12] = 0: compression method deflate, filter method 0, no interlace
  w.chunk("IHDR", ihdr, sizeof ihdr);
  for (const auto& c : options.extra_chunks) w.chunk(c.type, c.data.data(), c.data.size());

  if (!palette.empty()) {
    std::vector<uint8_t> plte, trns;
    for (const auto& e : palette) plte.insert(plte.end(), e.begin(), e.begin() + 3);
    for (const auto& e : palette) trns.push_back(e[3]);
    // tRNS may stop at the last non-opaque entry; omitted entries are opaque.
    while (!trns.empty() && trns.back() == 255) trns.pop_back();
    w.chunk("PLTE", plte.data(), plte.size());
    if (!trns.empty()) w.chunk("tRNS", trns.data(), trns.size());
  }
  w.idat_chunks(pieces);
  w.chunk("IEND", nullptr, 0);
  out.resize(w.written());
  return out;
}

}  // namespace

std::vector<uint8_t> encode_png(const cv::Mat& image, const PngOptions& options) {
  check_size(image, "png");
  if (image.depth() != CV_8U || image.channels() < 1 || image.channels() > 4) {
    throw Error(ErrorCode::kInvalidArgument, "png: expected an 8-bit image with 1 to 4 channels");
  }
  check_options(options);
  static constexpr int kColourType[5] = {0, 0, 4, 2, 6};
  RowSource src;
  src.base = image.data;
  src.stride = image.step[0];
  src.rows = image.rows;
  src.bpp = image.channels();
  src.row_bytes = static_cast<size_t>(image.cols) * static_cast<size_t>(src.bpp);
  const ZlibPieces stream = compress_rows(src, options);
  return assemble(image.cols, image.rows, 8, kColourType[image.channels()], options, {}, stream);
}

std::vector<uint8_t> encode_png_indexed(const cv::Mat& indices,
                                        std::span<const std::array<uint8_t, 4>> palette_rgba, int bit_depth,
                                        const PngOptions& options) {
  check_size(indices, "png indexed");
  if (indices.type() != CV_8UC1) {
    throw Error(ErrorCode::kInvalidArgument, "png indexed: indices must be CV_8UC1");
  }
  if (bit_depth != 1 && bit_depth != 2 && bit_depth != 4 && bit_depth != 8) {
    throw Error(ErrorCode::kInvalidArgument,
                "png indexed: bit depth must be 1, 2, 4 or 8, got " + std::to_string(bit_depth));
  }
  const size_t max_entries = size_t{1} << bit_depth;
  if (palette_rgba.empty() || palette_rgba.size() > max_entries) {
    throw Error(ErrorCode::kInvalidArgument,
                "png indexed: palette needs 1 to " + std::to_string(max_entries) + " entries at bit depth " +
                    std::to_string(bit_depth) + ", got " + std::to_string(palette_rgba.size()));
  }
  check_options(options);

  // Pack the indices MSB first (PNG spec §7.2), checking that each one names a palette entry:
  // decoders reject out-of-range indices.
  const int per_byte = 8 / bit_depth;
  const size_t row_bytes = (static_cast<size_t>(indices.cols) + per_byte - 1) / per_byte;
  cv::Mat packed(indices.rows, static_cast<int>(row_bytes), CV_8UC1, cv::Scalar(0));
  uint8_t max_index = 0;
  for (int y = 0; y < indices.rows; ++y) {
    const uint8_t* in = indices.ptr<uint8_t>(y);
    uint8_t* out = packed.ptr<uint8_t>(y);
    uint8_t row_max = 0;
    for (int x = 0; x < indices.cols; ++x) row_max = std::max(row_max, in[x]);
    max_index = std::max(max_index, row_max);
    if (bit_depth == 8) {
      std::memcpy(out, in, row_bytes);
      continue;
    }
    // Whole bytes first, then the partly filled last byte (low bits stay 0).
    const int full = indices.cols / per_byte;
    for (int bx = 0; bx < full; ++bx) {
      const uint8_t* px = in + bx * per_byte;
      unsigned v = 0;
      for (int k = 0; k < per_byte; ++k) v = (v << bit_depth) | px[k];
      out[bx] = static_cast<uint8_t>(v);
    }
    unsigned tail = 0;
    const int rest = indices.cols - full * per_byte;
    for (int k = 0; k < rest; ++k) tail |= unsigned{in[full * per_byte + k]} << (8 - bit_depth * (k + 1));
    if (rest > 0) out[full] = static_cast<uint8_t>(tail);
  }
  if (max_index >= palette_rgba.size()) {
    throw Error(ErrorCode::kInvalidArgument, "png indexed: index " + std::to_string(max_index) +
                                                 " is outside the palette of " +
                                                 std::to_string(palette_rgba.size()) + " entries");
  }

  RowSource src;
  src.base = packed.data;
  src.stride = packed.step[0];
  src.rows = packed.rows;
  src.bpp = 1;
  src.row_bytes = row_bytes;
  // Filters rarely help palette indices (PNG spec §12.8 recommends None for them).
  PngOptions indexed_options = options;
  indexed_options.filter = PngFilter::kNone;
  const ZlibPieces stream = compress_rows(src, indexed_options);
  return assemble(indices.cols, indices.rows, bit_depth, 3, options, palette_rgba, stream);
}

}  // namespace cutout
