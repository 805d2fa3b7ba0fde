// The effects' common parts: names, parameters, representations, and the encoding of results.
#include "core/effects.h"

#include <functional>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "core/compose.h"
#include "core/error.h"
#include "core/output_encode.h"
#include "test_support.h"

namespace cutout {
namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    return e.what();
  }
  ADD_FAILURE() << "no error";
  return "";
}

TEST(Effects, NamesAndLists) {
  EXPECT_EQ(parse_effect("popart"), Effect::kPopart);
  EXPECT_EQ(effect_name(Effect::kDither), "dither");
  auto list = parse_effect_list(" bw,color , bw,dither");
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0], Effect::kBw);
  EXPECT_EQ(list[1], Effect::kColor);
  EXPECT_EQ(list[2], Effect::kDither);
  EXPECT_NE(error_of([] { parse_effect("sepia"); }).find("color, bw, popart, dither"), std::string::npos);
  EXPECT_NE(error_of([] { parse_effect_list(" , "); }).find("no effect"), std::string::npos);
}

TEST(Effects, ParametersAreValidatedWithTheAllowedValues) {
  EffectParams p;
  set_effect_param(p, "bw_strength", "1.5");
  EXPECT_FLOAT_EQ(p.bw_strength, 1.5f);
  set_effect_param(p, "popart_grid", "2x2");
  EXPECT_EQ(p.popart_grid, 2);
  set_effect_param(p, "popart_background", "palette");
  EXPECT_FALSE(p.popart_transparent);
  set_effect_param(p, "dither_method", "atkinson");
  EXPECT_EQ(p.dither_method, DitherMethod::kAtkinson);
  set_effect_param(p, "popart_palette", "mint");
  EXPECT_EQ(p.popart_palette, "mint");

  EXPECT_NE(error_of([&] { set_effect_param(p, "bw_strength", "3"); }).find("0 to 2"), std::string::npos);
  EXPECT_NE(error_of([&] { set_effect_param(p, "bw_strength", "1x"); }).find("0 to 2"), std::string::npos);
  EXPECT_NE(error_of([&] { set_effect_param(p, "bw_strength", "nan"); }).find("0 to 2"), std::string::npos);
  EXPECT_NE(error_of([&] { set_effect_param(p, "popart_grid", "3x3"); }).find("1x1, 2x2"), std::string::npos);
  EXPECT_NE(error_of([&] { set_effect_param(p, "dither_method", "jarvis"); }).find("floyd, atkinson, bayer"),
            std::string::npos);
  EXPECT_NE(error_of([&] { set_effect_param(p, "popart_palette", "x"); }).find("warhol"), std::string::npos);
  EXPECT_NE(error_of([&] { set_effect_param(p, "popart_background", "red"); }).find("transparent, palette"),
            std::string::npos);
  EXPECT_NE(error_of([&] { set_effect_param(p, "sepia", "1"); }).find("bw_strength"), std::string::npos);
}

TEST(Effects, ColorIsTheCutOutItself) {
  cv::Mat cut(4, 5, CV_8UC4, cv::Scalar(1, 2, 3, 4));
  EffectImage out = apply_effect(Effect::kColor, cut, {});
  EXPECT_EQ(out.kind, EffectImage::Kind::kRgba);
  EXPECT_EQ(cv::norm(out.to_rgba(), cut, cv::NORM_INF), 0);
  EXPECT_THROW(apply_effect(Effect::kBw, cv::Mat(4, 5, CV_8UC3), {}), Error);
}

TEST(EffectImage, ToRgbaOfEachKind) {
  EffectImage grey;
  grey.kind = EffectImage::Kind::kGreyAlpha;
  grey.pixels = cv::Mat(1, 1, CV_8UC2, cv::Scalar(10, 200));
  EXPECT_EQ(grey.to_rgba().at<cv::Vec4b>(0, 0), cv::Vec4b(10, 10, 10, 200));

  EffectImage indexed;
  indexed.kind = EffectImage::Kind::kIndexed;
  indexed.pixels = (cv::Mat_<uint8_t>(1, 2) << 1, 0);
  indexed.palette = {{0, 0, 0, 0}, {255, 0, 0, 255}};
  cv::Mat rgba = indexed.to_rgba();
  EXPECT_EQ(rgba.at<cv::Vec4b>(0, 0), cv::Vec4b(255, 0, 0, 255));
  EXPECT_EQ(rgba.at<cv::Vec4b>(0, 1), cv::Vec4b(0, 0, 0, 0));
  indexed.pixels.at<uint8_t>(0, 0) = 7;
  EXPECT_THROW(indexed.to_rgba(), Error);
}

