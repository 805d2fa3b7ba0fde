// The dither effect (src/core/effect_dither.cpp): palette and alpha rule, tone, the three methods,
// confinement of the error diffusion to the subject, determinism, and edge cases.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "core/compose.h"
#include "core/effects.h"
#include "core/effects_internal.h"
#include "core/image_encode.h"
#include "core/image_io.h"
#include "test_support.h"

namespace cutout {
namespace {

constexpr uint8_t kTransparent = 0, kInk = 1, kPaper = 2;
const std::vector<DitherMethod> kMethods = {DitherMethod::kFloyd, DitherMethod::kAtkinson,
                                            DitherMethod::kBayer};

const char* method_name(DitherMethod m) {
  return m == DitherMethod::kFloyd ? "floyd" : m == DitherMethod::kAtkinson ? "atkinson" : "bayer";
}

EffectImage dither(const cv::Mat& cutout, DitherMethod method) {
  EffectParams params;
  params.dither_method = method;
  return apply_effect(Effect::kDither, cutout, params);
}

// An RGBA picture of one grey, alpha 255 inside `subject` and 0 (colour 0) elsewhere.
cv::Mat grey_subject(cv::Size size, cv::Rect subject, int grey) {
  cv::Mat out(size, CV_8UC4, cv::Scalar(0, 0, 0, 0));
  out(subject).setTo(cv::Scalar(grey, grey, grey, 255));
  return out;
}

// A horizontal grey ramp from `from` (left) to `to` (right), fully opaque.
cv::Mat ramp(int width, int height, int from, int to) {
  cv::Mat out(height, width, CV_8UC4);
  for (int x = 0; x < width; ++x) {
    const int g = from + (to - from) * x / (width - 1);
    out.col(x).setTo(cv::Scalar(g, g, g, 255));
  }
  return out;
}

// The test picture cut out with an elliptical matte whose edge is soft (alpha 0..255 over ~6 %
// of the radius), computed here rather than drawn, so golden values depend on no OpenCV drawing.
cv::Mat photo_cutout(int width, int height) {
  cv::Mat matte(height, width, CV_8UC1);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      const double dx = (x + 0.5 - width / 2.0) / (width * 0.4),
                   dy = (y + 0.5 - height / 2.0) / (height * 0.4);
      const double inside = (1.0 - std::sqrt(dx * dx + dy * dy)) / 0.06;
      matte.at<uint8_t>(y, x) = static_cast<uint8_t>(std::lround(255 * std::clamp(inside, 0.0, 1.0)));
    }
  }
  return cut_out(testing::make_test_rgb(width, height), matte);
}

double ink_fraction(const cv::Mat& indices, cv::Rect area) {
  int ink = 0, printed = 0;
  for (int y = area.y; y < area.br().y; ++y) {
    for (int x = area.x; x < area.br().x; ++x) {
      const uint8_t i = indices.at<uint8_t>(y, x);
      ink += i == kInk;
      printed += i != kTransparent;
    }
  }
  return printed == 0 ? -1.0 : static_cast<double>(ink) / printed;
}

uint64_t fnv1a(const cv::Mat& m) {
  uint64_t h = 1469598103934665603ull;
  for (int y = 0; y < m.rows; ++y) {
    const uint8_t* p = m.ptr<uint8_t>(y);
    for (size_t i = 0; i < m.cols * m.elemSize(); ++i) h = (h ^ p[i]) * 1099511628211ull;
  }
  return h;
}

bool same_bytes(const cv::Mat& a, const cv::Mat& b) {
  return a.size() == b.size() && a.type() == b.type() && cv::norm(a, b, cv::NORM_INF) == 0;
}

TEST(EffectDither, IndexedImageWithTransparentInkPaperPalette) {
  const cv::Mat cutout = photo_cutout(120, 90);
  for (DitherMethod m : kMethods) {
    SCOPED_TRACE(method_name(m));
    const EffectImage out = dither(cutout, m);
    EXPECT_EQ(out.kind, EffectImage::Kind::kIndexed);
    ASSERT_EQ(out.pixels.type(), CV_8UC1);
    ASSERT_EQ(out.pixels.size(), cutout.size());
    const std::vector<std::array<uint8_t, 4>> palette = {{0, 0, 0, 0}, {0, 0, 0, 255}, {255, 255, 255, 255}};
    EXPECT_EQ(out.palette, palette);
    double max_index = 0;
    cv::minMaxLoc(out.pixels, nullptr, &max_index);
    EXPECT_LE(max_index, 2);
    // Both ink and paper are used on a photo.
    EXPECT_GT(cv::countNonZero(out.pixels == kInk), 100);
    EXPECT_GT(cv::countNonZero(out.pixels == kPaper), 100);
  }
}

