#include "core/compose.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "core/pipeline.h"
#include "core/pixel_math.h"

namespace cutout {
namespace {

// crop=subject: the box of pixels at least 16/255 opaque, grown by the margin; a faint haze (the
// models leave alpha 1-8 around a subject) does not count, an empty matte keeps the photo.
TEST(CropSubject, BoxOfVisiblePixelsPlusMargin) {
  DecodedImage photo;
  photo.pixels = cv::Mat(100, 200, CV_8UC4, cv::Scalar(10, 20, 30, 255));  // decode_for_cutout gives RGBA
  cv::Mat matte(100, 200, CV_8UC1, cv::Scalar(0));
  matte(cv::Rect(50, 20, 40, 30)).setTo(255);
  matte(cv::Rect(40, 20, 10, 30)).setTo(16);  // faint but visible: part of the subject
  matte.at<uint8_t>(0, 0) = 8;                // haze
  matte.at<uint8_t>(99, 199) = 15;
  RemoveOptions options;
  options.crop_subject = true;
  options.refine = RefineMethod::kNone;  // the box of this matte as it is
  options.decontaminate = false;
  auto crop = [&](const cv::Mat& m) {  // finish_cutout writes the alpha into the pixels it gets
    StageTimings t;
    return finish_cutout({photo.pixels.clone()}, m, options, t).size();
  };
  EXPECT_EQ(crop(matte), cv::Size(50, 30));
  options.margin_percent = 10;
  EXPECT_EQ(crop(matte), cv::Size(60, 36));
  EXPECT_EQ(crop(cv::Mat(100, 200, CV_8UC1, cv::Scalar(8))), cv::Size(200, 100));
}

TEST(ParseBackground, AcceptsNamesAndHex) {
  EXPECT_EQ(parse_background("transparent"), (Rgba{0, 0, 0, 0}));
  EXPECT_EQ(parse_background("white"), (Rgba{255, 255, 255, 255}));
  EXPECT_EQ(parse_background("BLACK"), (Rgba{0, 0, 0, 255}));
  EXPECT_EQ(parse_background("#ff8000"), (Rgba{255, 128, 0, 255}));
  EXPECT_EQ(parse_background("#00FF0080"), (Rgba{0, 255, 0, 128}));
}

TEST(ParseBackground, RejectsOthersListingTheAllowedForms) {
  for (const char* bad : {"", "red", "#12345", "#1234567", "#gg0000", "ff8000", "#ff800"}) {
    try {
      parse_background(bad);
      FAIL() << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find("#RRGGBBAA"), std::string::npos);
    }
  }
}

cv::Mat matte_of(std::initializer_list<uint8_t> values) {
  cv::Mat m(1, static_cast<int>(values.size()), CV_8UC1);
  int i = 0;
  for (uint8_t v : values) m.at<uint8_t>(0, i++) = v;
  return m;
}

TEST(CutOut, AlphaFromMatteAndInvisibleColourZeroed) {
  cv::Mat img(1, 3, CV_8UC3, cv::Scalar(10, 20, 30));
  cv::Mat out = cut_out(img, matte_of({0, 1, 255}));
  ASSERT_EQ(out.type(), CV_8UC4);
  EXPECT_EQ(out.at<cv::Vec4b>(0, 0), cv::Vec4b(0, 0, 0, 0));
  EXPECT_EQ(out.at<cv::Vec4b>(0, 1), cv::Vec4b(10, 20, 30, 1));
  EXPECT_EQ(out.at<cv::Vec4b>(0, 2), cv::Vec4b(10, 20, 30, 255));
}

TEST(CutOut, SourceAlphaMultipliesTheMatte) {
  cv::Mat img(1, 3, CV_8UC4, cv::Scalar(10, 20, 30, 128));
  cv::Mat out = cut_out(img, matte_of({255, 128, 1}));
  EXPECT_EQ(out.at<cv::Vec4b>(0, 0)[3], 128);
  EXPECT_EQ(out.at<cv::Vec4b>(0, 1)[3], 64);                     // 128*128/255 = 64.25
  EXPECT_EQ(out.at<cv::Vec4b>(0, 2), cv::Vec4b(10, 20, 30, 1));  // 1*128/255 = 0.502 rounds to 1
  cv::Mat faint(1, 1, CV_8UC4, cv::Scalar(10, 20, 30, 100));
  EXPECT_EQ(cut_out(faint, matte_of({1})).at<cv::Vec4b>(0, 0), cv::Vec4b(0, 0, 0, 0));  // 0.39 -> 0
}

TEST(Composite, OpaqueBackgroundGivesRgb) {
  cv::Mat img(1, 3, CV_8UC3, cv::Scalar(0, 100, 200));
  cv::Mat out = composite(img, matte_of({0, 128, 255}), Rgba{255, 255, 255, 255});
  ASSERT_EQ(out.type(), CV_8UC3);
  EXPECT_EQ(out.at<cv::Vec3b>(0, 0), cv::Vec3b(255, 255, 255));
  // (src*128 + 255*127) / 255, rounded: 127, 177, 227.
  EXPECT_EQ(out.at<cv::Vec3b>(0, 1), cv::Vec3b(127, 177, 227));
  EXPECT_EQ(out.at<cv::Vec3b>(0, 2), cv::Vec3b(0, 100, 200));
}

TEST(Composite, TranslucentBackgroundIsStraightAlphaOver) {
  cv::Mat img(1, 2, CV_8UC3, cv::Scalar(200, 0, 0));
  cv::Mat out = composite(img, matte_of({0, 128}), Rgba{0, 0, 255, 128});
  ASSERT_EQ(out.type(), CV_8UC4);
  EXPECT_EQ(out.at<cv::Vec4b>(0, 0), cv::Vec4b(0, 0, 255, 128));
  // a = 128, background share = 128*127/255 = 64 (rounded): a_out 192; colour weighted.
  const cv::Vec4b p = out.at<cv::Vec4b>(0, 1);
  EXPECT_EQ(p[3], 192);
  EXPECT_EQ(p[0], (200 * 128 + 96) / 192);
  EXPECT_EQ(p[2], (255 * 64 + 96) / 192);
}

TEST(Composite, TransparentBackgroundIsTheCutOut) {
  cv::Mat img(1, 2, CV_8UC3, cv::Scalar(1, 2, 3));
  cv::Mat a = composite(img, matte_of({0, 77}), Rgba{9, 9, 9, 0});
  cv::Mat b = cut_out(img, matte_of({0, 77}));
  EXPECT_EQ(cv::norm(a, b, cv::NORM_INF), 0);
}

TEST(Compose, SizeMismatchIsAnError) {
  cv::Mat img(2, 2, CV_8UC3, cv::Scalar::all(0));
  EXPECT_THROW(cut_out(img, cv::Mat(3, 2, CV_8UC1)), Error);
  EXPECT_THROW(composite(img, cv::Mat(2, 2, CV_8UC3), Rgba{0, 0, 0, 255}), Error);
}

}  // namespace
}  // namespace cutout

