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