TEST(EffectDither, AlphaIsThresholdedAtHalf) {
  // Alpha rises 0..255 along x over a textured grey: printed exactly where alpha >= 128.
  cv::Mat cutout(40, 256, CV_8UC4);
  for (int y = 0; y < cutout.rows; ++y) {
    for (int x = 0; x < cutout.cols; ++x) {
      cv::Vec4b& p = cutout.at<cv::Vec4b>(y, x);
      p = x == 0 ? cv::Vec4b(0, 0, 0, 0) : cv::Vec4b(90 + y, 120, 150, static_cast<uint8_t>(x));
    }
  }
  for (DitherMethod m : kMethods) {
    SCOPED_TRACE(method_name(m));
    const EffectImage out = dither(cutout, m);
    for (int y = 0; y < cutout.rows; ++y) {
      for (int x = 0; x < cutout.cols; ++x) {
        ASSERT_EQ(out.pixels.at<uint8_t>(y, x) == kTransparent, x < 128) << x << "," << y;
      }
    }
    const cv::Mat rgba = out.to_rgba();
    std::vector<cv::Mat> channels;
    cv::split(rgba, channels);
    EXPECT_EQ(cv::countNonZero((channels[3] != 0) & (channels[3] != 255)), 0);
  }
}

TEST(EffectDither, FlatGreyKeepsItsTone) {
  // A flat subject is not stretched to 50 % (the stretch is capped), so each grey keeps its own
  // density; the transparent border around the square must not bias it either.
  for (DitherMethod m : kMethods) {
    for (const auto& [grey, ink] : std::vector<std::pair<int, double>>{{128, 0.5}, {64, 0.75}, {191, 0.25}}) {
      SCOPED_TRACE(std::string(method_name(m)) + " grey " + std::to_string(grey));
      const cv::Rect square(16, 16, 64, 64);
      const EffectImage out = dither(grey_subject(cv::Size(96, 96), square, grey), m);
      // Atkinson drops a quarter of the error on purpose, which pushes tones apart a little.
      const double tolerance = m == DitherMethod::kAtkinson ? 0.1 : 0.02;
      EXPECT_NEAR(ink_fraction(out.pixels, square), ink, tolerance);
    }
  }
}

TEST(EffectDither, AtkinsonBlowsOutHighlightsAndShadows) {
  // Atkinson passes on only 6/8 of the error: a light grey loses most of its dots and a dark grey
  // most of its paper, where Floyd-Steinberg keeps the tone.
  const cv::Rect square(8, 8, 80, 80);
  for (const auto& [grey, ink] : std::vector<std::pair<int, double>>{{230, 0.1}, {25, 0.9}}) {
    SCOPED_TRACE(grey);
    const cv::Mat cutout = grey_subject(cv::Size(96, 96), square, grey);
    const double floyd = ink_fraction(dither(cutout, DitherMethod::kFloyd).pixels, square);
    const double atkinson = ink_fraction(dither(cutout, DitherMethod::kAtkinson).pixels, square);
    EXPECT_NEAR(floyd, ink, 0.02);
    EXPECT_LT(std::abs(atkinson - std::round(ink)), 0.5 * std::abs(floyd - std::round(ink)));
  }
}

TEST(EffectDither, InkDensityFollowsAGradient) {
  const cv::Mat cutout = ramp(256, 64, 0, 255);
  for (DitherMethod m : kMethods) {
    SCOPED_TRACE(method_name(m));
    const EffectImage out = dither(cutout, m);
    double previous = 2;
    for (int band = 0; band < 8; ++band) {
      const double ink = ink_fraction(out.pixels, cv::Rect(band * 32, 0, 32, 64));
      // The ramp's mean grey in this band, as ink: 1 - (band + 0.5) / 8.
      EXPECT_NEAR(ink, 1.0 - (band + 0.5) / 8, m == DitherMethod::kAtkinson ? 0.1 : 0.05) << "band " << band;
      EXPECT_LT(ink, previous) << "band " << band;
      previous = ink;
    }
  }
}

TEST(EffectDither, LowContrastSubjectIsStretched) {
  // Greys 100..150 only: after the stretch the darkest tenth is almost all ink and the lightest
  // almost all paper (without it both would be near 50 %).
  const EffectImage out = dither(ramp(200, 50, 100, 150), DitherMethod::kFloyd);
  EXPECT_GT(ink_fraction(out.pixels, cv::Rect(0, 0, 20, 50)), 0.85);
  EXPECT_LT(ink_fraction(out.pixels, cv::Rect(180, 0, 20, 50)), 0.15);
}

