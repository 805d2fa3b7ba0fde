// Pop art (SPEC §4): a Warhol-style poster of the subject in four flat tones.
//
// Output: EffectImage::Kind::kIndexed (CV_8UC1 indices + RGBA palette, at most 256 entries).
// - Tones: the subject's luminance, smoothed so that areas are bold and flat, is cut into 4 tones by
//   3 thresholds taken from the subject's own histogram (only pixels with alpha > 0 count): the
//   mean of the 20/50/80 % quantiles and the 4-class Otsu thresholds, so every subject gets all four
//   tones (the quantiles) while the cuts follow its light and dark masses (Otsu). Tone 0 is the
//   palette's darkest colour.
// - Smoothing scales with the image: the luminance is averaged on a grid of s x s blocks (s chosen so
//   that the grid is about kFieldSide blocks across, whatever the photo's size), blurred there
//   (Gaussian, sigma ~1 block, ignoring background blocks), median-filtered twice (5x5: removes
//   speckle, keeps edges), then sampled bilinearly at every output pixel before thresholding, so
//   tone borders are smooth curves at any resolution and the same photo gives the same poster at
//   any size. Opaque pixels outweigh soft edge pixels 2^16 : alpha in the averages, because a
//   matte's soft edge carries the old background's colour and would draw a rim of its own tone.
// - popart_grid 2: a 2x2 grid (the chosen palette, then the next three in popart_palettes(), wrapping)
//   of the cut-out at half size (each panel pixel is a 2x2 block of the photo: alpha is the block's
//   mean). The output keeps the photo's size: panels are floor(W/2) x floor(H/2); with an odd width
//   or height the last column or row is padding of the right or bottom panels (transparent, or that
//   panel's background colour). A 1-pixel-wide or -high photo is all padding.
// - Alpha (popart_background=transparent, the default): a palette cannot hold 4 tones x 256 alpha
//   levels, so alpha is quantised: index 0 is fully transparent, and each tone has `levels` entries
//   whose alpha is 255 for the top level and the middle of an equal share of 1..254 for the others.
//   One panel: 63 levels per tone (253 entries), alpha error at most 2. 2x2 grid: 15 levels for
//   each of 16 tone colours (241 entries), error at most 9 against the 2x2 block mean. Alpha 0 and
//   255 are always exact, and a pixel with alpha > 0 never becomes transparent.
// - popart_background=palette: an opaque poster on the palette's flat background colour; the soft
//   edge is kept as a blend of tone over background whose weight (the pixel's alpha) is quantised
//   the same way (one panel: 1 + 4 x 63 = 253 entries; grid: 4 x (1 + 4 x 15) = 244).
// - Deterministic: integer block sums, blurs whose loop order is fixed, integer interpolation; the
//   output bytes do not depend on the number of threads (cv::parallel_for_ over rows).
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "core/effects_internal.h"

