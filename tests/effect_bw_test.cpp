// Enhanced black & white (effect_bw.cpp): alpha kept exactly, plain luminance at strength 0, more
// local contrast as the strength grows, the transparent background ignored, identical bytes for
// any thread count, edge cases.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "core/compose.h"
#include "core/effects.h"
#include "core/image_io.h"

namespace cutout {
namespace {

// A soft-edged disc (radius r, 4-pixel alpha ramp) holding a diagonal colour gradient with a
// fine texture, on a zeroed transparent background: what cut_out() makes of a photo.
cv::Mat disc_cutout(int width, int height, double radius) {
  cv::Mat out(height, width, CV_8UC4, cv::Scalar::all(0));
  const double cx = width / 2.0, cy = height / 2.0;
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      const double d = std::hypot(x + 0.5 - cx, y + 0.5 - cy);
      const int a = static_cast<int>(std::lround(std::clamp((radius - d) / 4.0, 0.0, 1.0) * 255));
      if (a == 0) continue;
      const int texture = ((x * 7 + y * 13) % 11) - 5;
      const int base = 40 + (150 * (x + y)) / (width + height);
      out.at<cv::Vec4b>(y, x) = cv::Vec4b(
          cv::saturate_cast<uint8_t>(base + 30 + texture), cv::saturate_cast<uint8_t>(base + texture),
          cv::saturate_cast<uint8_t>(base - 20 + 2 * texture), static_cast<uint8_t>(a));
    }
  }
  return out;
}

EffectImage bw(const cv::Mat& cutout, float strength) {
  EffectParams params;
  params.bw_strength = strength;
  return apply_effect(Effect::kBw, cutout, params);
}

cv::Mat channel(const cv::Mat& m, int c) {
  cv::Mat out;
  cv::extractChannel(m, out, c);
  return out;
}

int max_abs_diff(const cv::Mat& a, const cv::Mat& b, const cv::Mat& mask = cv::Mat()) {
  double maxv = 0;
  cv::Mat d;
  cv::absdiff(a, b, d);
  cv::minMaxLoc(d, nullptr, &maxv, nullptr, nullptr, mask);
  return static_cast<int>(maxv);
}

// Standard deviation of the grey over the opaque subject.
double subject_stddev(const EffectImage& out) {
  cv::Scalar mean, dev;
  cv::meanStdDev(channel(out.pixels, 0), mean, dev, channel(out.pixels, 1) == 255);
  return dev[0];
}

void expect_alpha_exact_and_background_black(const cv::Mat& cutout, const EffectImage& out) {
  ASSERT_EQ(out.kind, EffectImage::Kind::kGreyAlpha);
  ASSERT_EQ(out.pixels.type(), CV_8UC2);
  ASSERT_EQ(out.pixels.size(), cutout.size());
  const cv::Mat alpha = channel(cutout, 3);
  EXPECT_EQ(cv::countNonZero(channel(out.pixels, 1) != alpha), 0);
  EXPECT_EQ(cv::countNonZero(channel(out.pixels, 0) & (alpha == 0)), 0);
}

TEST(EffectBw, KeepsAlphaExactlyAndBlackensOnlyTheBackground) {
  const cv::Mat cutout = disc_cutout(160, 120, 50);
  for (float strength : {0.0f, 0.5f, 1.0f, 2.0f}) {
    SCOPED_TRACE(strength);
    expect_alpha_exact_and_background_black(cutout, bw(cutout, strength));
  }
}

TEST(EffectBw, StrengthZeroIsPlainLuminance) {
  const cv::Mat cutout = disc_cutout(160, 120, 50);
  cv::Mat grey;
  cv::cvtColor(cutout, grey, cv::COLOR_RGBA2GRAY);
  const EffectImage out = bw(cutout, 0);
  EXPECT_LE(max_abs_diff(channel(out.pixels, 0), grey, channel(cutout, 3) > 0), 1);
}

