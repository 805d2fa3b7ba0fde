#include "core/quality_metrics.h"

#include <filesystem>

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "core/image_io.h"
#include "test_support.h"

namespace cutout {
namespace {

cv::Mat square(int size, cv::Rect fg, uint8_t value = 255) {
  cv::Mat m(size, size, CV_8UC1, cv::Scalar(0));
  m(fg).setTo(value);
  return m;
}

TEST(ScoreMatte, PerfectAndInverted) {
  cv::Mat gt = square(20, {5, 5, 8, 8});
  MatteScore s = score_matte(gt, gt);
  EXPECT_EQ(s.mae, 0.0);
  EXPECT_EQ(s.iou, 1.0);
  EXPECT_EQ(s.boundary_iou, 1.0);
  EXPECT_EQ(s.scored_pixels, 400);
  MatteScore inv = score_matte(255 - gt, gt);
  EXPECT_EQ(inv.mae, 1.0);
  EXPECT_EQ(inv.iou, 0.0);
}

TEST(ScoreMatte, HandComputedShift) {
  // 4x4 truth at x 3..6, prediction at x 4..7: intersection 12, union 20.
  cv::Mat gt = square(12, {3, 3, 4, 4});
  cv::Mat pred = square(12, {4, 3, 4, 4});
  MatteScore s = score_matte(pred, gt);
  EXPECT_DOUBLE_EQ(s.iou, 12.0 / 20.0);
  EXPECT_DOUBLE_EQ(s.mae, 8.0 / 144.0);
  // Every differing pixel is within 3 px of the truth's edge: band IoU equals IoU here.
  EXPECT_DOUBLE_EQ(s.boundary_iou, 12.0 / 20.0);
}

TEST(ScoreMatte, BoundaryBandIgnoresFarPixels) {
  // Errors far from the truth's edge lower IoU but not boundary IoU.
  cv::Mat gt = square(100, {20, 20, 60, 60});
  cv::Mat pred = gt.clone();
  pred(cv::Rect(45, 45, 10, 10)).setTo(0);  // a hole in the middle, > 3 px from the edge
  MatteScore s = score_matte(pred, gt);
  EXPECT_LT(s.iou, 1.0);
  EXPECT_EQ(s.boundary_iou, 1.0);
}

TEST(ScoreMatte, UncertainPixelsAreNotScored) {
  cv::Mat gt = square(10, {2, 2, 5, 5});
  gt(cv::Rect(0, 0, 10, 1)).setTo(128);
  cv::Mat pred = gt.clone();
  pred(cv::Rect(0, 0, 10, 1)).setTo(255);  // wrong only where the truth is uncertain
  pred.setTo(255, gt == 255);
  MatteScore s = score_matte(pred, gt);
  EXPECT_EQ(s.scored_pixels, 90);
  EXPECT_EQ(s.iou, 1.0);
  EXPECT_EQ(s.mae, 0.0);
}

TEST(ScoreMatte, SoftAlphaMae) {
  cv::Mat gt = square(10, {0, 0, 10, 5});  // top half foreground
  cv::Mat half(10, 10, CV_8UC1, cv::Scalar(128));
  MatteScore s = score_matte(half, gt);
  EXPECT_NEAR(s.mae, (127.0 / 255 + 128.0 / 255) / 2, 1e-12);
  EXPECT_EQ(s.iou, 0.5);  // alpha 128 counts as foreground: all predicted, half true
}

TEST(ScoreMatte, SizeMismatchIsAnError) {
  EXPECT_THROW(score_matte(cv::Mat(4, 4, CV_8UC1), cv::Mat(5, 4, CV_8UC1)), Error);
  EXPECT_THROW(matte_mean_abs_diff(cv::Mat(4, 4, CV_8UC1), cv::Mat(4, 4, CV_8UC3)), Error);
}

TEST(MeanAbsDiff, HandComputed) {
  cv::Mat a(2, 2, CV_8UC1, cv::Scalar(0)), b(2, 2, CV_8UC1, cv::Scalar(0));
  b.at<uint8_t>(0, 0) = 255;
  b.at<uint8_t>(1, 1) = 51;
  EXPECT_DOUBLE_EQ(matte_mean_abs_diff(a, b), (1.0 + 0.2) / 4);
}

TEST(SoftAlpha, HandComputedMetrics) {
  // A 10x10 truth: left half 0, right half 255, one soft column of 128 at x = 5.
  cv::Mat gt(10, 10, CV_8UC1, cv::Scalar(0));
  gt(cv::Rect(5, 0, 5, 10)).setTo(255);
  gt(cv::Rect(5, 0, 1, 10)).setTo(128);
  cv::Mat alpha = gt.clone();
  alpha(cv::Rect(0, 0, 1, 10)).setTo(51);  // 0.2 wrong on a column far (5 px) from the edge
  const SoftAlphaScore s = score_soft_alpha(alpha, gt, 2);
  EXPECT_NEAR(s.sad, 10 * 0.2 / 1000.0, 1e-12);
  EXPECT_NEAR(s.mae, 10 * 0.2 / 100.0, 1e-12);
  EXPECT_NEAR(s.mse, 10 * 0.04 / 100.0, 1e-12);
  EXPECT_EQ(s.band_mae, 0.0);  // the wrong column is outside a 2 px band
  // The band: the soft column and the edge pixels on either side, grown by 2 px.
  const cv::Mat band = transition_band(gt, 2);
  EXPECT_EQ(band.at<uint8_t>(0, 5), 255);
  EXPECT_EQ(band.at<uint8_t>(0, 2), 255);
  EXPECT_EQ(band.at<uint8_t>(0, 0), 0);
  EXPECT_EQ(band.at<uint8_t>(0, 9), 0);
  EXPECT_EQ(s.band_pixels, cv::countNonZero(band));
  const SoftAlphaScore wide = score_soft_alpha(alpha, gt, 10);
  EXPECT_GT(wide.band_mae, 0.0);
}

TEST(Foreground, CompositeAndErrorHandComputed) {
  cv::Mat fg(1, 3, CV_8UC3, cv::Scalar(200, 100, 0)), bg(1, 3, CV_8UC3, cv::Scalar(0, 100, 250));
  cv::Mat alpha = (cv::Mat_<uint8_t>(1, 3) << 255, 51, 0);
  const cv::Mat i = composite_onto(fg, alpha, bg);
  EXPECT_EQ(i.at<cv::Vec3b>(0, 0), cv::Vec3b(200, 100, 0));
  EXPECT_EQ(i.at<cv::Vec3b>(0, 1), cv::Vec3b(40, 100, 200));  // 0.2 F + 0.8 B
  EXPECT_EQ(i.at<cv::Vec3b>(0, 2), cv::Vec3b(0, 100, 250));
  // Only the soft pixel is scored: |40 - 200| + 0 + |200 - 0|, over 3 channels.
  EXPECT_NEAR(foreground_error(i, fg, alpha), (160.0 + 200.0) / 3 / 255, 1e-12);
  EXPECT_EQ(foreground_error(fg, fg, alpha), 0.0);
}

TEST(Foreground, NearestOpaqueColourFillsTheSoftPixels) {
  // Opaque red on the left, opaque green on the right, soft and transparent pixels between.
  cv::Mat photo(1, 7, CV_8UC4, cv::Scalar(9, 9, 9, 255));
  photo.at<cv::Vec4b>(0, 0) = {255, 0, 0, 255};
  photo.at<cv::Vec4b>(0, 6) = {0, 255, 0, 255};
  cv::Mat alpha = (cv::Mat_<uint8_t>(1, 7) << 255, 100, 0, 30, 0, 200, 255);
  const cv::Mat f = nearest_opaque_colour(photo, alpha);
  ASSERT_EQ(f.type(), CV_8UC3);
  EXPECT_EQ(f.at<cv::Vec3b>(0, 0), cv::Vec3b(255, 0, 0));
  EXPECT_EQ(f.at<cv::Vec3b>(0, 1), cv::Vec3b(255, 0, 0));
  EXPECT_EQ(f.at<cv::Vec3b>(0, 2), cv::Vec3b(255, 0, 0));
  EXPECT_EQ(f.at<cv::Vec3b>(0, 4), cv::Vec3b(0, 255, 0));
  EXPECT_EQ(f.at<cv::Vec3b>(0, 5), cv::Vec3b(0, 255, 0));
  EXPECT_EQ(f.at<cv::Vec3b>(0, 6), cv::Vec3b(0, 255, 0));
  // Without an opaque pixel: the photo's colour.
  const cv::Mat none = nearest_opaque_colour(photo, cv::Mat(1, 7, CV_8UC1, cv::Scalar(100)));
  EXPECT_EQ(none.at<cv::Vec3b>(0, 3), cv::Vec3b(9, 9, 9));
}

// The published scores of the reference alphas (../shared/eval/README.md) come out of our
// definitions: this pins MAE, IoU and boundary IoU to what the eval set means by them.
TEST(ScoreMatte, ReproducesThePublishedReferenceScores) {
  namespace fs = std::filesystem;
  const fs::path eval = testing::eval_dir();
  struct Subset {
    const char* name;
    double mae, iou, biou;
  } subsets[] = {{"grabcut", 0.0273, 0.929, 0.798}, {"davis2016", 0.0319, 0.839, 0.659}};
  for (const Subset& sub : subsets) {
    double mae = 0, iou = 0, biou = 0;
    int n = 0;
    for (const auto& entry : fs::directory_iterator(eval / sub.name / "masks")) {
      const std::string stem = entry.path().stem().string();
      const fs::path ref = eval / "reference" / "imgly-isnet-medium" / (stem + ".png");
      ASSERT_TRUE(fs::exists(ref)) << ref;
      cv::Mat truth, alpha;
      cv::extractChannel(decode_image(testing::read_file(entry.path())).pixels, truth, 0);
      cv::extractChannel(decode_image(testing::read_file(ref)).pixels, alpha, 0);
      MatteScore s = score_matte(alpha, truth);
      mae += s.mae, iou += s.iou, biou += s.boundary_iou, ++n;
    }
    ASSERT_GT(n, 10);
    EXPECT_NEAR(mae / n, sub.mae, 0.00006) << sub.name;
    EXPECT_NEAR(iou / n, sub.iou, 0.0006) << sub.name;
    EXPECT_NEAR(biou / n, sub.biou, 0.0006) << sub.name;
  }
}

}  // namespace
}  // namespace cutout