namespace cutout::detail {
namespace {

constexpr int kTones = 4;
constexpr int kFieldSide = 400;         // blocks across sqrt(W*H) of the smoothing grid
constexpr double kFieldSigma = 0.0025;  // Gaussian sigma, as a share of sqrt(W*H)
constexpr int kMedianSize = 5;          // median filter of the grid, in blocks
constexpr int kMedianPasses = 2;
constexpr int64_t kOpaqueWeight = 1 << 16;  // weight of an alpha 255 pixel; others weigh alpha
constexpr double kQuantiles[3] = {0.2, 0.5, 0.8};

// Alpha quantisation: level `levels` is exactly 255; levels 1..levels-1 split alpha 1..254 into
// equal bins, each shown as its bin's middle; alpha 0 is level 0 (the transparent entry).
struct AlphaLevels {
  int levels = 0;
  std::array<uint8_t, 256> level_of{};  // level of each alpha
  std::vector<uint8_t> alpha_of;        // alpha of each level
};

AlphaLevels make_alpha_levels(int levels) {
  AlphaLevels q;
  q.levels = levels;
  q.alpha_of.assign(levels + 1, 0);
  std::vector<int> lo(levels + 1, 256), hi(levels + 1, -1);
  for (int a = 1; a <= 254; ++a) {
    const int k = 1 + (a - 1) * (levels - 1) / 254;
    q.level_of[a] = static_cast<uint8_t>(k);
    lo[k] = std::min(lo[k], a);
    hi[k] = std::max(hi[k], a);
  }
  q.level_of[255] = static_cast<uint8_t>(levels);
  for (int k = 1; k < levels; ++k) q.alpha_of[k] = static_cast<uint8_t>((lo[k] + hi[k] + 1) / 2);
  q.alpha_of[levels] = 255;
  return q;
}

// The palette and, per panel, the index of each (tone, alpha) pair.
struct PaletteLayout {
  std::vector<std::array<uint8_t, 4>> palette;
  std::vector<std::array<std::array<uint8_t, 256>, kTones>> index_of;
  std::vector<uint8_t> empty_index;  // alpha 0 (and padding) of each panel
};

PaletteLayout make_layout(const std::vector<const PopartPalette*>& panels, bool transparent) {
  const int n = static_cast<int>(panels.size());
  const AlphaLevels q = make_alpha_levels(n == 1 ? 63 : 15);
  PaletteLayout out;
  out.index_of.resize(n);
  out.empty_index.resize(n);
  if (transparent) out.palette.push_back({0, 0, 0, 0});
  for (int p = 0; p < n; ++p) {
    const PopartPalette& pal = *panels[p];
    if (!transparent) out.palette.push_back({pal.background[0], pal.background[1], pal.background[2], 255});
    out.empty_index[p] = static_cast<uint8_t>(transparent ? 0 : out.palette.size() - 1);
    for (int t = 0; t < kTones; ++t) {
      const int first = static_cast<int>(out.palette.size());
      for (int k = 1; k <= q.levels; ++k) {
        const int a = q.alpha_of[k];
        std::array<uint8_t, 4> c{pal.tones[t][0], pal.tones[t][1], pal.tones[t][2], static_cast<uint8_t>(a)};
        if (!transparent) {
          for (int ch = 0; ch < 3; ++ch) {
            c[ch] = static_cast<uint8_t>((pal.tones[t][ch] * a + pal.background[ch] * (255 - a) + 127) / 255);
          }
          c[3] = 255;
        }
        out.palette.push_back(c);
      }
      out.index_of[p][t][0] = out.empty_index[p];
      for (int a = 1; a < 256; ++a) out.index_of[p][t][a] = static_cast<uint8_t>(first + q.level_of[a] - 1);
    }
  }
  return out;
}

// The smoothing grid: s x s blocks of the photo, lw x lh of them.
struct Field {
  int s = 1, lw = 0, lh = 0;
  double sigma = 1;             // Gaussian sigma in blocks
  std::vector<float> num, den;  // weighted luminance sums and weights, then blurred
  std::vector<int> count;       // subject pixels (alpha > 0) per block: histogram weights
  std::vector<uint8_t> value;   // smoothed luminance
};

Field make_field(int width, int height) {
  Field f;
  const double side = std::sqrt(static_cast<double>(width) * height);
  f.s = std::max(1, static_cast<int>(std::lround(side / kFieldSide)));
  f.sigma = std::max(0.8, kFieldSigma * side / f.s);
  f.lw = (width + f.s - 1) / f.s;
  f.lh = (height + f.s - 1) / f.s;
  const size_t n = static_cast<size_t>(f.lw) * f.lh;
  f.num.assign(n, 0.0f);
  f.den.assign(n, 0.0f);
  f.count.assign(n, 0);
  f.value.assign(n, 0);
  return f;
}

// Block sums; one task per block row, integer accumulation.
void accumulate_blocks(const cv::Mat& rgba, Field& f) {
  cv::parallel_for_(cv::Range(0, f.lh), [&](const cv::Range& r) {
    std::vector<int64_t> num(f.lw), den(f.lw);
    std::vector<int> count(f.lw);
    for (int by = r.start; by < r.end; ++by) {
      std::fill(num.begin(), num.end(), 0);
      std::fill(den.begin(), den.end(), 0);
      std::fill(count.begin(), count.end(), 0);
      for (int y = by * f.s; y < std::min(rgba.rows, (by + 1) * f.s); ++y) {
        const uint8_t* p = rgba.ptr<uint8_t>(y);
        for (int bx = 0; bx < f.lw; ++bx) {
          int64_t n = 0, d = 0;
          int c = 0;
          for (int x = bx * f.s; x < std::min(rgba.cols, (bx + 1) * f.s); ++x) {
            const int a = p[4 * x + 3];
            if (a == 0) continue;
            const int64_t w = a == 255 ? kOpaqueWeight : a;
            n += luma(p + 4 * x) * w;
            d += w;
            ++c;
          }
          num[bx] += n;
          den[bx] += d;
          count[bx] += c;
        }
      }
      const size_t row = static_cast<size_t>(by) * f.lw;
      for (int bx = 0; bx < f.lw; ++bx) {
        f.num[row + bx] = static_cast<float>(num[bx]);
        f.den[row + bx] = static_cast<float>(den[bx]);
        f.count[row + bx] = count[bx];
      }
    }
  });
}

// Separable Gaussian (edges clamped) of two planes at once; each output value is computed by the
// same fixed sequence of operations whatever the thread split.
void gaussian_blur(Field& f) {
  const int radius = std::max(1, static_cast<int>(std::ceil(3 * f.sigma)));
  std::vector<float> k(2 * radius + 1);
  double sum = 0;
  for (int i = -radius; i <= radius; ++i)
    sum += k[i + radius] = static_cast<float>(std::exp(-0.5 * i * i / (f.sigma * f.sigma)));
  for (float& v : k) v = static_cast<float>(v / sum);
  const int w = f.lw, h = f.lh;
  std::vector<float> tmp_num(f.num.size()), tmp_den(f.den.size());
  cv::parallel_for_(cv::Range(0, h), [&](const cv::Range& r) {  // vertical
    for (int y = r.start; y < r.end; ++y) {
      float* dn = &tmp_num[static_cast<size_t>(y) * w];
      float* dd = &tmp_den[static_cast<size_t>(y) * w];
      std::fill(dn, dn + w, 0.0f);
      std::fill(dd, dd + w, 0.0f);
      for (int i = -radius; i <= radius; ++i) {
        const size_t src = static_cast<size_t>(std::clamp(y + i, 0, h - 1)) * w;
        const float kv = k[i + radius];
        for (int x = 0; x < w; ++x) {
          dn[x] += kv * f.num[src + x];
          dd[x] += kv * f.den[src + x];
        }
      }
    }
  });
  cv::parallel_for_(cv::Range(0, h), [&](const cv::Range& r) {  // horizontal
    std::vector<float> rn(w + 2 * radius), rd(w + 2 * radius);
    for (int y = r.start; y < r.end; ++y) {
      const size_t row = static_cast<size_t>(y) * w;
      for (int x = 0; x < w + 2 * radius; ++x) {
        rn[x] = tmp_num[row + std::clamp(x - radius, 0, w - 1)];
        rd[x] = tmp_den[row + std::clamp(x - radius, 0, w - 1)];
      }
      float* dn = &f.num[row];
      float* dd = &f.den[row];
      std::fill(dn, dn + w, 0.0f);
      std::fill(dd, dd + w, 0.0f);
      for (int i = 0; i <= 2 * radius; ++i) {  // taps outside, pixels inside: vectorises
        const float kv = k[i];
        const float* sn = &rn[i];
        const float* sd = &rd[i];
        for (int x = 0; x < w; ++x) {
          dn[x] += kv * sn[x];
          dd[x] += kv * sd[x];
        }
      }
    }
  });
}

// Bin at which the cumulative count first exceeds q of the total.
int quantile(const std::array<int64_t, 256>& hist, int64_t total, double q) {
  int64_t acc = 0;
  for (int v = 0; v < 256; ++v) {
    acc += hist[v];
    if (static_cast<double>(acc) > q * static_cast<double>(total)) return v;
  }
  return 255;
}

// First bins of tones 1..3 maximising the between-class variance of 4 classes (multilevel Otsu):
// dynamic programming over the histogram, O(3 * 256^2).
std::array<int, 3> multi_otsu(const std::array<int64_t, 256>& hist) {
  std::array<double, 257> w{}, m{};
  for (int v = 0; v < 256; ++v) {
    w[v + 1] = w[v] + static_cast<double>(hist[v]);
    m[v + 1] = m[v] + static_cast<double>(hist[v]) * v;
  }
  auto score = [&](int a, int b) {  // class [a, b): sum^2 / weight
    const double ww = w[b] - w[a];
    return ww > 0 ? (m[b] - m[a]) * (m[b] - m[a]) / ww : 0.0;
  };
  std::array<std::array<double, 257>, 4> best{};
  std::array<std::array<int, 257>, 4> from{};
  for (int j = 0; j <= 256; ++j) best[0][j] = score(0, j);
  for (int k = 1; k < 4; ++k) {
    for (int j = 0; j <= 256; ++j) {
      best[k][j] = -1;
      for (int i = 0; i <= j; ++i) {
        const double v = best[k - 1][i] + score(i, j);
        if (v > best[k][j]) best[k][j] = v, from[k][j] = i;
      }
    }
  }
  std::array<int, 3> t{};
  int j = 256;
  for (int k = 3; k >= 1; --k) t[k - 1] = j = from[k][j];
  return t;
}

// Smooths the block luminance and returns the three tone thresholds, ascending, in luminance
// levels: tone t (1-3) starts at thr[t - 1].
std::array<int, 3> smooth_and_threshold(Field& f) {
  gaussian_blur(f);
  std::array<int64_t, 256> hist{};
  int64_t total = 0;
  for (size_t i = 0; i < f.value.size(); ++i) {
    if (f.den[i] <= 0) continue;
    f.value[i] = static_cast<uint8_t>(std::clamp(f.num[i] / f.den[i], 0.0f, 255.0f) + 0.5f);
    hist[f.value[i]] += f.count[i];
    total += f.count[i];
  }
  if (total == 0) return {0, 0, 0};
  // Blocks the blur did not reach take the subject's median, so the median filter below does not
  // pull the outline towards black.
  const uint8_t fill = static_cast<uint8_t>(quantile(hist, total, 0.5));
  for (size_t i = 0; i < f.value.size(); ++i) {
    if (f.den[i] <= 0) f.value[i] = fill;
  }
  // 8-bit: OpenCV's 5x5 median is fastest on 8U, and the bilinear sampling afterwards restores
  // sub-level precision between blocks anyway.
  cv::Mat value(f.lh, f.lw, CV_8UC1, f.value.data());
  for (int pass = 0; pass < kMedianPasses; ++pass) cv::medianBlur(value.clone(), value, kMedianSize);
  hist.fill(0);
  for (size_t i = 0; i < f.value.size(); ++i) hist[f.value[i]] += f.count[i];
  const std::array<int, 3> otsu = multi_otsu(hist);
  std::array<int, 3> thr{};
  for (int i = 0; i < 3; ++i) {
    // A bin index b means "values from b up": the quantile bin is the last below the cut.
    const int q = quantile(hist, total, kQuantiles[i]) + 1;
    thr[i] = (q + otsu[i] + 1) / 2;
    if (i > 0) thr[i] = std::max(thr[i], thr[i - 1]);
  }
  return thr;
}

// Bilinear sampling positions of n output pixels (each `step` photo pixels wide) in `blocks` blocks
// of s pixels: left block and 8-bit weight of the right one.
void sample_axis(int n, int step, int s, int blocks, std::vector<int>& index, std::vector<int>& weight) {
  index.resize(n);
  weight.resize(n);
  for (int i = 0; i < n; ++i) {
    const int64_t pos_q8 = ((2 * static_cast<int64_t>(i) + 1) * step * 256) / (2 * s) - 128;
    int k = static_cast<int>(pos_q8 >> 8), w = static_cast<int>(pos_q8 & 255);
    if (pos_q8 < 0) k = 0, w = 0;
    if (k >= blocks - 1) k = blocks - 1, w = 0;
    index[i] = k;
    weight[i] = w;
  }
}

// Indices of panel 0 into the top-left pw x ph of `out`. Each panel pixel covers step x step
// photo pixels (1 or 2).
void render_panel(const cv::Mat& rgba, const Field& f, const std::array<int, 3>& thr,
                  const std::array<std::array<uint8_t, 256>, kTones>& index_of, int step, int pw, int ph,
                  cv::Mat& out) {
  std::vector<int> col_block, col_weight, row_block, row_weight;
  sample_axis(pw, step, f.s, f.lw, col_block, col_weight);
  sample_axis(ph, step, f.s, f.lh, row_block, row_weight);
  // Thresholds in the units of the interpolated value (16 more fractional bits).
  const int t0 = thr[0] << 16, t1 = thr[1] << 16, t2 = thr[2] << 16;
  cv::parallel_for_(cv::Range(0, ph), [&](const cv::Range& r) {
    std::vector<int> row(f.lw);
    for (int y = r.start; y < r.end; ++y) {
      const int k0 = row_block[y], wy = row_weight[y], k1 = std::min(k0 + 1, f.lh - 1);
      const uint8_t* f0 = &f.value[static_cast<size_t>(k0) * f.lw];
      const uint8_t* f1 = &f.value[static_cast<size_t>(k1) * f.lw];
      for (int x = 0; x < f.lw; ++x) row[x] = f0[x] * (256 - wy) + f1[x] * wy;
      uint8_t* dst = out.ptr<uint8_t>(y);
      const uint8_t* s0 = rgba.ptr<uint8_t>(step * y);
      const uint8_t* s1 = rgba.ptr<uint8_t>(std::min(step * y + 1, rgba.rows - 1));
      for (int x = 0; x < pw; ++x) {
        const int a = step == 1 ? s0[4 * x + 3]
                                : (s0[8 * x + 3] + s0[8 * x + 7] + s1[8 * x + 3] + s1[8 * x + 7] + 2) >> 2;
        if (a == 0) {
          dst[x] = index_of[0][0];
          continue;
        }
        const int u0 = col_block[x], wx = col_weight[x], u1 = std::min(u0 + 1, f.lw - 1);
        const int v = row[u0] * (256 - wx) + row[u1] * wx;
        dst[x] = index_of[(v >= t0) + (v >= t1) + (v >= t2)][a];
      }
    }
  });
}

// Fills panels 1..3 of the 2x2 grid from panel 0 (same tones, their own palette entries) and the
// padding row/column of odd sizes.
void replicate_grid(const PaletteLayout& layout, int pw, int ph, cv::Mat& out) {
  std::array<std::array<uint8_t, 256>, 4> remap{};
  for (int p = 0; p < 4; ++p) {
    remap[p].fill(layout.empty_index[p]);
    for (int t = 0; t < kTones; ++t) {
      for (int a = 0; a < 256; ++a) remap[p][layout.index_of[0][t][a]] = layout.index_of[p][t][a];
    }
  }
  const int width = out.cols;
  cv::parallel_for_(cv::Range(0, out.rows), [&](const cv::Range& r) {
    for (int y = r.start; y < r.end; ++y) {
      const int py = y < ph ? 0 : 1;
      const int sy = y - py * ph;  // row in the panel; == ph on the padding row
      uint8_t* dst = out.ptr<uint8_t>(y);
      const uint8_t* src = sy < ph ? out.ptr<uint8_t>(sy) : nullptr;
      for (int px = 0; px < 2; ++px) {
        const int p = 2 * py + px;
        const int x0 = px * pw, x1 = px == 0 ? pw : width;
        if (p == 0 && src) continue;  // panel 0 itself
        for (int x = x0; x < x1; ++x) {
          const int sx = x - x0;
          dst[x] = (src && sx < pw) ? remap[p][src[sx]] : layout.empty_index[p];
        }
      }
    }
  });
}

}  // namespace

EffectImage effect_popart(const cv::Mat& cutout, const EffectParams& params) {
  CV_Assert(cutout.type() == CV_8UC4);
  const int grid = params.popart_grid == 2 ? 2 : 1;
  const auto& all = popart_palettes();
  const size_t chosen = static_cast<size_t>(&find_popart_palette(params.popart_palette) - all.data());
  std::vector<const PopartPalette*> panels;
  for (int p = 0; p < grid * grid; ++p) panels.push_back(&all[(chosen + p) % all.size()]);
  PaletteLayout layout = make_layout(panels, params.popart_transparent);

  EffectImage out;
  out.kind = EffectImage::Kind::kIndexed;
  out.pixels.create(cutout.size(), CV_8UC1);
  const int pw = cutout.cols / grid, ph = cutout.rows / grid;
  if (pw > 0 && ph > 0) {
    Field field = make_field(cutout.cols, cutout.rows);
    accumulate_blocks(cutout, field);
    const std::array<int, 3> thr = smooth_and_threshold(field);
    render_panel(cutout, field, thr, layout.index_of[0], grid, pw, ph, out.pixels);
  }
  if (grid == 2) replicate_grid(layout, pw, ph, out.pixels);
  out.palette = std::move(layout.palette);
  return out;
}

}  // namespace cutout::detail