TEST(EffectBw, LocalContrastGrowsWithStrength) {
  // A flat, low-contrast subject (luminance ~110-150): the enhancement must spread its tones.
  cv::Mat cutout(120, 160, CV_8UC4, cv::Scalar::all(0));
  cv::circle(cutout, {80, 60}, 50, cv::Scalar(130, 130, 130, 255), cv::FILLED);
  for (int y = 0; y < cutout.rows; ++y) {
    for (int x = 0; x < cutout.cols; ++x) {
      auto& px = cutout.at<cv::Vec4b>(y, x);
      if (px[3] == 0) continue;
      const int v = 130 + static_cast<int>(std::lround(20 * std::sin(x / 3.0) * std::cos(y / 5.0)));
      px = cv::Vec4b(static_cast<uint8_t>(v), static_cast<uint8_t>(v), static_cast<uint8_t>(v), 255);
    }
  }
  const double plain = subject_stddev(bw(cutout, 0));
  const double normal = subject_stddev(bw(cutout, 1));
  const double strong = subject_stddev(bw(cutout, 2));
  EXPECT_GT(normal, 1.4 * plain);
  EXPECT_GT(strong, 1.2 * normal);
}

TEST(EffectBw, GoldenValuesOfTheDefault) {
  // Regression goldens of the tuned default on the fixed disc (tolerance 1 level): a change of the
  // tuning must be deliberate and looked at.
  const cv::Mat cutout = disc_cutout(160, 120, 50);
  const cv::Mat grey = channel(bw(cutout, 1).pixels, 0);
  const struct {
    int x, y, value;
  } golden[] = {{80, 60, 141}, {50, 40, 61}, {110, 80, 174}, {40, 60, 81}, {120, 60, 153}, {80, 20, 88}};
  for (const auto& g : golden) {
    EXPECT_NEAR(grey.at<uint8_t>(g.y, g.x), g.value, 1) << "at " << g.x << "," << g.y;
  }
  cv::Scalar mean = cv::mean(grey, channel(cutout, 3) == 255);
  EXPECT_NEAR(mean[0], 121.7, 1.0);
}

TEST(EffectBw, InvisibleBackgroundHasNoInfluence) {
  // The same subject with garbage colour under alpha 0, or with much more empty canvas around it,
  // must come out the same: the background never enters the histograms or the blur.
  const cv::Mat cutout = disc_cutout(160, 120, 50);
  cv::Mat noisy = cutout.clone();
  cv::RNG rng(7);
  for (int y = 0; y < noisy.rows; ++y) {
    for (int x = 0; x < noisy.cols; ++x) {
      auto& px = noisy.at<cv::Vec4b>(y, x);
      if (px[3] == 0) px = cv::Vec4b(rng.uniform(0, 256), rng.uniform(0, 256), rng.uniform(0, 256), 0);
    }
  }
  const cv::Mat reference = bw(cutout, 1).pixels;
  EXPECT_EQ(cv::norm(bw(noisy, 1).pixels, reference, cv::NORM_INF), 0);

  cv::Mat padded(400, 500, CV_8UC4, cv::Scalar::all(0));
  cutout.copyTo(padded(cv::Rect(300, 17, cutout.cols, cutout.rows)));
  const cv::Mat padded_out = bw(padded, 1).pixels(cv::Rect(300, 17, cutout.cols, cutout.rows));
  EXPECT_EQ(cv::norm(padded_out, reference, cv::NORM_INF), 0);
}

TEST(EffectBw, NoRimAlongTheOutline) {
  // A flat grey subject with a hard outline stays flat up to its edge: the sharpening blur only
  // averages subject pixels, so the black background cannot brighten a rim (an unmasked blur adds
  // ~25 levels there).
  cv::Mat cutout(120, 160, CV_8UC4, cv::Scalar::all(0));
  cv::circle(cutout, {80, 60}, 45, cv::Scalar(100, 100, 100, 255), cv::FILLED);
  cv::rectangle(cutout, cv::Rect(10, 10, 30, 30), cv::Scalar(100, 100, 100, 255), cv::FILLED);
  const EffectImage out = bw(cutout, 2);
  double lo = 0, hi = 0;
  cv::minMaxLoc(channel(out.pixels, 0), &lo, &hi, nullptr, nullptr, channel(cutout, 3) > 0);
  EXPECT_LE(hi - lo, 1);
}