TEST(EffectDither, BayerMatrixIsTheRecursiveOne) {
  // The table the effect uses, against its definition computed here: M(1) = [0] and
  // M(2n) = [[4 M(n), 4 M(n) + 2], [4 M(n) + 3, 4 M(n) + 1]] up to 8x8 (each of 0..63 once).
  std::vector<std::vector<int>> m = {{0}};
  for (int n = 1; n < 8; n *= 2) {
    std::vector<std::vector<int>> next(2 * n, std::vector<int>(2 * n));
    for (int y = 0; y < 2 * n; ++y) {
      for (int x = 0; x < 2 * n; ++x) {
        constexpr int kQuadrant[2][2] = {{0, 2}, {3, 1}};
        next[y][x] = 4 * m[y % n][x % n] + kQuadrant[y / n][x / n];
      }
    }
    m = std::move(next);
  }
  for (int y = 0; y < 8; ++y) {
    for (int x = 0; x < 8; ++x) EXPECT_EQ(int{detail::kBayerMatrix[y][x]}, m[y][x]) << x << "," << y;
  }
}

TEST(EffectDither, BayerReproducesTheThresholdMatrix) {
  const auto& kBayer = detail::kBayerMatrix;
  // Flat 25 % grey: paper where the matrix is below 16 (a quarter of the cells), ink elsewhere;
  // 50 %: paper below 32. The matrix is anchored at the image origin.
  for (const auto& [grey, paper_below] : std::vector<std::pair<int, int>>{{64, 16}, {128, 32}}) {
    SCOPED_TRACE(grey);
    const cv::Mat cutout = grey_subject(cv::Size(40, 24), cv::Rect(0, 0, 40, 24), grey);
    const EffectImage out = dither(cutout, DitherMethod::kBayer);
    for (int y = 0; y < cutout.rows; ++y) {
      for (int x = 0; x < cutout.cols; ++x) {
        ASSERT_EQ(out.pixels.at<uint8_t>(y, x), kBayer[y % 8][x % 8] < paper_below ? kPaper : kInk)
            << x << "," << y;
      }
    }
  }
}

TEST(EffectDither, SameBytesAcrossRunsAndThreadCounts) {
  const cv::Mat cutout = photo_cutout(640, 480);
  const int threads_before = cv::getNumThreads();
  for (DitherMethod m : kMethods) {
    SCOPED_TRACE(method_name(m));
    cv::setNumThreads(1);
    const cv::Mat reference = dither(cutout, m).pixels.clone();
    EXPECT_TRUE(same_bytes(dither(cutout, m).pixels, reference));
    for (int threads : {2, 8}) {
      cv::setNumThreads(threads);
      EXPECT_TRUE(same_bytes(dither(cutout, m).pixels, reference)) << threads << " threads";
    }
  }
  cv::setNumThreads(threads_before);
}

TEST(EffectDither, GoldenChecksums) {
  // Exact: any change to the tone stretch, the sharpening, a kernel or the edge handling changes
  // these. Look at real cut-outs at 1:1 (faces, fur) before updating them.
  const cv::Mat cutout = photo_cutout(160, 120);
  EXPECT_EQ(fnv1a(dither(cutout, DitherMethod::kFloyd).pixels), 277506905770126465ull);
  EXPECT_EQ(fnv1a(dither(cutout, DitherMethod::kAtkinson).pixels), 7985537995617372133ull);
  EXPECT_EQ(fnv1a(dither(cutout, DitherMethod::kBayer).pixels), 1473382981726066775ull);
  // Large enough for the blur to run on a grid of 2 x 2 blocks.
  EXPECT_EQ(fnv1a(dither(photo_cutout(640, 480), DitherMethod::kFloyd).pixels), 5686987299997864472ull);
}

TEST(EffectDither, MethodsDiffer) {
  const cv::Mat cutout = photo_cutout(160, 120);
  const cv::Mat floyd = dither(cutout, DitherMethod::kFloyd).pixels;
  const cv::Mat atkinson = dither(cutout, DitherMethod::kAtkinson).pixels;
  const cv::Mat bayer = dither(cutout, DitherMethod::kBayer).pixels;
  EXPECT_FALSE(same_bytes(floyd, atkinson));
  EXPECT_FALSE(same_bytes(floyd, bayer));
  EXPECT_FALSE(same_bytes(atkinson, bayer));
  // The transparent area is the same for all.
  EXPECT_TRUE(same_bytes(floyd == kTransparent, bayer == kTransparent));
}

