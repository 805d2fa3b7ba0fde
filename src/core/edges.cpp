#include "core/edges.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <utility>

#include <opencv2/imgproc.hpp>

#include "core/error.h"

namespace cutout {

namespace {

constexpr std::string_view kRefineNames[] = {"none", "guided"};

void check_pair(const cv::Mat& image, const cv::Mat& matte, const EdgeGrid& grid) {
  if (image.depth() != CV_8U || (image.channels() != 3 && image.channels() != 4)) {
    throw Error(ErrorCode::kInternal, "edges: image must be 8-bit RGB or RGBA");
  }
  if (matte.type() != CV_8UC1 || matte.size() != image.size() || grid.full != image.size()) {
    throw Error(ErrorCode::kInternal, "edges: matte and grid must be the image's size");
  }
}

cv::Size grid_size(cv::Size full) {
  const int longest = std::max(full.width, full.height);
  if (longest * 2 <= kEdgeGridSide * 3) return full;
  const double factor = std::round(static_cast<double>(longest) / kEdgeGridSide);
  return {std::max(1, static_cast<int>(std::lround(full.width / factor))),
          std::max(1, static_cast<int>(std::lround(full.height / factor)))};
}

// Bilinear sampling of grid maps at full-resolution pixel centres, with the same pixel-centre
// convention as cv::resize: column X reads grid columns x0[X], x1[X] weighted 1 - fx[X], fx[X].
// On a grid of the photo's own size it reads each pixel exactly (fx = 0).
struct GridSampler {
  std::vector<int> x0, x1;
  std::vector<float> fx;
  cv::Size full, grid;

  GridSampler(cv::Size full_size, cv::Size grid_size) : full(full_size), grid(grid_size) {
    x0.resize(full.width);
    x1.resize(full.width);
    fx.resize(full.width);
    for (int x = 0; x < full.width; ++x) axis(x, full.width, grid.width, x0[x], x1[x], fx[x]);
  }

  // One axis: full-resolution index -> the two grid indices and the weight of the second.
  static void axis(int i, int full_len, int grid_len, int& i0, int& i1, float& f) {
    const double u = std::clamp((i + 0.5) * grid_len / full_len - 0.5, 0.0, grid_len - 1.0);
    i0 = static_cast<int>(u);
    i1 = std::min(i0 + 1, grid_len - 1);
    f = static_cast<float>(u - i0);
  }

  // Row Y's two grid rows and weight.
  void row(int y, int& y0, int& y1, float& fy) const { axis(y, full.height, grid.height, y0, y1, fy); }

