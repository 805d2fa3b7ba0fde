// dither: the subject as a 1-bit print (SPEC §4).
//
// Output: EffectImage::Kind::kIndexed, a 3-entry palette {0: transparent (0,0,0,0), 1: ink
// (0,0,0,255), 2: paper (255,255,255,255)}, so a 2-bit palette PNG.
//
// Soft edges: a print has no partial ink, so alpha is thresholded: alpha >= 128 is printed (ink or
// paper, fully opaque), alpha < 128 is transparent. Only printed pixels count anywhere below: the
// tone histogram, the local-contrast blur and the error diffusion.
//
// Steps:
//  1. Luminance (Rec. 601, as cv::COLOR_RGBA2GRAY), stretched between the subject's own 1st and
//     99th percentiles to the full ink-paper range. A nearly flat subject is stretched at most 4x
//     (range >= 64 grey levels, widened on each side in proportion to the room there), so a flat
//     grey keeps its own tone instead of turning into noise around 50 %.
//  2. Local contrast: unsharp mask, level + 1.0 * (level - blur), where blur is a Gaussian of the
//     subject alone (normalised convolution: transparent pixels neither darken nor lighten the
//     edge) with sigma = 1 + 0.0028 * sqrt(pixels) (2 px at 0.15 MP, 11 px at 12 MP). Without it
//     eyes, glasses and fur turn into even grey stipple at 1:1; with it they read as shapes. The
//     blur is computed on a block-averaged grid (blocks of floor(sigma) px, so the grid blur has a
//     sigma of 1-2 blocks and costs little) and interpolated back bilinearly row by row, so no
//     full-size temporary is needed.
//  3. 1-bit quantisation of levels 0 (ink) .. 254 (paper):
//     - floyd: Floyd-Steinberg, serpentine scan (alternate rows run right to left with the kernel
//       mirrored), which avoids the diagonal "worms" of a raster scan.
//     - atkinson: Atkinson's kernel (6 neighbours x 1/8; 1/4 of the error is dropped on purpose:
//       crisper, with blown highlights and shadows), serpentine as well.
//     - bayer: 8x8 ordered (Bayer) threshold matrix anchored at the image origin (kBayerMatrix,
//       effects_internal.h).
//     Error diffusion is confined to the subject: a transparent pixel sends no error and the error
//     sent towards one is dropped, so nothing crosses a gap of 2 or more transparent pixels
//     between two subjects (they still share the tone stretch, and the blur where they are
//     closer than ~3 sigma). A pixel whose scan predecessor or upper neighbour is transparent
//     misses the error it would get inside the subject; started from zero error, diffusion would
//     leave a solid black rim a few pixels wide along dark outlines and a dot-free one along light
//     ones. So on such edge pixels the threshold is moved by fixed position-dependent noise,
//     uniform over (0, 1) of the tone range: a first pixel of tone t gets paper with probability t,
//     and the rim has the density of the inside. Pure black and pure white stay pure.
//
// Determinism: the error diffusion is one sequential pass in integer arithmetic (1/16 grey-level
// units in int16 rows); the histogram, block sums and per-pixel preparation are split across
// threads but are integer sums or per-pixel functions, and the (small) grid blur runs on one
// thread in a fixed order, so the bytes never depend on the thread count.
#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/core/utility.hpp>

#include "core/effects_internal.h"

