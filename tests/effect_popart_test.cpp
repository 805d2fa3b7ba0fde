// Pop art (effect_popart.cpp): palette output holding only palette colours, alpha within the
// documented quantisation error (0 and 255 exact), four tones from the subject's own histogram,
// flat areas, the 2x2 grid, every palette, identical bytes for any thread count, edge cases.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <set>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "core/compose.h"
#include "core/effects.h"
#include "core/effects_internal.h"
#include "core/image_encode.h"
#include "core/image_io.h"

namespace cutout {
namespace {

constexpr int kMaxAlphaErrorSingle = 2;  // documented in effect_popart.cpp
constexpr int kMaxAlphaErrorGrid = 9;

// A soft-edged disc (4-pixel alpha ramp) holding a left-to-right grey ramp from `low` to `high`,
// optionally with noise, on a zeroed transparent background.
cv::Mat ramp_disc(int width, int height, double radius, int low = 20, int high = 235, int noise = 0) {
  cv::Mat out(height, width, CV_8UC4, cv::Scalar::all(0));
  cv::RNG rng(12345);
  const double cx = width / 2.0, cy = height / 2.0;
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      const double d = std::hypot(x + 0.5 - cx, y + 0.5 - cy);
      const int a = static_cast<int>(std::lround(std::clamp((radius - d) / 4.0, 0.0, 1.0) * 255));
      if (a == 0) continue;
      const double t = std::clamp((x + 0.5 - (cx - radius)) / (2 * radius), 0.0, 1.0);
      const int n = noise ? rng.uniform(-noise, noise + 1) : 0;
      const uint8_t v = cv::saturate_cast<uint8_t>(low + t * (high - low) + n);
      out.at<cv::Vec4b>(y, x) = cv::Vec4b(v, v, v, static_cast<uint8_t>(a));
    }
  }
  return out;
}

EffectImage popart(const cv::Mat& cutout, const std::string& palette = "warhol", int grid = 1,
                   bool transparent = true) {
  EffectParams params;
  params.popart_palette = palette;
  params.popart_grid = grid;
  params.popart_transparent = transparent;
  return apply_effect(Effect::kPopart, cutout, params);
}

const detail::PopartPalette& palette_at(const std::string& first, int offset) {
  const auto& all = detail::popart_palettes();
  const size_t i = static_cast<size_t>(&detail::find_popart_palette(first) - all.data());
  return all[(i + offset) % all.size()];
}

// Tone (0-3) of an RGB colour in a palette, -1 when it is none of the four.
int tone_of(const detail::PopartPalette& pal, const cv::Vec4b& px) {
  for (int t = 0; t < 4; ++t) {
    if (px[0] == pal.tones[t][0] && px[1] == pal.tones[t][1] && px[2] == pal.tones[t][2]) return t;
  }
  return -1;
}

void expect_valid_indexed(const EffectImage& out, cv::Size size) {
  ASSERT_EQ(out.kind, EffectImage::Kind::kIndexed);
  ASSERT_EQ(out.pixels.type(), CV_8UC1);
  ASSERT_EQ(out.pixels.size(), size);
  ASSERT_GE(out.palette.size(), 1u);
  ASSERT_LE(out.palette.size(), 256u);
  double maxv = 0;
  cv::minMaxLoc(out.pixels, nullptr, &maxv);
  ASSERT_LT(maxv, static_cast<double>(out.palette.size()));
}

TEST(EffectPopart, PalettesGoFromDarkToLightAndAreDistinct) {
  // Tone 0 is drawn where the subject is darkest: each palette must rise in luminance, in steps
  // large enough to tell the tones apart, and its background must differ from every tone.
  auto luma = [](const std::array<uint8_t, 3>& c) { return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]; };
  ASSERT_GE(detail::popart_palettes().size(), 4u);
  for (const auto& pal : detail::popart_palettes()) {
    SCOPED_TRACE(pal.name);
    for (int t = 1; t < 4; ++t) EXPECT_GT(luma(pal.tones[t]), luma(pal.tones[t - 1]) + 25);
    for (const auto& tone : pal.tones) EXPECT_NE(tone, pal.background);
  }
}