TEST(EffectDither, SubjectsSeparatedByTransparencyDitherIndependently) {
  // The left subject comes out the same whether the right one is there or not, so no error
  // crosses the transparent gap. Both subjects have the same histogram, so the tone stretch is the
  // same either way.
  for (DitherMethod m : {DitherMethod::kFloyd, DitherMethod::kAtkinson}) {
    SCOPED_TRACE(method_name(m));
    {
      // Textured subjects 24 px apart, beyond the reach of the sharpening blur.
      const cv::Mat patch = photo_cutout(90, 70);
      cv::Mat both(70, 204, CV_8UC4, cv::Scalar(0, 0, 0, 0)), left_only = both.clone();
      patch.copyTo(both(cv::Rect(0, 0, 90, 70)));
      patch.copyTo(both(cv::Rect(114, 0, 90, 70)));
      patch.copyTo(left_only(cv::Rect(0, 0, 90, 70)));
      const cv::Rect left(0, 0, 102, 70);
      EXPECT_TRUE(same_bytes(dither(both, m).pixels(left), dither(left_only, m).pixels(left)));
    }
    {
      // Flat subjects of one grey only 2 px apart (a flat subject's blur is its own grey, so only
      // the diffusion could tell them apart).
      const cv::Mat both = grey_subject(cv::Size(64, 40), cv::Rect(0, 0, 64, 40), 100);
      both.colRange(31, 33).setTo(cv::Scalar(0, 0, 0, 0));
      cv::Mat left_only = both.clone();
      left_only.colRange(33, 64).setTo(cv::Scalar(0, 0, 0, 0));
      const cv::Rect left(0, 0, 31, 40);
      EXPECT_TRUE(same_bytes(dither(both, m).pixels(left), dither(left_only, m).pixels(left)));
    }
  }
}

TEST(EffectDither, NoDarkOrLightRimAtTheEdge) {
  // Error diffusion started from zero error leaves a solid rim along a dark subject's outline (and
  // a dot-free one along a light subject's): 100 % (0 %) ink in the outermost pixels. The
  // outermost rows and columns must have about the interior's density instead.
  for (const auto& [grey, ink] : std::vector<std::pair<int, double>>{{40, 0.84}, {215, 0.16}}) {
    SCOPED_TRACE("grey " + std::to_string(grey));
    const cv::Rect square(20, 20, 160, 160);
    const EffectImage out = dither(grey_subject(cv::Size(200, 200), square, grey), DitherMethod::kFloyd);
    EXPECT_NEAR(ink_fraction(out.pixels, cv::Rect(30, 30, 140, 140)), ink, 0.02);
    const cv::Rect rims[] = {{20, 20, 160, 1}, {20, 179, 160, 1}, {20, 20, 1, 160}, {179, 20, 1, 160}};
    for (const cv::Rect& rim : rims) EXPECT_NEAR(ink_fraction(out.pixels, rim), ink, 0.07) << rim;
  }
}

TEST(EffectDither, NoInkWhereTransparent) {
  // A dark subject with holes: every pixel of alpha < 128 is transparent whatever error its
  // neighbours carry.
  cv::Mat cutout = photo_cutout(200, 150);
  for (int y = 0; y < cutout.rows; y += 7) cutout.row(y).setTo(cv::Scalar(0, 0, 0, 0));
  for (DitherMethod m : kMethods) {
    SCOPED_TRACE(method_name(m));
    const cv::Mat out = dither(cutout, m).pixels;
    for (int y = 0; y < cutout.rows; ++y) {
      for (int x = 0; x < cutout.cols; ++x) {
        if (cutout.at<cv::Vec4b>(y, x)[3] < 128) {
          ASSERT_EQ(out.at<uint8_t>(y, x), kTransparent) << x << "," << y;
        }
      }
    }
  }
}

TEST(EffectDither, FullyTransparentInput) {
  const cv::Mat cutout(50, 40, CV_8UC4, cv::Scalar(0, 0, 0, 0));
  for (DitherMethod m : kMethods) {
    const EffectImage out = dither(cutout, m);
    ASSERT_EQ(out.pixels.size(), cutout.size());
    EXPECT_EQ(cv::countNonZero(out.pixels), 0) << method_name(m);
    EXPECT_EQ(out.palette.size(), 3u);
  }
}