// The encoded PNG type for each kind of result, checked from the IHDR colour type and bit depth.
struct PngType {
  int bit_depth, colour_type;
};
PngType png_type(const std::vector<uint8_t>& png) {
  return {png.at(24), png.at(25)};
}

TEST(EncodeEffectImage, SmallestExactPngTypes) {
  EncodeSettings settings;
  const Rgba transparent{0, 0, 0, 0}, white{255, 255, 255, 255}, red{255, 0, 0, 255};

  EffectImage grey;
  grey.kind = EffectImage::Kind::kGreyAlpha;
  grey.pixels = cv::Mat(8, 8, CV_8UC2, cv::Scalar(90, 128));
  EXPECT_EQ(png_type(encode_effect_image(grey, OutputFormat::kPng, transparent, settings).bytes).colour_type,
            4);
  EXPECT_EQ(png_type(encode_effect_image(grey, OutputFormat::kPng, white, settings).bytes).colour_type, 0);
  EXPECT_EQ(png_type(encode_effect_image(grey, OutputFormat::kPng, red, settings).bytes).colour_type, 2);

  EffectImage indexed;
  indexed.kind = EffectImage::Kind::kIndexed;
  indexed.pixels = cv::Mat(8, 8, CV_8UC1, cv::Scalar(2));
  indexed.palette = {{0, 0, 0, 0}, {0, 0, 0, 255}, {255, 255, 255, 255}};
  auto t = png_type(encode_effect_image(indexed, OutputFormat::kPng, transparent, settings).bytes);
  EXPECT_EQ(t.colour_type, 3);
  EXPECT_EQ(t.bit_depth, 2);
  // On a background the palette is composited and it stays a palette PNG.
  auto bytes = encode_effect_image(indexed, OutputFormat::kPng, red, settings).bytes;
  EXPECT_EQ(png_type(bytes).colour_type, 3);
  indexed.pixels.at<uint8_t>(0, 0) = 0;
  cv::Mat decoded = cv::imdecode(encode_effect_image(indexed, OutputFormat::kPng, red, settings).bytes,
                                 cv::IMREAD_UNCHANGED);
  EXPECT_EQ(decoded.at<cv::Vec3b>(0, 0), cv::Vec3b(0, 0, 255));  // BGR: the transparent entry is red now
  EXPECT_EQ(decoded.at<cv::Vec3b>(0, 1), cv::Vec3b(255, 255, 255));

  // JPEG and WebP get full colour.
  cv::Mat jpeg = cv::imdecode(encode_effect_image(indexed, OutputFormat::kJpeg, white, settings).bytes,
                              cv::IMREAD_UNCHANGED);
  EXPECT_EQ(jpeg.type(), CV_8UC3);
  cv::Mat webp = cv::imdecode(encode_effect_image(indexed, OutputFormat::kWebp, transparent, settings).bytes,
                              cv::IMREAD_UNCHANGED);
  EXPECT_EQ(webp.type(), CV_8UC4);
}

TEST(PaletteBitDepth, Smallest) {
  EXPECT_EQ(palette_bit_depth(2), 1);
  EXPECT_EQ(palette_bit_depth(3), 2);
  EXPECT_EQ(palette_bit_depth(16), 4);
  EXPECT_EQ(palette_bit_depth(17), 8);
  EXPECT_EQ(palette_bit_depth(256), 8);
}

TEST(Flatten, UsesTheImagesOwnAlpha) {
  cv::Mat rgba(1, 2, CV_8UC4);
  rgba.at<cv::Vec4b>(0, 0) = {200, 100, 0, 255};
  rgba.at<cv::Vec4b>(0, 1) = {200, 100, 0, 0};
  cv::Mat flat = flatten(rgba, Rgba{0, 0, 255, 255});
  ASSERT_EQ(flat.type(), CV_8UC3);
  EXPECT_EQ(flat.at<cv::Vec3b>(0, 0), cv::Vec3b(200, 100, 0));
  EXPECT_EQ(flat.at<cv::Vec3b>(0, 1), cv::Vec3b(0, 0, 255));
}

}  // namespace
}  // namespace cutout