TEST(EffectPopart, VisiblePixelsUseOnlyTheFourToneColours) {
  const cv::Mat cutout = ramp_disc(200, 150, 60);
  const EffectImage out = popart(cutout);
  expect_valid_indexed(out, cutout.size());
  const cv::Mat rgba = out.to_rgba();
  const auto& pal = palette_at("warhol", 0);
  std::set<int> tones;
  for (int y = 0; y < rgba.rows; ++y) {
    for (int x = 0; x < rgba.cols; ++x) {
      const cv::Vec4b px = rgba.at<cv::Vec4b>(y, x);
      if (px[3] == 0) continue;
      const int t = tone_of(pal, px);
      ASSERT_GE(t, 0) << "at " << x << "," << y;
      tones.insert(t);
    }
  }
  EXPECT_EQ(tones.size(), 4u);  // a full ramp uses all four
}

TEST(EffectPopart, AlphaWithinTheDocumentedErrorAndExactAtTheEnds) {
  // Every alpha value 0..255 on an opaque-coloured strip.
  cv::Mat cutout(3, 256, CV_8UC4);
  for (int x = 0; x < 256; ++x) {
    for (int y = 0; y < 3; ++y) cutout.at<cv::Vec4b>(y, x) = cv::Vec4b(90, 120, 150, static_cast<uint8_t>(x));
  }
  const cv::Mat rgba = popart(cutout).to_rgba();
  int worst = 0;
  for (int x = 0; x < 256; ++x) {
    const int a = rgba.at<cv::Vec4b>(1, x)[3];
    if (x == 0 || x == 255) {
      EXPECT_EQ(a, x);
    }
    if (x > 0) {
      EXPECT_GT(a, 0) << "alpha " << x << " became transparent";
    }
    worst = std::max(worst, std::abs(a - x));
  }
  EXPECT_LE(worst, kMaxAlphaErrorSingle);
  EXPECT_GE(worst, 1);  // it is a quantisation: equality would mean the palette grew past 256

  // The 2x2 grid: each panel pixel is a 2x2 block, whose alpha is the block's mean.
  cv::Mat big(4, 512, CV_8UC4);
  for (int x = 0; x < 512; ++x) {
    for (int y = 0; y < 4; ++y)
      big.at<cv::Vec4b>(y, x) = cv::Vec4b(90, 120, 150, static_cast<uint8_t>(x / 2));
  }
  const cv::Mat grid = popart(big, "warhol", 2).to_rgba();
  worst = 0;
  for (int x = 0; x < 256; ++x) {
    const int a = grid.at<cv::Vec4b>(0, x)[3];
    if (x == 0 || x == 255) {
      EXPECT_EQ(a, x);
    }
    if (x > 0) {
      EXPECT_GT(a, 0);
    }
    worst = std::max(worst, std::abs(a - x));
    EXPECT_EQ(grid.at<cv::Vec4b>(0, x)[3], grid.at<cv::Vec4b>(0, 256 + x)[3]);  // panel 1
    EXPECT_EQ(grid.at<cv::Vec4b>(0, x)[3], grid.at<cv::Vec4b>(2, 256 + x)[3]);  // panel 3
  }
  EXPECT_LE(worst, kMaxAlphaErrorGrid);
}

TEST(EffectPopart, AreasAreFlatOnANoisyRamp) {
  // A ramp under heavy noise (+-25, wider than the gaps between thresholds): thresholding each
  // pixel would flip tones dozens of times per row. Smoothed, each row crosses the three tone
  // borders with at most a little wobble, and the tones still rise from left to right.
  const cv::Mat cutout = ramp_disc(400, 300, 140, 20, 235, 25);
  const cv::Mat rgba = popart(cutout).to_rgba();
  const auto& pal = palette_at("warhol", 0);
  int rows = 0, total_changes = 0;
  for (int y = 60; y < 240; y += 6) {
    int first = -1, last = -1, prev = -1, changes = 0;
    for (int x = 0; x < rgba.cols; ++x) {
      const cv::Vec4b px = rgba.at<cv::Vec4b>(y, x);
      if (px[3] != 255) continue;
      const int t = tone_of(pal, px);
      ASSERT_GE(t, 0);
      if (first < 0) first = t;
      if (prev >= 0 && t != prev) ++changes;
      prev = last = t;
    }
    EXPECT_LE(changes, 7) << "row " << y;
    EXPECT_LT(first, last) << "row " << y;
    total_changes += changes;
    ++rows;
  }
  EXPECT_LE(static_cast<double>(total_changes) / rows, 4.0);
}