TEST(EffectDither, SinglePixel) {
  for (DitherMethod m : kMethods) {
    SCOPED_TRACE(method_name(m));
    EXPECT_EQ(dither(cv::Mat(1, 1, CV_8UC4, cv::Scalar(0, 0, 0, 255)), m).pixels.at<uint8_t>(0, 0), kInk);
    EXPECT_EQ(dither(cv::Mat(1, 1, CV_8UC4, cv::Scalar(255, 255, 255, 255)), m).pixels.at<uint8_t>(0, 0),
              kPaper);
    EXPECT_EQ(dither(cv::Mat(1, 1, CV_8UC4, cv::Scalar(0, 0, 0, 127)), m).pixels.at<uint8_t>(0, 0),
              kTransparent);
  }
}

TEST(EffectDither, TinySubjectKeepsBlackAndWhite) {
  // Four pixels in a large transparent picture: black stays ink, white stays paper.
  cv::Mat cutout(60, 60, CV_8UC4, cv::Scalar(0, 0, 0, 0));
  cutout.at<cv::Vec4b>(30, 30) = cv::Vec4b(0, 0, 0, 255);
  cutout.at<cv::Vec4b>(30, 31) = cv::Vec4b(255, 255, 255, 255);
  cutout.at<cv::Vec4b>(31, 30) = cv::Vec4b(255, 255, 255, 200);
  cutout.at<cv::Vec4b>(31, 31) = cv::Vec4b(0, 0, 0, 130);
  for (DitherMethod m : kMethods) {
    SCOPED_TRACE(method_name(m));
    const cv::Mat out = dither(cutout, m).pixels;
    EXPECT_EQ(out.at<uint8_t>(30, 30), kInk);
    EXPECT_EQ(out.at<uint8_t>(30, 31), kPaper);
    EXPECT_EQ(out.at<uint8_t>(31, 30), kPaper);
    EXPECT_EQ(out.at<uint8_t>(31, 31), kInk);
    EXPECT_EQ(cv::countNonZero(out), 4);
  }
}

TEST(EffectDither, RegionOfInterestInput) {
  // A cut-out that is a view into a larger image (row stride != width * 4) gives the same result
  // as its compact copy.
  const cv::Mat big = photo_cutout(300, 200);
  const cv::Mat roi = big(cv::Rect(37, 21, 201, 133));
  for (DitherMethod m : kMethods) {
    EXPECT_TRUE(same_bytes(dither(roi, m).pixels, dither(roi.clone(), m).pixels)) << method_name(m);
  }
}

TEST(EffectDither, SixteenBitSource) {
  // A 16-bit RGB PNG (a ramp using the low byte as well), decoded, cut out and dithered: the ink
  // density follows the ramp and the matte decides what is printed.
  cv::Mat bgr16(64, 256, CV_16UC3);
  for (int x = 0; x < bgr16.cols; ++x) bgr16.col(x).setTo(cv::Scalar::all(x * 257 + 100));
  std::vector<uint8_t> png;
  ASSERT_TRUE(cv::imencode(".png", bgr16, png));
  const DecodedImage decoded = decode_image(png);
  ASSERT_EQ(decoded.pixels.type(), CV_8UC3);
  cv::Mat matte(64, 256, CV_8UC1, cv::Scalar(255));
  matte(cv::Rect(0, 0, 256, 8)).setTo(0);
  matte(cv::Rect(0, 8, 256, 4)).setTo(100);
  const cv::Mat cutout = cut_out(decoded.pixels, matte);
  for (DitherMethod m : kMethods) {
    SCOPED_TRACE(method_name(m));
    const cv::Mat out = dither(cutout, m).pixels;
    EXPECT_EQ(cv::countNonZero(out(cv::Rect(0, 0, 256, 12))), 0);
    EXPECT_EQ(cv::countNonZero(out(cv::Rect(0, 12, 256, 52)) == kTransparent), 0);
    EXPECT_GT(ink_fraction(out, cv::Rect(0, 12, 64, 52)), 0.75);
    EXPECT_LT(ink_fraction(out, cv::Rect(192, 12, 64, 52)), 0.25);
  }
}

TEST(EffectDither, EncodesAsTwoBitPalettePng) {
  const EffectImage out = dither(photo_cutout(120, 90), DitherMethod::kFloyd);
  const std::vector<uint8_t> png = encode_png_indexed(out.pixels, out.palette, 2);
  DecodeOptions options;
  options.rgba = true;
  const DecodedImage back = decode_image(png, options);
  EXPECT_TRUE(back.has_alpha);
  EXPECT_TRUE(same_bytes(back.pixels, out.to_rgba()));
}

}  // namespace
}  // namespace cutout