  // `kChannels` floats of a CV_32FC(kChannels) map at column X between grid rows r0 and r1.
  template <int kChannels>
  void sample(const float* r0, const float* r1, float fy, int x, float* out) const {
    const int a = x0[x] * kChannels, b = x1[x] * kChannels;
    const float f = fx[x];
    for (int c = 0; c < kChannels; ++c) {
      const float top = r0[a + c] + f * (r0[b + c] - r0[a + c]);
      const float bottom = r1[a + c] + f * (r1[b + c] - r1[a + c]);
      out[c] = top + fy * (bottom - top);
    }
  }
};

// fn(i) for every grid pixel index i in [0, n), split across OpenCV's pool.
template <typename Fn>
void for_each_index(int n, const Fn& fn) {
  cv::parallel_for_(
      cv::Range(0, n),
      [&](const cv::Range& r) {
        for (int i = r.start; i < r.end; ++i) fn(i);
      },
      n / 16384.0);
}

cv::Mat to_grid(const cv::Mat& full, cv::Size grid) {
  if (full.size() == grid) return full;
  cv::Mat small;
  cv::resize(full, small, grid, 0, 0, cv::INTER_AREA);
  return small;
}

cv::Mat box(const cv::Mat& m, int size) {
  cv::Mat out(m.size(), m.type());
  // OpenCV's box filter runs on one thread; strips of rows filtered on their own give the same
  // result, since a filter on a submatrix reads the rows around it from the parent (only the
  // image's own border is extrapolated).
  const int strips = std::max(1, std::min(cv::getNumThreads(), m.rows / 64));
  cv::parallel_for_(cv::Range(0, strips), [&](const cv::Range& r) {
    for (int i = r.start; i < r.end; ++i) {
      const cv::Range rows(m.rows * i / strips, m.rows * (i + 1) / strips);
      cv::Mat dst = out.rowRange(rows);
      cv::boxFilter(m.rowRange(rows), dst, -1, {size, size}, {-1, -1}, true, cv::BORDER_REFLECT_101);
    }
  });
  return out;
}

// Two box filters at once, one per thread: box()'s own strips then run serially inside each
// (OpenCV runs a nested parallel_for_ sequentially), which measured faster than two parallel
// box() calls one after the other (refine 52.9 against 57.0 ms at 12 MP).
void box_pair(cv::Mat& a, cv::Mat& b, int size) {
  cv::parallel_for_(cv::Range(0, 2), [&](const cv::Range& r) {
    for (int i = r.start; i < r.end; ++i) {
      cv::Mat& m = i == 0 ? a : b;
      m = box(m, size);
    }
  });
}

// The guided filter's averaged linear coefficients on the grid: q = a . I + b, as CV_32FC4
// (a_r, a_g, a_b, b). Colour guide: a = (Sigma + eps U)^-1 cov(I, p) per window.
cv::Mat guided_coefficients(const cv::Mat& colour, const cv::Mat& p, const GuidedFilterParams& params) {
  const int n = colour.rows * colour.cols;
  // I (3), p, I_i I_j (6: rr rg rb gg gb bb), I_i p (3): one 13-channel box filter.
  cv::Mat stack(colour.size(), CV_32FC(13));
  {
    const float* c = colour.ptr<float>();
    const float* pp = p.ptr<float>();
    float* s = stack.ptr<float>();
    for_each_index(n, [&](int i) {
      const float r = c[3 * i], g = c[3 * i + 1], b = c[3 * i + 2], v = pp[i];
      const float row[13] = {r, g, b, v, r * r, r * g, r * b, g * g, g * b, b * b, r * v, g * v, b * v};
      std::copy(row, row + 13, s + 13 * i);
    });
  }
  const cv::Mat mean = box(stack, 2 * params.radius + 1);
  stack.release();
  cv::Mat coef(colour.size(), CV_32FC4);
  const float eps = static_cast<float>(params.eps);
  cv::parallel_for_(cv::Range(0, colour.rows), [&](const cv::Range& rows) {
    for (int y = rows.start; y < rows.end; ++y) {
      const float* m = mean.ptr<float>(y);
      float* out = coef.ptr<float>(y);
      for (int x = 0; x < colour.cols; ++x, m += 13, out += 4) {
        const float mr = m[0], mg = m[1], mb = m[2], mp = m[3];
        // Covariance of the colour (symmetric 3x3) plus eps, and of colour with p.
        const float s00 = m[4] - mr * mr + eps, s01 = m[5] - mr * mg, s02 = m[6] - mr * mb;
        const float s11 = m[7] - mg * mg + eps, s12 = m[8] - mg * mb, s22 = m[9] - mb * mb + eps;
        const float c0 = m[10] - mr * mp, c1 = m[11] - mg * mp, c2 = m[12] - mb * mp;
        // Inverse by cofactors (the matrix is positive definite: eps > 0).
        const float i00 = s11 * s22 - s12 * s12, i01 = s02 * s12 - s01 * s22, i02 = s01 * s12 - s02 * s11;
        const float i11 = s00 * s22 - s02 * s02, i12 = s01 * s02 - s00 * s12, i22 = s00 * s11 - s01 * s01;
        const float det = s00 * i00 + s01 * i01 + s02 * i02;
        const float inv = 1.0f / det;
        const float a0 = (i00 * c0 + i01 * c1 + i02 * c2) * inv;
        const float a1 = (i01 * c0 + i11 * c1 + i12 * c2) * inv;
        const float a2 = (i02 * c0 + i12 * c1 + i22 * c2) * inv;
        out[0] = a0;
        out[1] = a1;
        out[2] = a2;
        out[3] = mp - a0 * mr - a1 * mg - a2 * mb;
      }
    }
  });
  return box(coef, 2 * params.radius + 1);
}

// Colour-line alpha: local mean colours of the confident foreground and background, and each
// uncertain pixel's position on the line between them, blended with the matte by how well the
// two colours differ and the pixel lies on the line.
void colour_alpha(const cv::Mat& colour, cv::Mat& p, const cv::Mat& band, const GuidedFilterParams& params) {
  const cv::Size size = colour.size();
  const int n = size.area();
  cv::Mat f(size, CV_32FC4), b(size, CV_32FC4);
  const float* c = colour.ptr<float>();
  float* pp = p.ptr<float>();
  float *fp = f.ptr<float>(), *bp = b.ptr<float>();
  for_each_index(n, [&](int i) {
    // Weights p^3 and (1 - p)^3: the confident pixels count most, the uncertain ones a little.
    const float v = pp[i], u = 1.0f - pp[i];
    const float wf = v * v * v, wb = u * u * u;
    for (int k = 0; k < 3; ++k) {
      fp[4 * i + k] = c[3 * i + k] * wf;
      bp[4 * i + k] = c[3 * i + k] * wb;
    }
    fp[4 * i + 3] = wf;
    bp[4 * i + 3] = wb;
  });
  box_pair(f, b, 2 * params.colour_radius + 1);
  fp = f.ptr<float>();
  bp = b.ptr<float>();
  const uint8_t* bd = band.ptr<uint8_t>();
  const float s2 = static_cast<float>(params.colour_sigma * params.colour_sigma);
  const float r2 = static_cast<float>(params.colour_resid * params.colour_resid);
  for_each_index(n, [&](int i) {
    if (!bd[i] || fp[4 * i + 3] < 1e-3f || bp[4 * i + 3] < 1e-3f) return;
    float d[3], e[3], dd = 0, ed = 0;
    for (int k = 0; k < 3; ++k) {
      const float fm = fp[4 * i + k] / fp[4 * i + 3], bm = bp[4 * i + k] / bp[4 * i + 3];
      d[k] = fm - bm;
      e[k] = c[3 * i + k] - bm;
      dd += d[k] * d[k];
      ed += e[k] * d[k];
    }
    const float a = std::clamp(ed / (dd + 1e-6f), 0.0f, 1.0f);
    float resid = 0;
    for (int k = 0; k < 3; ++k) resid += (e[k] - a * d[k]) * (e[k] - a * d[k]);
    const float conf = dd / (dd + s2) * std::exp(-resid / r2);
    pp[i] = conf * a + (1.0f - conf) * pp[i];
  });
}

// The photo-wide colour model (as GrabCut's, Rother, Kolmogorov & Blake 2004, with histograms for
// its mixtures as in Boykov & Jolly 2001): colour histograms of the pixels the network is sure of,
// foreground and background, and each uncertain pixel's odds moved by how much likelier its
// colour is in the one than in the other. This is what mends the mattes the network is unsure of
// over whole regions (an object it half takes for background), which no local filter can.
void colour_prior(const cv::Mat& colour, const cv::Mat& small, cv::Mat& p, const cv::Mat& band,
                  const GuidedFilterParams& params) {
  if (params.colour_prior <= 0.0) return;
  constexpr int kLevels = 16, kBins = kLevels * kLevels * kLevels;  // 4 bits a channel
  const int n = colour.rows * colour.cols;
  const float* c = colour.ptr<float>();
  std::vector<uint16_t> bins(n);
  for_each_index(n, [&](int i) {
    int q = 0;
    for (int k = 0; k < 3; ++k)
      q = q * kLevels + std::min(kLevels - 1, static_cast<int>(c[3 * i + k] * kLevels));
    bins[i] = static_cast<uint16_t>(q);
  });
  std::vector<double> fg(kBins, 0.0), bg(kBins, 0.0);
  double fg_count = 0, bg_count = 0;
  const uint8_t* m = small.ptr<uint8_t>();
  for (int i = 0; i < n; ++i) {
    if (m[i] > params.prior_hi) {
      fg[bins[i]] += 1;
      fg_count += 1;
    } else if (m[i] < params.prior_lo) {
      bg[bins[i]] += 1;
      bg_count += 1;
    }
  }
  constexpr double kMinCount = 100;  // fewer sure pixels on either side: no model to speak of
  if (fg_count < kMinCount || bg_count < kMinCount) return;
  // Each histogram smoothed by [1 2 1] / 4 along each axis, so that neighbouring colours get
  // neighbouring odds (hard bins made blocks of a photo's smooth gradients).
  auto smooth = [&](std::vector<double>& h) {
    std::vector<double> t(kBins);
    for (const int stride : {1, kLevels, kLevels * kLevels}) {
      for (int q = 0; q < kBins; ++q) {
        const int i = (q / stride) % kLevels;
        const double lo = i > 0 ? h[q - stride] : h[q], hi = i + 1 < kLevels ? h[q + stride] : h[q];
        t[q] = 0.25 * lo + 0.5 * h[q] + 0.25 * hi;
      }
      h.swap(t);
    }
  };
  smooth(fg);
  smooth(bg);
  // Log-likelihood ratio per bin, with half a pixel in every bin (an unseen colour says little),
  // bounded so that the colour alone never outweighs a confident network.
  std::vector<float> shift(kBins);
  for (int q = 0; q < kBins; ++q) {
    const double ratio = ((fg[q] + 0.5) / fg_count) / ((bg[q] + 0.5) / bg_count);
    shift[q] = static_cast<float>(params.colour_prior * std::clamp(std::log(ratio), -3.0, 3.0));
  }
  float* pp = p.ptr<float>();
  const uint8_t* bd = band.ptr<uint8_t>();
  for_each_index(n, [&](int i) {
    if (!bd[i]) return;
    // The odds at the pixel's colour, trilinear between the bins' centres.
    int i0[3];
    float f[3];
    for (int k = 0; k < 3; ++k) {
      const float u = std::clamp(c[3 * i + k] * kLevels - 0.5f, 0.0f, kLevels - 1.0f);
      i0[k] = std::min(static_cast<int>(u), kLevels - 2);
      f[k] = u - i0[k];
    }
    float odds = 0;
    for (int corner = 0; corner < 8; ++corner) {
      float w = 1;
      int q = 0;
      for (int k = 0; k < 3; ++k) {
        const int bit = (corner >> k) & 1;
        w *= bit ? f[k] : 1 - f[k];
        q = q * kLevels + i0[k] + bit;
      }
      odds += w * shift[q];
    }
    const float v = std::clamp(pp[i], 1e-3f, 1.0f - 1e-3f);
    pp[i] = 1.0f / (1.0f + std::exp(-(std::log(v / (1.0f - v)) + odds)));
  });
}

}  // namespace

RefineMethod parse_refine(std::string_view text) {
  for (size_t i = 0; i < std::size(kRefineNames); ++i) {
    if (text == kRefineNames[i]) return static_cast<RefineMethod>(i);
  }
  throw Error(ErrorCode::kInvalidArgument,
              "invalid refine '" + std::string(text) + "' (allowed: none, guided)");
}

std::string_view refine_name(RefineMethod method) {
  return kRefineNames[static_cast<size_t>(method)];
}

std::vector<std::string> refine_names() {
  return {std::begin(kRefineNames), std::end(kRefineNames)};
}

EdgeGrid make_edge_grid(const cv::Mat& image) {
  if (image.depth() != CV_8U || (image.channels() != 3 && image.channels() != 4)) {
    throw Error(ErrorCode::kInternal, "edges: image must be 8-bit RGB or RGBA");
  }
  EdgeGrid grid;
  grid.full = image.size();
  if (image.empty()) return grid;
  const cv::Size gsize = grid_size(image.size());
  const int k = image.cols / gsize.width;
  if (k > 1 && gsize.width * k == image.cols && gsize.height * k == image.rows) {
    // An integer factor (most camera sizes): the k x k block means straight into floats, in one
    // parallel pass; what INTER_AREA, a colour conversion and a float conversion do in three. The
    // k rows are first summed down into 16-bit sums (a loop the compiler vectorises), then across.
    grid.colour.create(gsize, CV_32FC3);
    const int channels = image.channels();
    const size_t row_values = static_cast<size_t>(image.cols) * channels;
    const float scale = 1.0f / (255.0f * k * k);
    cv::parallel_for_(cv::Range(0, gsize.height), [&](const cv::Range& rows) {
      std::vector<uint16_t> column_sums(row_values);  // k * 255 fits: k <= 257 (grid >= 1 px)
      for (int gy = rows.start; gy < rows.end; ++gy) {
        uint16_t* sums = column_sums.data();
        const uint8_t* first = image.ptr<uint8_t>(gy * k);
        for (size_t i = 0; i < row_values; ++i) sums[i] = first[i];
        for (int dy = 1; dy < k; ++dy) {
          const uint8_t* px = image.ptr<uint8_t>(gy * k + dy);
          for (size_t i = 0; i < row_values; ++i) sums[i] = static_cast<uint16_t>(sums[i] + px[i]);
        }
        float* out = grid.colour.ptr<float>(gy);
        for (int gx = 0; gx < gsize.width; ++gx, out += 3) {
          uint32_t r = 0, g = 0, b = 0;
          const uint16_t* block = sums + static_cast<size_t>(gx) * k * channels;
          for (int dx = 0; dx < k; ++dx, block += channels) {
            r += block[0];
            g += block[1];
            b += block[2];
          }
          out[0] = static_cast<float>(r) * scale;
          out[1] = static_cast<float>(g) * scale;
          out[2] = static_cast<float>(b) * scale;
        }
      }
    });
    return grid;
  }
  const cv::Mat small = to_grid(image, gsize);
  cv::Mat rgb;
  if (small.channels() == 4) {
    cv::cvtColor(small, rgb, cv::COLOR_RGBA2RGB);
  } else {
    rgb = small;
  }
  rgb.convertTo(grid.colour, CV_32FC3, 1.0 / 255.0);
  return grid;
}

void refine_matte(const cv::Mat& image, const EdgeGrid& grid, cv::Mat& matte, RefineMethod method,
                  const GuidedFilterParams& params) {
  if (method == RefineMethod::kNone) return;
  check_pair(image, matte, grid);
  if (image.empty()) return;
  const cv::Size gsize = grid.colour.size();
  const cv::Mat small = to_grid(matte, gsize);

  // The band: uncertain grid pixels, grown; its weight ramps over 2 grid pixels at the border so
  // that no seam shows where the refined matte meets the untouched one.
  cv::Mat band = (small >= params.uncertain_lo) & (small <= params.uncertain_hi);
  if (cv::countNonZero(band) == 0) return;
  const int grow = 2 * params.band_radius + 1;
  cv::dilate(band, band, cv::getStructuringElement(cv::MORPH_RECT, {grow, grow}));
  cv::Mat weight;
  band.convertTo(weight, CV_32F, 1.0 / 255.0);
  weight = box(weight, 5);
  cv::Mat active;  // a grid cell whose bilinear neighbourhood has some weight
  cv::dilate(weight > 0, active, cv::getStructuringElement(cv::MORPH_RECT, {3, 3}));

  cv::Mat p;
  // The network's matte, contrast stretched around 1/2 (with a gain above 1 the haze and the
  // near-opaque pixels become 0 and 1), moved by the photo-wide colour model, then towards the
  // local colour line, then guided-filtered.
  small.convertTo(p, CV_32F, params.gain / 255.0, 0.5 - params.gain * 0.5);
  cv::min(cv::max(p, 0.0), 1.0, p);
  colour_prior(grid.colour, small, p, band, params);
  colour_alpha(grid.colour, p, band, params);
  const cv::Mat coef = guided_coefficients(grid.colour, p, params);

  const GridSampler sampler(image.size(), gsize);
  const int channels = image.channels();
  const float inv_ramp = params.side_ramp > 0 ? 1.0f / static_cast<float>(params.side_ramp) : 1e9f;
  cv::parallel_for_(cv::Range(0, image.rows), [&](const cv::Range& rows) {
    for (int y = rows.start; y < rows.end; ++y) {
      int y0, y1;
      float fy;
      sampler.row(y, y0, y1, fy);
      const uint8_t* act = active.ptr<uint8_t>(y0);
      const float *w0 = weight.ptr<float>(y0), *w1 = weight.ptr<float>(y1);
      const float *c0 = coef.ptr<float>(y0), *c1 = coef.ptr<float>(y1);
      const uint8_t* px = image.ptr<uint8_t>(y);
      uint8_t* m = matte.ptr<uint8_t>(y);
      for (int x = 0; x < image.cols; ++x) {
        if (!act[sampler.x0[x]]) continue;
        float w;
        sampler.sample<1>(w0, w1, fy, x, &w);
        if (w <= 0.0f) continue;
        float k[4];
        sampler.sample<4>(c0, c1, fy, x, k);
        const uint8_t* c = px + x * channels;
        const float q = (k[0] * c[0] + k[1] * c[1] + k[2] * c[2]) * (1.0f / 255.0f) + k[3];
        float blended = w * std::clamp(q, 0.0f, 1.0f) * 255.0f + (1.0f - w) * m[x];
        // Each pixel stays on its side of 1/2: the cut-out's shape (alpha >= 1/2) is the network's.
        // The change fades to nothing at 1/2 over side_ramp levels, so that two neighbours either
        // side of the network's contour, moved apart, do not show it as a step.
        blended = m[x] + (blended - m[x]) * std::min(1.0f, std::abs(m[x] - 127.75f) * inv_ramp);
        blended = m[x] >= 128 ? std::max(blended, 127.5f) : std::min(blended, 126.4f);
        m[x] = static_cast<uint8_t>(blended + 0.5f);
      }
    }
  });
}

namespace {

// The columns the grid's own level of the sweeps visits, as runs per row: the pixels within reach
// of those whose F and B are read (`read`, CV_8UC1, non-zero where the photo's soft pixels sample
// the grid). A sweep carries a change one pixel per half-sweep, so pixels further away than the
// half-sweeps' count cannot change what is read: the result is the same as sweeping every pixel
// (a test holds it), and at 12 MP the soft pixels are a small part of the grid. Levels below are
// swept whole: their values start the grid's level everywhere.
struct SweepRuns {
  std::vector<std::vector<std::pair<int, int>>> rows;  // empty: every pixel of every row
  std::vector<std::pair<int, int>> full;
  const std::vector<std::pair<int, int>>& row(int y) const { return rows.empty() ? full : rows[y]; }
};

SweepRuns sweep_runs(cv::Size size, const cv::Mat& read, int iterations) {
  SweepRuns runs;
  runs.full = {{0, size.width}};
  if (read.empty()) return runs;
  // One pixel per half-sweep, plus the bilinear sampling's neighbour and the block's rounding.
  const int reach = 2 * iterations + 2;
  cv::Mat near;
  cv::dilate(read, near, cv::getStructuringElement(cv::MORPH_RECT, {2 * reach + 1, 2 * reach + 1}));
  runs.rows.resize(size.height);
  for (int y = 0; y < size.height; ++y) {
    const uint8_t* m = near.ptr<uint8_t>(y);
    for (int x = 0; x < size.width;) {
      if (!m[x]) {
        ++x;
        continue;
      }
      const int start = x;
      while (x < size.width && m[x]) ++x;
      runs.rows[y].emplace_back(start, x);
    }
  }
  return runs;
}

// Multi-level foreground estimation (Germer, Uelwer, Conrad, Harmeling, "Fast Multi-Level
// Foreground Estimation", ICPR 2020): per pixel, F and B minimise the composite's error
// (I - a F - (1 - a) B)^2 plus a smoothness term to the 4 neighbours weighted by
// regularization + gradient_weight |a - a_neighbour|, solved by a few sweeps on each level of a
// pyramid from 1x1 up to the grid, each level starting from the one below. The sweeps are
// red-black (one colour of the checkerboard at a time), so each half runs in parallel.
void multilevel_foreground(const cv::Mat& colour_map, const cv::Mat& alpha_map, const cv::Mat& read,
                           const ForegroundParams& params, cv::Mat& f_out, cv::Mat& b_out) {
  const cv::Size full = colour_map.size();
  const int longest = std::max(full.width, full.height);
  const int levels = longest > 1 ? static_cast<int>(std::ceil(std::log2(longest))) : 0;
  // The pyramid, each level shrunk from the one above: a fifth of the cost of shrinking every
  // level from the grid (24 → 5 ms at 1008x756), for the same box averages up to rounding.
  std::vector<cv::Mat> colours(levels + 1), alphas(levels + 1);
  colours[levels] = colour_map;
  alphas[levels] = alpha_map;
  for (int level = levels - 1; level >= 0; --level) {
    const double t = static_cast<double>(level) / levels;
    const cv::Size size(std::max(1, static_cast<int>(std::lround(std::pow(full.width, t)))),
                        std::max(1, static_cast<int>(std::lround(std::pow(full.height, t)))));
    cv::resize(colours[level + 1], colours[level], size, 0, 0, cv::INTER_AREA);
    cv::resize(alphas[level + 1], alphas[level], size, 0, 0, cv::INTER_AREA);
  }
  const cv::Scalar mean = cv::mean(colour_map);
  cv::Mat f(1, 1, CV_32FC3, mean), b(1, 1, CV_32FC3, mean);
  const float reg = static_cast<float>(params.regularization);
  const float gw = static_cast<float>(params.gradient_weight);
  for (int level = 0; level <= levels; ++level) {
    const cv::Mat& img = colours[level];
    const cv::Mat& al = alphas[level];
    const cv::Size size = img.size();
    cv::resize(f, f, size, 0, 0, cv::INTER_NEAREST);
    cv::resize(b, b, size, 0, 0, cv::INTER_NEAREST);
    const bool small = size.width <= params.small_size && size.height <= params.small_size;
    const int iterations = small ? params.small_iterations : params.big_iterations;
    const int w = size.width, h = size.height;
    const SweepRuns runs = sweep_runs(size, size == full ? read : cv::Mat(), iterations);
    for (int it = 0; it < iterations; ++it) {
      for (int parity = 0; parity < 2; ++parity) {
        cv::parallel_for_(cv::Range(0, h), [&](const cv::Range& rows) {
          for (int y = rows.start; y < rows.end; ++y) {
            const int ys[4] = {y, y, std::max(y - 1, 0), std::min(y + 1, h - 1)};
            const float* arow = al.ptr<float>(y);
            const float* irow = img.ptr<float>(y);
            float* frow = f.ptr<float>(y);
            float* brow = b.ptr<float>(y);
            for (const auto& [start, end] : runs.row(y))
              for (int x = start + ((y + parity - start) & 1); x < end; x += 2) {
                const int xs[4] = {std::max(x - 1, 0), std::min(x + 1, w - 1), x, x};
                const float a0 = arow[x], a1 = 1.0f - a0;
                float a00 = a0 * a0, a11 = a1 * a1;
                const float a01 = a0 * a1;
                float bf[3], bb[3];
                for (int c = 0; c < 3; ++c) {
                  bf[c] = a0 * irow[3 * x + c];
                  bb[c] = a1 * irow[3 * x + c];
                }
                for (int k = 0; k < 4; ++k) {
                  const float r = reg + gw * std::abs(a0 - al.ptr<float>(ys[k])[xs[k]]);
                  a00 += r;
                  a11 += r;
                  const float* fn = f.ptr<float>(ys[k]) + 3 * xs[k];
                  const float* bn = b.ptr<float>(ys[k]) + 3 * xs[k];
                  for (int c = 0; c < 3; ++c) {
                    bf[c] += r * fn[c];
                    bb[c] += r * bn[c];
                  }
                }
                const float inv = 1.0f / (a00 * a11 - a01 * a01);
                for (int c = 0; c < 3; ++c) {
                  frow[3 * x + c] = std::clamp(inv * (a11 * bf[c] - a01 * bb[c]), 0.0f, 1.0f);
                  brow[3 * x + c] = std::clamp(inv * (a00 * bb[c] - a01 * bf[c]), 0.0f, 1.0f);
                }
              }
          }
        });
      }
    }
  }
  f_out = f;
  b_out = b;
}

}  // namespace

void decontaminate(cv::Mat& image, const EdgeGrid& grid, const cv::Mat& matte,
                   const ForegroundParams& params) {
  check_pair(image, matte, grid);
  if (image.empty()) return;
  const cv::Size gsize = grid.colour.size();
  cv::Mat a;
  to_grid(matte, gsize).convertTo(a, CV_32F, 1.0 / 255.0);
  const int lo = std::max(1, params.min_alpha), hi = std::min(254, params.max_alpha);
  cv::Mat read;  // grid cells the photo's soft pixels sample (empty: sweep every cell)
  constexpr int kMinRestrictedArea = 256 * 256;  // below it the mask costs more than it saves
  if (params.sweep_near_soft_only && gsize.area() >= kMinRestrictedArea) {
    read = to_grid((matte >= lo) & (matte <= hi), gsize) > 0;
  }
  cv::Mat f2, b2;
  multilevel_foreground(grid.colour, a, read, params, f2, b2);
  // At the photo's resolution, B is the grid's and F the least-squares foreground under a prior of
  // weight lambda (1 - a) on the grid's F (F_g): it minimises
  // (I - a F - (1 - a) B)^2 + lambda (1 - a) (F - F_g)^2, so the photo's own detail comes back
  // where the pixel is nearly opaque, and at a = 1 it is the photo's colour.
  // The step's gain a / (a^2 + lambda (1 - a)) for each alpha level: no division per pixel.
  std::array<float, 256> gain{};
  for (int v = lo; v <= hi; ++v) {
    const double a = v / 255.0;
    gain[v] = static_cast<float>(a / (a * a + params.lambda * (1.0 - a)));
  }

  const GridSampler sampler(image.size(), gsize);
  const int channels = image.channels();
  cv::parallel_for_(cv::Range(0, image.rows), [&](const cv::Range& rows) {
    for (int y = rows.start; y < rows.end; ++y) {
      int y0, y1;
      float fy;
      sampler.row(y, y0, y1, fy);
      const float *fa = f2.ptr<float>(y0), *fb = f2.ptr<float>(y1);
      const float *ba = b2.ptr<float>(y0), *bb = b2.ptr<float>(y1);
      const uint8_t* m = matte.ptr<uint8_t>(y);
      uint8_t* px = image.ptr<uint8_t>(y);
      for (int x = 0; x < image.cols; ++x) {
        if (m[x] < lo || m[x] > hi) continue;
        float fg[3], bg[3];
        sampler.sample<3>(fa, fb, fy, x, fg);
        sampler.sample<3>(ba, bb, fy, x, bg);
        const float w = m[x] * (1.0f / 255.0f), g = gain[m[x]];
        uint8_t* c = px + x * channels;
        for (int k = 0; k < 3; ++k) {
          const float f = fg[k] + g * (c[k] * (1.0f / 255.0f) - w * fg[k] - (1.0f - w) * bg[k]);
          c[k] = static_cast<uint8_t>(std::clamp(f, 0.0f, 1.0f) * 255.0f + 0.5f);
        }
      }
    }
  });
}

}  // namespace cutout