TEST(EffectPopart, ThresholdsComeFromTheSubjectsOwnHistogram) {
  // A dim, low-contrast subject (luminance 60-100) still gets all four tones, and garbage colour
  // under alpha 0 changes nothing.
  const cv::Mat cutout = ramp_disc(200, 150, 60, 60, 100);
  const cv::Mat rgba = popart(cutout).to_rgba();
  std::set<int> tones;
  for (int y = 0; y < rgba.rows; ++y) {
    for (int x = 0; x < rgba.cols; ++x) {
      if (rgba.at<cv::Vec4b>(y, x)[3] == 255)
        tones.insert(tone_of(palette_at("warhol", 0), rgba.at<cv::Vec4b>(y, x)));
    }
  }
  EXPECT_EQ(tones, (std::set<int>{0, 1, 2, 3}));

  cv::Mat noisy = cutout.clone();
  cv::RNG rng(3);
  for (int y = 0; y < noisy.rows; ++y) {
    for (int x = 0; x < noisy.cols; ++x) {
      auto& px = noisy.at<cv::Vec4b>(y, x);
      if (px[3] == 0) px = cv::Vec4b(rng.uniform(0, 256), rng.uniform(0, 256), rng.uniform(0, 256), 0);
    }
  }
  EXPECT_EQ(cv::norm(popart(noisy).pixels, popart(cutout).pixels, cv::NORM_INF), 0);
}

TEST(EffectPopart, GoldenTonesOfTheRamp) {
  // Regression golden: where the tones of the plain ramp (disc from x = 40 to 160) change along the
  // middle row, rising one tone at a time (+-3 px).
  const cv::Mat cutout = ramp_disc(200, 150, 60);
  const cv::Mat rgba = popart(cutout).to_rgba();
  std::vector<int> edges;
  int prev = -1;
  for (int x = 0; x < rgba.cols; ++x) {
    const cv::Vec4b px = rgba.at<cv::Vec4b>(75, x);
    if (px[3] != 255) continue;
    const int t = tone_of(palette_at("warhol", 0), px);
    if (prev >= 0 && t != prev) {
      EXPECT_EQ(t, prev + 1) << "at " << x;
      edges.push_back(x);
    }
    prev = t;
  }
  const std::vector<int> golden = {72, 100, 128};
  ASSERT_EQ(edges.size(), golden.size());
  for (size_t i = 0; i < golden.size(); ++i) EXPECT_NEAR(edges[i], golden[i], 3);
}

TEST(EffectPopart, OpaquePosterOnThePaletteBackground) {
  const cv::Mat cutout = ramp_disc(200, 150, 60);
  const cv::Mat rgba = popart(cutout, "mint", 1, false).to_rgba();
  const auto& pal = palette_at("mint", 0);
  for (int y = 0; y < rgba.rows; ++y) {
    for (int x = 0; x < rgba.cols; ++x) {
      const cv::Vec4b px = rgba.at<cv::Vec4b>(y, x);
      const int a = cutout.at<cv::Vec4b>(y, x)[3];
      ASSERT_EQ(px[3], 255);
      if (a == 0) {
        ASSERT_EQ(px, cv::Vec4b(pal.background[0], pal.background[1], pal.background[2], 255));
      } else if (a == 255) {
        ASSERT_GE(tone_of(pal, px), 0);
      } else {
        // Soft edge: some tone blended over the background, the weight within the alpha error.
        bool found = false;
        for (int t = 0; t < 4 && !found; ++t) {
          bool all = true;
          for (int c = 0; c < 3; ++c) {
            const double expected = (pal.tones[t][c] * a + pal.background[c] * (255 - a)) / 255.0;
            const double slack =
                1 + kMaxAlphaErrorSingle * std::abs(pal.tones[t][c] - pal.background[c]) / 255.0;
            all = all && std::abs(px[c] - expected) <= slack;
          }
          found = all;
        }
        ASSERT_TRUE(found) << "at " << x << "," << y;
      }
    }
  }
}

