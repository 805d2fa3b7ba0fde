#include "core/matte.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "test_support.h"

namespace cutout {
namespace {

constexpr Normalization kIsnet{{128, 128, 128}, {256, 256, 256}};
constexpr Normalization kImagenet{{0.485f * 255, 0.456f * 255, 0.406f * 255},
                                  {0.229f * 255, 0.224f * 255, 0.225f * 255}};

TEST(ImageToTensor, IsnetValuesArePlanarAndHandComputed) {
  cv::Mat img(2, 2, CV_8UC3);
  img.at<cv::Vec3b>(0, 0) = {0, 128, 255};
  img.at<cv::Vec3b>(0, 1) = {10, 20, 30};
  img.at<cv::Vec3b>(1, 0) = {64, 192, 1};
  img.at<cv::Vec3b>(1, 1) = {255, 255, 255};
  std::vector<float> t(12);
  image_to_tensor(img, 2, 2, kIsnet, t);
  // Plane R, then G, then B; (x - 128) / 256.
  const float expected[12] = {-0.5f,       -0.4609375f, -0.25f,       0.49609375f,   // R
                              0.0f,        -0.421875f,  0.25f,        0.49609375f,   // G
                              0.49609375f, -0.3828125f, -0.49609375f, 0.49609375f};  // B
  for (int i = 0; i < 12; ++i) EXPECT_FLOAT_EQ(t[i], expected[i]) << i;
}

TEST(ImageToTensor, ImagenetNormalisation) {
  cv::Mat img(1, 1, CV_8UC3, cv::Scalar(255, 0, 128));
  std::vector<float> t(3);
  image_to_tensor(img, 1, 1, kImagenet, t);
  EXPECT_NEAR(t[0], (1.0 - 0.485) / 0.229, 1e-5);
  EXPECT_NEAR(t[1], (0.0 - 0.456) / 0.224, 1e-5);
  EXPECT_NEAR(t[2], (128.0 / 255 - 0.406) / 0.225, 1e-5);
}

TEST(ImageToTensor, AlphaIsIgnoredAndConstantSurvivesResize) {
  cv::Mat img(50, 100, CV_8UC4, cv::Scalar(200, 100, 50, 0));
  std::vector<float> t(3 * 16 * 16);
  image_to_tensor(img, 16, 16, kIsnet, t);
  for (int i = 0; i < 256; ++i) {
    ASSERT_FLOAT_EQ(t[i], (200 - 128) / 256.0f);
    ASSERT_FLOAT_EQ(t[256 + i], (100 - 128) / 256.0f);
    ASSERT_FLOAT_EQ(t[512 + i], (50 - 128) / 256.0f);
  }
}

TEST(ImageToTensor, ShrinkingAveragesInsteadOfAliasing) {
  // A one-pixel checkerboard, shrunk 4x: area averaging gives ~127.5 everywhere, where point
  // sampling would give a pattern of 0 and 255.
  cv::Mat img(256, 256, CV_8UC3);
  for (int y = 0; y < 256; ++y)
    for (int x = 0; x < 256; ++x) img.at<cv::Vec3b>(y, x) = cv::Vec3b::all((x + y) % 2 ? 255 : 0);
  std::vector<float> t(3 * 64 * 64);
  image_to_tensor(img, 64, 64, kIsnet, t);
  for (float v : t) ASSERT_NEAR(v * 256 + 128, 127.5, 1.0);
}

TEST(ImageToTensor, TwoStepShrinkMatchesAOneStepAreaResize) {
  // 4.1x by 3.3x: the whole factor 2 (3 does not divide the sides) goes first, then the rest.
  const cv::Mat img = testing::make_test_rgb(412, 330);
  cv::Mat one_step;
  cv::resize(img, one_step, cv::Size(100, 100), 0, 0, cv::INTER_AREA);
  std::vector<float> t(3 * 100 * 100);
  image_to_tensor(img, 100, 100, kIsnet, t);
  double sum = 0, worst = 0;
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 100; ++y)
      for (int x = 0; x < 100; ++x) {
        const double d = std::abs(t[c * 10000 + y * 100 + x] * 256 + 128 - one_step.at<cv::Vec3b>(y, x)[c]);
        sum += d;
        worst = std::max(worst, d);
      }
  // Measured 0.60 and 30 (at the shapes' hard edges, the wider box filter). Cropping the sides to a
  // multiple of 3 instead, which stretches the picture, gave 4.5 and 131.
  EXPECT_LT(sum / t.size(), 1.0);
  EXPECT_LE(worst, 48.0);
}

TEST(ImageToTensor, RejectsWrongTensorSize) {
  cv::Mat img(4, 4, CV_8UC3, cv::Scalar::all(0));
  std::vector<float> t(10);
  EXPECT_THROW(image_to_tensor(img, 4, 4, kIsnet, t), Error);
}

TEST(OutputToMatte, SigmoidOutputIsClampedAndRounded) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> out = {-0.5f, 0.0f, 0.5f, 1.0f, 2.0f, nan, 0.001f, 0.999f};
  cv::Mat m = output_to_matte(out, 4, 2, MatteActivation::kSigmoid);
  ASSERT_EQ(m.type(), CV_8UC1);
  const uint8_t expected[8] = {0, 0, 128, 255, 255, 0, 0, 255};
  for (int i = 0; i < 8; ++i) EXPECT_EQ(m.ptr<uint8_t>()[i], expected[i]) << i;
}

TEST(OutputToMatte, MinMaxNormalisesByTheImagesOwnRange) {
  std::vector<float> out = {-3.0f, -1.0f, 1.0f, 5.0f};
  cv::Mat m = output_to_matte(out, 2, 2, MatteActivation::kMinMax);
  EXPECT_EQ(m.at<uint8_t>(0, 0), 0);
  EXPECT_EQ(m.at<uint8_t>(0, 1), 64);   // 2/8 * 255 = 63.75
  EXPECT_EQ(m.at<uint8_t>(1, 0), 128);  // 4/8 * 255 = 127.5
  EXPECT_EQ(m.at<uint8_t>(1, 1), 255);
}

TEST(OutputToMatte, ConstantMinMaxOutputIsEmpty) {
  std::vector<float> out(16, 3.0f);
  cv::Mat m = output_to_matte(out, 4, 4, MatteActivation::kMinMax);
  EXPECT_EQ(cv::countNonZero(m), 0);
}

TEST(ResizeMatte, BilinearToThePhotoSize) {
  cv::Mat m(2, 2, CV_8UC1);
  m.at<uint8_t>(0, 0) = 0;
  m.at<uint8_t>(0, 1) = 255;
  m.at<uint8_t>(1, 0) = 0;
  m.at<uint8_t>(1, 1) = 255;
  cv::Mat r = resize_matte(m, {8, 6});
  EXPECT_EQ(r.size(), cv::Size(8, 6));
  EXPECT_EQ(r.at<uint8_t>(3, 0), 0);
  EXPECT_EQ(r.at<uint8_t>(3, 7), 255);
  // Monotonic across the row: bilinear, not nearest.
  for (int x = 1; x < 8; ++x) EXPECT_GE(r.at<uint8_t>(3, x), r.at<uint8_t>(3, x - 1));
  EXPECT_GT(r.at<uint8_t>(3, 4), 0);
  EXPECT_LT(r.at<uint8_t>(3, 3), 255);
}

}  // namespace
}  // namespace cutout