namespace cutout {
namespace {

TEST(CutOutInPlace, SameAsCutOut) {
  cv::Mat rgba(7, 9, CV_8UC4);
  cv::randu(rgba, 0, 256);
  cv::Mat matte(7, 9, CV_8UC1);
  cv::randu(matte, 0, 256);
  matte(cv::Rect(0, 0, 3, 7)).setTo(0);
  cv::Mat expected = cut_out(rgba, matte);
  cv::Mat in_place = rgba.clone();
  cut_out_in_place(in_place, matte);
  EXPECT_EQ(cv::norm(in_place, expected, cv::NORM_INF), 0);
  cv::Mat rgb(7, 9, CV_8UC3);
  EXPECT_THROW(cut_out_in_place(rgb, matte), Error);
}

}  // namespace
}  // namespace cutout

namespace cutout {
namespace {

// The division-free x / 255 is exactly the rounded quotient for every product of two 8-bit values.
TEST(PixelMath, MulDiv255IsExactForEveryPairOfBytes) {
  for (uint32_t a = 0; a <= 255; ++a) {
    for (uint32_t b = 0; b <= 255; ++b) {
      ASSERT_EQ(mul_div255(a * b), (a * b * 2 + 255) / 510) << a << " * " << b;
    }
  }
}

}  // namespace
TEST(DropShadow, SoftAndBelowRightOfTheSubjectWhichStaysAsItWas) {
  cv::Mat rgba(200, 200, CV_8UC4, cv::Scalar(0, 0, 0, 0));
  rgba(cv::Rect(50, 50, 60, 60)).setTo(cv::Scalar(200, 100, 50, 255));
  const cv::Mat out = with_drop_shadow(rgba);
  EXPECT_EQ(out.at<cv::Vec4b>(80, 80), cv::Vec4b(200, 100, 50, 255));  // the subject
  const cv::Vec4b below = out.at<cv::Vec4b>(112, 80), above = out.at<cv::Vec4b>(47, 80);
  EXPECT_GT(below[3], 30);   // 2 % of 200 = 4 px down: the shadow shows under the bottom edge
  EXPECT_LE(below[3], 128);  // at most the opacity, 0.5
  EXPECT_EQ(below[0], 0);    // black
  EXPECT_LT(above[3], below[3]);
  EXPECT_EQ(out.at<cv::Vec4b>(5, 5)[3], 0);  // far away: clear
  EXPECT_THROW(with_drop_shadow(cv::Mat(4, 4, CV_8UC3)), Error);
}

}  // namespace cutout