namespace cutout::detail {
namespace {

constexpr uint8_t kTransparentIndex = 0;
constexpr uint8_t kInkIndex = 1;
constexpr uint8_t kPaperIndex = 2;
constexpr int kPrintAlpha = 128;      // alpha >= this is printed
constexpr int kPaperLevel = 254;      // tone levels run 0 (ink) .. 254 (paper)
constexpr uint8_t kNotPrinted = 255;  // level marking a transparent pixel
constexpr int kErrorScale = 16;       // error in 1/16 grey levels: Floyd-Steinberg weights are exact
constexpr int kThreshold = kPaperLevel * kErrorScale / 2;

constexpr double kLowPercentile = 0.01;
constexpr double kHighPercentile = 0.99;
constexpr int kMinToneRange = 64;  // caps the stretch at 4x
constexpr double kDetailSigmaBase = 1.0;
constexpr double kDetailSigmaPerSide = 0.0028;  // times sqrt(pixel count)
constexpr int kDetailAmountQ8 = 256;            // unsharp amount 1.0
constexpr double kGridSigma = 1.0;              // least blur sigma on the block grid, in blocks

// The subject's tone histogram and block sums (luminance and pixel count per block of
// factor x factor pixels), printed pixels only. The sums are whole numbers below 2^24, so float
// holds them exactly.
struct SubjectStats {
  std::array<uint64_t, 256> histogram{};
  uint64_t printed = 0;
  int factor = 1;
  int grid_width = 0;
  int grid_height = 0;
  std::vector<float> grid;  // grid_height x grid_width x {luminance sum, count}
};

SubjectStats gather_stats(const cv::Mat& cutout, int factor) {
  SubjectStats stats;
  stats.factor = factor;
  stats.grid_width = (cutout.cols + factor - 1) / factor;
  stats.grid_height = (cutout.rows + factor - 1) / factor;
  stats.grid.assign(2 * static_cast<size_t>(stats.grid_width) * stats.grid_height, 0.0f);
  std::array<std::atomic<uint64_t>, 256> histogram{};
  // Stripes of whole block rows: each block is written by one stripe, the histogram is an
  // integer sum (order-independent).
  cv::parallel_for_(cv::Range(0, stats.grid_height), [&](const cv::Range& range) {
    std::array<uint32_t, 256> local{};
    std::vector<int32_t> sums(2 * static_cast<size_t>(stats.grid_width));
    for (int by = range.start; by < range.end; ++by) {
      std::fill(sums.begin(), sums.end(), 0);
      const int y_end = std::min(cutout.rows, (by + 1) * factor);
      for (int y = by * factor; y < y_end; ++y) {
        const uint8_t* px = cutout.ptr<uint8_t>(y);
        for (int bx = 0, x = 0; bx < stats.grid_width; ++bx) {
          const int x_end = std::min(cutout.cols, x + factor);
          int sum = 0, n = 0;
          for (; x < x_end; ++x, px += 4) {
            // Transparent runs (most of a cut-out) skip the histogram's read-modify-write chain.
            if (px[3] < kPrintAlpha) continue;
            const int l = luma(px);
            ++local[l];
            sum += l;
            ++n;
          }
          sums[2 * bx] += sum;
          sums[2 * bx + 1] += n;
        }
      }
      float* out = &stats.grid[2 * static_cast<size_t>(by) * stats.grid_width];
      for (size_t i = 0; i < sums.size(); ++i) out[i] = static_cast<float>(sums[i]);
    }
    for (int i = 0; i < 256; ++i) {
      if (local[i] != 0) histogram[i].fetch_add(local[i], std::memory_order_relaxed);
    }
  });
  for (int i = 0; i < 256; ++i) {
    stats.histogram[i] = histogram[i].load();
    stats.printed += stats.histogram[i];
  }
  return stats;
}

// The tone stretch, level = (luminance - low) * 254 / (high - low), in fixed point: for a
// luminance in 1/16 grey levels, level = (l_q4 * gain - offset) >> 16, clamped to 0..254.
struct ToneStretch {
  int gain = 0;    // 254 / (high - low), Q12
  int offset = 0;  // low * gain * 16, minus the rounding half
};

// Robust percentiles of the subject, at most a 4x stretch (see the top of the file).
ToneStretch tone_stretch(const SubjectStats& stats) {
  const double n = static_cast<double>(stats.printed);
  int lo = 0, hi = 255;
  uint64_t below = 0;
  for (int i = 0; i < 256; ++i) {
    below += stats.histogram[i];
    if (static_cast<double>(below) > kLowPercentile * n) {
      lo = i;
      break;
    }
  }
  uint64_t above = 0;
  for (int i = 255; i >= 0; --i) {
    above += stats.histogram[i];
    if (static_cast<double>(above) > (1.0 - kHighPercentile) * n) {
      hi = i;
      break;
    }
  }
  double low = lo, high = std::max(hi, lo);
  if (high - low < kMinToneRange) {
    const double extra = kMinToneRange - (high - low);
    const double room_below = low, room_above = 255.0 - high;
    low -= extra * room_below / (room_below + room_above);
    high = low + kMinToneRange;
  }
  ToneStretch t;
  t.gain = static_cast<int>(std::lround(kPaperLevel / (high - low) * 4096));
  t.offset = static_cast<int>(std::lround(low * kErrorScale * t.gain)) - (1 << 15);
  return t;
}

// The subject's blurred luminance on the block grid, in 1/16 grey levels (0 where no subject is
// near). Blurring the sums and the counts and dividing is a Gaussian of the printed pixels only
// (normalised convolution); zero outside the grid. Float sums in a fixed order: deterministic.
// Blurs stats.grid in place.
std::vector<int16_t> blurred_grid_q4(SubjectStats& stats, double grid_sigma) {
  const int radius = std::max(1, static_cast<int>(std::ceil(3 * grid_sigma)));
  std::vector<float> kernel(2 * radius + 1);
  for (int k = -radius; k <= radius; ++k) {
    kernel[k + radius] = static_cast<float>(std::exp(-0.5 * k * k / (grid_sigma * grid_sigma)));
  }
  const int w = stats.grid_width, h = stats.grid_height;
  std::vector<float> row(2 * static_cast<size_t>(w));
  // Horizontal pass in place (through one row), then the vertical pass straight into the result;
  // sum and count are interleaved, so both are blurred by the same loops.
  for (int y = 0; y < h; ++y) {
    float* line = &stats.grid[2 * static_cast<size_t>(y) * w];
    std::fill(row.begin(), row.end(), 0.0f);
    for (int k = -radius; k <= radius; ++k) {
      const float wk = kernel[k + radius];
      for (int i = 2 * std::max(0, -k); i < 2 * std::min(w, w - k); ++i) row[i] += wk * line[i + 2 * k];
    }
    std::copy(row.begin(), row.end(), line);
  }
  std::vector<int16_t> out(static_cast<size_t>(w) * h, 0);
  for (int y = 0; y < h; ++y) {
    std::fill(row.begin(), row.end(), 0.0f);
    for (int k = std::max(-radius, -y); k <= std::min(radius, h - 1 - y); ++k) {
      const float wk = kernel[k + radius];
      const float* in = &stats.grid[2 * static_cast<size_t>(y + k) * w];
      for (int i = 0; i < 2 * w; ++i) row[i] += wk * in[i];
    }
    int16_t* dst = &out[static_cast<size_t>(y) * w];
    for (int x = 0; x < w; ++x) {
      const float sum = row[2 * x], count = row[2 * x + 1];
      // The mean of at most 255: + 0.5 and truncation round it.
      if (count > 1e-6f) dst[x] = static_cast<int16_t>(kErrorScale * sum / count + 0.5f);
    }
  }
  return out;
}

// Bilinear sampling position of a full-size pixel centre on the block grid.
struct Tap {
  int index;   // lower grid index
  int next;    // index + 1, clamped to the grid
  int weight;  // of `next`, 0..256
};

std::vector<Tap> grid_taps(int size, int factor, int grid_size) {
  std::vector<Tap> taps(size);
  for (int x = 0; x < size; ++x) {
    // Grid coordinate of the pixel centre: (x + 0.5) / factor - 0.5 = num / (2 * factor).
    const int num = 2 * x + 1 - factor, den = 2 * factor;
    int i0 = num >= 0 ? num / den : -((-num + den - 1) / den);
    int w = ((num - i0 * den) * 256 + factor) / den;
    if (i0 < 0) i0 = 0, w = 0;
    if (i0 >= grid_size - 1) i0 = grid_size - 1, w = 0;
    taps[x] = {i0, std::min(i0 + 1, grid_size - 1), w};
  }
  return taps;
}

// One grid row interpolated to full width (1/16 grey levels).
void upsample_grid_row(const int16_t* grid_row, const std::vector<Tap>& col_taps, int16_t* out) {
  for (size_t x = 0; x < col_taps.size(); ++x) {
    const Tap t = col_taps[x];
    out[x] =
        static_cast<int16_t>((grid_row[t.index] * (256 - t.weight) + grid_row[t.next] * t.weight + 128) >> 8);
  }
}

// Writes each pixel's level (0..254, kNotPrinted when transparent) into `out`; with kBayerDither the
// row is thresholded right away (ordered dither needs no neighbours).
template <bool kBayerDither>
void prepare_levels(const cv::Mat& cutout, const SubjectStats& stats, const std::vector<int16_t>& grid,
                    ToneStretch tone, cv::Mat& out) {
  const int width = cutout.cols, grid_w = stats.grid_width;
  const std::vector<Tap> col_taps = grid_taps(width, stats.factor, grid_w);
  const std::vector<Tap> row_taps = grid_taps(cutout.rows, stats.factor, stats.grid_height);
  std::array<uint8_t, 64> bayer_thresholds{};
  for (int i = 0; i < 64; ++i) {
    // level * 128 < (2b + 1) * 254  <=>  level < ceil((2b + 1) * 254 / 128)
    bayer_thresholds[i] =
        static_cast<uint8_t>(((2 * kBayerMatrix[i / 8][i % 8] + 1) * kPaperLevel + 127) / 128);
  }
  cv::parallel_for_(cv::Range(0, cutout.rows), [&](const cv::Range& range) {
    // The blur of grid rows `index` and `next` at full width; rebuilt when a row moves to the
    // next pair of grid rows (every `factor` rows).
    std::vector<int16_t> upper(width), lower(width);
    int upper_index = -1, lower_index = -1;
    for (int y = range.start; y < range.end; ++y) {
      const Tap ty = row_taps[y];
      if (ty.index != upper_index) {
        if (ty.index == lower_index) {
          std::swap(upper, lower);
        } else {
          upsample_grid_row(&grid[static_cast<size_t>(ty.index) * grid_w], col_taps, upper.data());
        }
        upper_index = ty.index;
        lower_index = -1;
      }
      if (ty.next != lower_index) {
        upsample_grid_row(&grid[static_cast<size_t>(ty.next) * grid_w], col_taps, lower.data());
        lower_index = ty.next;
      }
      const int wy = ty.weight;
      const uint8_t* px = cutout.ptr<uint8_t>(y);
      uint8_t* dst = out.ptr<uint8_t>(y);
      for (int x = 0; x < width; ++x, px += 4) {
        const int blur_q4 = (upper[x] * (256 - wy) + lower[x] * wy + 128) >> 8;
        const int l_q4 = luma(px) * kErrorScale;
        const int sharp_q4 = l_q4 + (((l_q4 - blur_q4) * kDetailAmountQ8 + 128) >> 8);
        const int level = std::clamp((sharp_q4 * tone.gain - tone.offset) >> 16, 0, kPaperLevel);
        dst[x] = px[3] >= kPrintAlpha ? static_cast<uint8_t>(level) : kNotPrinted;
      }
      if constexpr (kBayerDither) {
        const uint8_t* thr = bayer_thresholds.data() + 8 * (y & 7);
        for (int x = 0; x < width; ++x) {
          const uint8_t level = dst[x];
          dst[x] = level == kNotPrinted ? kTransparentIndex : (level < thr[x & 7] ? kInkIndex : kPaperIndex);
        }
      }
    }
  });
}

// Threshold noise for edge pixels (see the top of the file): uniform in +-(kThreshold - 1), so
// thresholds stay strictly between ink and paper. It depends on the position only (a 64 x 64
// tile of a fixed xorshift sequence), so the output is deterministic.
constexpr int kNoiseTile = 64;
constexpr int kNoiseSize = kNoiseTile * kNoiseTile;
constexpr int kNoiseAmplitude = kThreshold - 1;

const std::array<int16_t, kNoiseSize>& edge_noise() {
  static const std::array<int16_t, kNoiseSize> table = [] {
    std::array<int16_t, kNoiseSize> t{};
    uint32_t state = 0x9e3779b9u;
    for (auto& v : t) {
      state ^= state << 13, state ^= state >> 17, state ^= state << 5;  // xorshift32
      v = static_cast<int16_t>(static_cast<int>(state % (2 * kNoiseAmplitude + 1)) - kNoiseAmplitude);
    }
    return t;
  }();
  return table;
}

// One Floyd-Steinberg row in direction kDir (+1 left to right, -1 right to left), in place:
// levels in, palette indices out. `above` is the previous row's output (indices), which marks
// edge pixels. `cur` holds this row's incoming error, `next` receives the next row's (every
// pixel written, pads included). Errors are 1/16 grey levels; the next row's three contributions
// are accumulated in registers so each buffer entry is written once.
template <int kDir>
void floyd_row(uint8_t* row, const uint8_t* above, int width, const int16_t* cur, int16_t* next,
               const int16_t* noise) {
  const int first = kDir > 0 ? 0 : width - 1, end = kDir > 0 ? width : -1;
  bool previous_printed = false;
  int carry = 0;      // 7/16 of the previous pixel's error
  int pending_a = 0;  // next[x - kDir] so far: 1/16 of e(x - 2 kDir) + 5/16 of e(x - kDir)
  int pending_b = 0;  // next[x] so far: 1/16 of e(x - kDir)
  for (int x = first; x != end; x += kDir) {
    const int level = row[x];
    const bool printed = level != kNotPrinted;
    const int v = level * kErrorScale + cur[x] + carry;
    const bool edge = !previous_printed || above[x] == kTransparentIndex;
    const bool ink = v < kThreshold + (edge ? noise[x & (kNoiseTile - 1)] : 0);
    const int e = printed ? v - (ink ? 0 : kPaperLevel * kErrorScale) : 0;
    row[x] = printed ? (ink ? kInkIndex : kPaperIndex) : kTransparentIndex;
    previous_printed = printed;
    const int e1 = (e + 8) >> 4, e3 = (3 * e + 8) >> 4, e5 = (5 * e + 8) >> 4;
    carry = e - e1 - e3 - e5;
    next[x - kDir] = static_cast<int16_t>(pending_a + e3);
    pending_a = pending_b + e5;
    pending_b = e1;
  }
  next[end - kDir] = static_cast<int16_t>(pending_a);
  next[end] = static_cast<int16_t>(pending_b);
}

// One Atkinson row: 1/8 of the error to x+1, x+2 (this row), x-1, x, x+1 (next row) and x (the
// row after), mirrored when kDir is -1. `next` already holds the previous row's two-rows-down
// share, so it is added to; `next2` is written fresh. `above` as for floyd_row.
template <int kDir>
void atkinson_row(uint8_t* row, const uint8_t* above, int width, const int16_t* cur, int16_t* next,
                  int16_t* next2, const int16_t* noise) {
  const int first = kDir > 0 ? 0 : width - 1, end = kDir > 0 ? width : -1;
  bool previous_printed = false;
  int carry1 = 0, carry2 = 0;  // this row: for x, for x + kDir
  int pending_a = 0;           // next[x - kDir] so far: e8(x - 2 kDir) + e8(x - kDir)
  int pending_b = 0;           // next[x] so far: e8(x - kDir)
  for (int x = first; x != end; x += kDir) {
    const int level = row[x];
    const bool printed = level != kNotPrinted;
    const int v = level * kErrorScale + cur[x] + carry1;
    const bool edge = !previous_printed || above[x] == kTransparentIndex;
    const bool ink = v < kThreshold + (edge ? noise[x & (kNoiseTile - 1)] : 0);
    const int e = printed ? v - (ink ? 0 : kPaperLevel * kErrorScale) : 0;
    row[x] = printed ? (ink ? kInkIndex : kPaperIndex) : kTransparentIndex;
    previous_printed = printed;
    const int e8 = (e + 4) >> 3;
    carry1 = carry2 + e8;
    carry2 = e8;
    next[x - kDir] = static_cast<int16_t>(next[x - kDir] + pending_a + e8);
    pending_a = pending_b + e8;
    pending_b = e8;
    next2[x] = static_cast<int16_t>(e8);
  }
  next[end - kDir] = static_cast<int16_t>(next[end - kDir] + pending_a);
}

// Error rows with two pads on each side, so x - 2 .. x + 2 are always inside.
constexpr int kPad = 2;

void floyd_steinberg(cv::Mat& levels) {
  const int width = levels.cols;
  std::vector<int16_t> rows[2] = {std::vector<int16_t>(width + 2 * kPad, 0),
                                  std::vector<int16_t>(width + 2 * kPad, 0)};
  const std::vector<uint8_t> outside(width, kTransparentIndex);  // "above" the first row
  for (int y = 0; y < levels.rows; ++y) {
    const int16_t* cur = rows[y & 1].data() + kPad;
    int16_t* next = rows[(y + 1) & 1].data() + kPad;
    const int16_t* noise = edge_noise().data() + kNoiseTile * (y & (kNoiseTile - 1));
    const uint8_t* above = y > 0 ? levels.ptr<uint8_t>(y - 1) : outside.data();
    if (y & 1) {
      floyd_row<-1>(levels.ptr<uint8_t>(y), above, width, cur, next, noise);
    } else {
      floyd_row<1>(levels.ptr<uint8_t>(y), above, width, cur, next, noise);
    }
  }
}

void atkinson(cv::Mat& levels) {
  const int width = levels.cols;
  std::vector<int16_t> rows[3];
  for (auto& r : rows) r.assign(width + 2 * kPad, 0);
  const std::vector<uint8_t> outside(width, kTransparentIndex);  // "above" the first row
  for (int y = 0; y < levels.rows; ++y) {
    const int16_t* cur = rows[y % 3].data() + kPad;
    int16_t* next = rows[(y + 1) % 3].data() + kPad;
    int16_t* next2 = rows[(y + 2) % 3].data() + kPad;
    // next2 was row y-1's `cur`: its pads still hold stale sums; the pixels are all rewritten.
    std::fill_n(next2 - kPad, kPad, int16_t{0});
    std::fill_n(next2 + width, kPad, int16_t{0});
    const int16_t* noise = edge_noise().data() + kNoiseTile * (y & (kNoiseTile - 1));
    const uint8_t* above = y > 0 ? levels.ptr<uint8_t>(y - 1) : outside.data();
    if (y & 1) {
      atkinson_row<-1>(levels.ptr<uint8_t>(y), above, width, cur, next, next2, noise);
    } else {
      atkinson_row<1>(levels.ptr<uint8_t>(y), above, width, cur, next, next2, noise);
    }
  }
}

}  // namespace

EffectImage effect_dither(const cv::Mat& cutout, const EffectParams& params) {
  CV_Assert(cutout.type() == CV_8UC4);
  EffectImage result;
  result.kind = EffectImage::Kind::kIndexed;
  result.palette = {{0, 0, 0, 0}, {0, 0, 0, 255}, {255, 255, 255, 255}};
  result.pixels.create(cutout.size(), CV_8UC1);
  if (cutout.empty()) return result;

  const double sigma =
      kDetailSigmaBase + kDetailSigmaPerSide * std::sqrt(static_cast<double>(cutout.total()));
  const int factor = std::max(1, static_cast<int>(sigma / kGridSigma));
  SubjectStats stats = gather_stats(cutout, factor);
  if (stats.printed == 0) {
    result.pixels.setTo(kTransparentIndex);
    return result;
  }
  const std::vector<int16_t> grid = blurred_grid_q4(stats, sigma / factor);
  const ToneStretch tone = tone_stretch(stats);

  switch (params.dither_method) {
    case DitherMethod::kBayer:
      prepare_levels<true>(cutout, stats, grid, tone, result.pixels);
      break;
    case DitherMethod::kAtkinson:
      prepare_levels<false>(cutout, stats, grid, tone, result.pixels);
      atkinson(result.pixels);
      break;
    case DitherMethod::kFloyd:
      prepare_levels<false>(cutout, stats, grid, tone, result.pixels);
      floyd_steinberg(result.pixels);
      break;
  }
  return result;
}

}  // namespace cutout::detail