TEST(EffectPopart, GridOfFourPalettesAtThePhotosSize) {
  for (const cv::Size size : {cv::Size(200, 150), cv::Size(201, 151)}) {
    const cv::Mat cutout = ramp_disc(size.width, size.height, 60);
    for (bool transparent : {true, false}) {
      SCOPED_TRACE(::testing::Message() << size << " transparent " << transparent);
      const EffectImage out = popart(cutout, "sunset", 2, transparent);
      expect_valid_indexed(out, size);
      const cv::Mat rgba = out.to_rgba();
      const int pw = size.width / 2, ph = size.height / 2;
      std::set<int> tones;
      for (int y = 0; y < ph; ++y) {
        for (int x = 0; x < pw; ++x) {
          const cv::Vec4b p0 = rgba.at<cv::Vec4b>(y, x);
          const int a = (cutout.at<cv::Vec4b>(2 * y, 2 * x)[3] + cutout.at<cv::Vec4b>(2 * y, 2 * x + 1)[3] +
                         cutout.at<cv::Vec4b>(2 * y + 1, 2 * x)[3] +
                         cutout.at<cv::Vec4b>(2 * y + 1, 2 * x + 1)[3] + 2) /
                        4;
          if (a != 255) continue;
          // The same tone in all four panels, each in its own palette (sunset, mint, warhol, electric).
          const int t = tone_of(palette_at("sunset", 0), p0);
          ASSERT_GE(t, 0);
          tones.insert(t);
          EXPECT_EQ(tone_of(palette_at("sunset", 1), rgba.at<cv::Vec4b>(y, x + pw)), t);
          EXPECT_EQ(tone_of(palette_at("sunset", 2), rgba.at<cv::Vec4b>(y + ph, x)), t);
          EXPECT_EQ(tone_of(palette_at("sunset", 3), rgba.at<cv::Vec4b>(y + ph, x + pw)), t);
        }
      }
      EXPECT_EQ(tones.size(), 4u);
      // Corners are background: transparent, or each panel's own background colour; on odd sizes the
      // padding column/row belongs to the right/bottom panels.
      const cv::Point corners[4] = {
          {0, 0}, {size.width - 1, 0}, {0, size.height - 1}, {size.width - 1, size.height - 1}};
      for (int p = 0; p < 4; ++p) {
        const cv::Vec4b px = rgba.at<cv::Vec4b>(corners[p]);
        const auto& bg = palette_at("sunset", p).background;
        EXPECT_EQ(px, transparent ? cv::Vec4b(0, 0, 0, 0) : cv::Vec4b(bg[0], bg[1], bg[2], 255))
            << "panel " << p;
      }
    }
  }
}

TEST(EffectPopart, EveryPaletteAndLayoutEncodesAsAPalettePng) {
  const cv::Mat cutout = ramp_disc(120, 90, 40);
  for (const auto& name : popart_palette_names()) {
    for (int grid : {1, 2}) {
      for (bool transparent : {true, false}) {
        SCOPED_TRACE(::testing::Message() << name << " grid " << grid << " transparent " << transparent);
        const EffectImage out = popart(cutout, name, grid, transparent);
        expect_valid_indexed(out, cutout.size());
        const std::vector<uint8_t> png = encode_png_indexed(out.pixels, out.palette, 8);
        const DecodedImage back = decode_image(png);
        cv::Mat expected = out.to_rgba();
        if (!transparent) cv::cvtColor(expected, expected, cv::COLOR_RGBA2RGB);
        EXPECT_EQ(cv::norm(back.pixels, expected, cv::NORM_INF), 0);
      }
    }
  }
}

TEST(EffectPopart, SameBytesForAnyThreadCount) {
  const cv::Mat cutout = ramp_disc(900, 700, 330, 20, 235, 30);
  const int saved = cv::getNumThreads();
  for (int grid : {1, 2}) {
    std::vector<EffectImage> outs;
    for (int threads : {1, 2, 8}) {
      cv::setNumThreads(threads);
      outs.push_back(popart(cutout, "electric", grid));
    }
    for (size_t i = 1; i < outs.size(); ++i) {
      EXPECT_EQ(cv::norm(outs[0].pixels, outs[i].pixels, cv::NORM_INF), 0);
      EXPECT_EQ(outs[0].palette, outs[i].palette);
    }
  }
  cv::setNumThreads(saved);
}