TEST(EffectBw, SameBytesForAnyThreadCount) {
  const cv::Mat cutout = disc_cutout(700, 530, 240);
  const int saved = cv::getNumThreads();
  std::vector<cv::Mat> outs;
  for (int threads : {1, 2, 8}) {
    cv::setNumThreads(threads);
    outs.push_back(bw(cutout, 1.3f).pixels);
  }
  cv::setNumThreads(saved);
  EXPECT_EQ(cv::norm(outs[0], outs[1], cv::NORM_INF), 0);
  EXPECT_EQ(cv::norm(outs[0], outs[2], cv::NORM_INF), 0);
}

TEST(EffectBw, FullyTransparentInputGivesAnEmptyImage) {
  const cv::Mat cutout(37, 23, CV_8UC4, cv::Scalar::all(0));
  const EffectImage out = bw(cutout, 1);
  expect_alpha_exact_and_background_black(cutout, out);
  EXPECT_EQ(cv::countNonZero(out.pixels.reshape(1)), 0);
}

TEST(EffectBw, OnePixelImages) {
  for (const cv::Vec4b& px :
       {cv::Vec4b(200, 100, 50, 255), cv::Vec4b(200, 100, 50, 9), cv::Vec4b(0, 0, 0, 0)}) {
    const cv::Mat cutout(1, 1, CV_8UC4, cv::Scalar(px[0], px[1], px[2], px[3]));
    for (float strength : {0.0f, 1.0f, 2.0f}) {
      const EffectImage out = bw(cutout, strength);
      expect_alpha_exact_and_background_black(cutout, out);
    }
  }
  // Strength 0 of an opaque pixel: its luminance (0.299*200 + 0.587*100 + 0.114*50 = 124.4).
  EXPECT_EQ(bw(cv::Mat(1, 1, CV_8UC4, cv::Scalar(200, 100, 50, 255)), 0).pixels.at<cv::Vec2b>(0, 0),
            cv::Vec2b(124, 255));
}

TEST(EffectBw, TinySubject) {
  cv::Mat cutout(50, 60, CV_8UC4, cv::Scalar::all(0));
  cutout.at<cv::Vec4b>(20, 30) = cv::Vec4b(250, 250, 250, 255);
  cutout.at<cv::Vec4b>(20, 31) = cv::Vec4b(10, 10, 10, 255);
  cutout.at<cv::Vec4b>(21, 30) = cv::Vec4b(120, 90, 60, 128);
  const EffectImage out = bw(cutout, 1);
  expect_alpha_exact_and_background_black(cutout, out);
  // Light stays lighter than dark.
  EXPECT_GT(out.pixels.at<cv::Vec2b>(20, 30)[0], out.pixels.at<cv::Vec2b>(20, 31)[0]);
}

TEST(EffectBw, SixteenBitSourceThroughDecodeAndCutOut) {
  // A 16-bit RGB PNG (a gradient) decodes to 8-bit; cut out with a disc matte, then bw.
  cv::Mat rgb16(90, 120, CV_16UC3);
  for (int y = 0; y < rgb16.rows; ++y) {
    for (int x = 0; x < rgb16.cols; ++x) {
      rgb16.at<cv::Vec3w>(y, x) = cv::Vec3w(static_cast<uint16_t>(x * 500), static_cast<uint16_t>(y * 700),
                                            static_cast<uint16_t>(30000 + x * 100));
    }
  }
  std::vector<uint8_t> png;
  ASSERT_TRUE(cv::imencode(".png", rgb16, png));
  const DecodedImage decoded = decode_image(png);
  ASSERT_EQ(decoded.pixels.depth(), CV_8U);
  cv::Mat matte(rgb16.size(), CV_8UC1, cv::Scalar(0));
  cv::circle(matte, {60, 45}, 35, cv::Scalar(255), cv::FILLED, cv::LINE_AA);
  const cv::Mat cutout = cut_out(decoded.pixels, matte);
  for (float strength : {0.0f, 1.0f}) {
    const EffectImage out = bw(cutout, strength);
    expect_alpha_exact_and_background_black(cutout, out);
  }
  cv::Mat grey;
  cv::cvtColor(cutout, grey, cv::COLOR_RGBA2GRAY);
  EXPECT_LE(max_abs_diff(channel(bw(cutout, 0).pixels, 0), grey, matte > 0), 1);
}

}  // namespace
}  // namespace cutout