TEST(EffectPopart, FullyTransparentInput) {
  const cv::Mat cutout(41, 30, CV_8UC4, cv::Scalar::all(0));
  for (int grid : {1, 2}) {
    const cv::Mat clear = popart(cutout, "warhol", grid).to_rgba();
    EXPECT_EQ(cv::countNonZero(clear.reshape(1)), 0);
    const cv::Mat flat = popart(cutout, "warhol", grid, false).to_rgba();
    const auto& bg = palette_at("warhol", 0).background;
    EXPECT_EQ(flat.at<cv::Vec4b>(5, 5), cv::Vec4b(bg[0], bg[1], bg[2], 255));
  }
}

TEST(EffectPopart, OnePixelAndTinySubjects) {
  const cv::Mat one(1, 1, CV_8UC4, cv::Scalar(200, 100, 50, 255));
  const cv::Mat rgba = popart(one).to_rgba();
  EXPECT_EQ(rgba.at<cv::Vec4b>(0, 0)[3], 255);
  EXPECT_GE(tone_of(palette_at("warhol", 0), rgba.at<cv::Vec4b>(0, 0)), 0);
  // A 1x1 photo has no room for a 2x2 grid: all padding.
  EXPECT_EQ(popart(one, "warhol", 2).to_rgba().at<cv::Vec4b>(0, 0), cv::Vec4b(0, 0, 0, 0));

  cv::Mat tiny(64, 48, CV_8UC4, cv::Scalar::all(0));
  tiny.at<cv::Vec4b>(30, 20) = cv::Vec4b(250, 250, 250, 255);
  tiny.at<cv::Vec4b>(30, 21) = cv::Vec4b(240, 240, 240, 255);
  tiny.at<cv::Vec4b>(31, 20) = cv::Vec4b(100, 80, 60, 130);
  for (int grid : {1, 2}) {
    const EffectImage out = popart(tiny, "mint", grid);
    expect_valid_indexed(out, tiny.size());
  }
  const cv::Mat t = popart(tiny, "mint").to_rgba();
  cv::Mat alpha;
  cv::extractChannel(t, alpha, 3);
  EXPECT_EQ(cv::countNonZero(alpha), 3);
  EXPECT_GE(tone_of(palette_at("mint", 0), t.at<cv::Vec4b>(30, 20)), 0);
  EXPECT_NEAR(t.at<cv::Vec4b>(31, 20)[3], 130, kMaxAlphaErrorSingle);
}

TEST(EffectPopart, SixteenBitSourceThroughDecodeAndCutOut) {
  cv::Mat rgb16(90, 120, CV_16UC3);
  for (int y = 0; y < rgb16.rows; ++y) {
    for (int x = 0; x < rgb16.cols; ++x) {
      rgb16.at<cv::Vec3w>(y, x) =
          cv::Vec3w(static_cast<uint16_t>(x * 540), static_cast<uint16_t>(x * 500 + y * 20),
                    static_cast<uint16_t>(x * 400));
    }
  }
  std::vector<uint8_t> png;
  ASSERT_TRUE(cv::imencode(".png", rgb16, png));
  const DecodedImage decoded = decode_image(png);
  ASSERT_EQ(decoded.pixels.depth(), CV_8U);
  cv::Mat matte(rgb16.size(), CV_8UC1, cv::Scalar(0));
  cv::circle(matte, {60, 45}, 35, cv::Scalar(255), cv::FILLED, cv::LINE_AA);
  const cv::Mat cutout = cut_out(decoded.pixels, matte);
  const EffectImage out = popart(cutout);
  expect_valid_indexed(out, cutout.size());
  const cv::Mat rgba = out.to_rgba();
  std::set<int> tones;
  for (int y = 0; y < rgba.rows; ++y) {
    for (int x = 0; x < rgba.cols; ++x) {
      const int a = cutout.at<cv::Vec4b>(y, x)[3];
      const int b = rgba.at<cv::Vec4b>(y, x)[3];
      ASSERT_LE(std::abs(a - b), kMaxAlphaErrorSingle);
      ASSERT_EQ(a == 0, b == 0);
      if (a == 255) tones.insert(tone_of(palette_at("warhol", 0), rgba.at<cv::Vec4b>(y, x)));
    }
  }
  EXPECT_EQ(tones, (std::set<int>{0, 1, 2, 3}));
}

}  // namespace
}  // namespace cutout
