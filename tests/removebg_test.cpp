// remove.bg's layout and archive (src/server/removebg.h) and base64 decoding (server/base64.h).
#include "server/removebg.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include "server/base64.h"

namespace cutout::server {
namespace {

// A 200x100 RGBA cut-out whose subject is the opaque rectangle `subject`.
cv::Mat cutout_with(cv::Rect subject) {
  cv::Mat rgba(100, 200, CV_8UC4, cv::Scalar(0, 0, 0, 0));
  rgba(subject).setTo(cv::Scalar(200, 100, 50, 255));
  return rgba;
}

TEST(Base64Decode, RoundTripsAndRefusesGarbage) {
  const std::string text = "any carnal pleasure.";
  std::string encoded, decoded;
  append_base64(std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()), encoded);
  ASSERT_TRUE(base64_decode(encoded, decoded));
  EXPECT_EQ(decoded, text);
  ASSERT_TRUE(base64_decode("data:image/png;base64,YW55IGNh\ncm5h", decoded));  // a data URI, a line break
  EXPECT_EQ(decoded, "any carna");
  ASSERT_TRUE(base64_decode("-_8", decoded));  // URL-safe, unpadded
  EXPECT_EQ(decoded, "\xfb\xff");
  EXPECT_FALSE(base64_decode("YW5@", decoded));
  EXPECT_FALSE(base64_decode("YW5=eQ", decoded));  // data after the padding
  EXPECT_FALSE(base64_decode("Y", decoded));       // a truncated quantum
  EXPECT_FALSE(base64_decode("data:text/plain,hello", decoded));
}

TEST(RemoveBgLayout, KeepsThePhotoAndFindsTheForeground) {
  const RemoveBgLayout l = lay_out_removebg(cutout_with({50, 20, 40, 30}), {});
  EXPECT_EQ(l.rgba.size(), cv::Size(200, 100));
  EXPECT_EQ(l.foreground, cv::Rect(50, 20, 40, 30));
}

TEST(RemoveBgLayout, CropWithMarginsReachesPastThePhoto) {
  RemoveBgParams p;
  p.crop = true;
  p.crop_margin = {Length{10, false}, Length{50, true}, Length{0, false},
                   Length{15, false}};  // top right bottom left
  const RemoveBgLayout l = lay_out_removebg(cutout_with({10, 20, 40, 30}), p);
  // left 15 px although the subject is 10 px from the edge: transparent there; right 50 % of the
  // width = 20 px
  EXPECT_EQ(l.rgba.size(), cv::Size(15 + 40 + 20, 10 + 30));
  EXPECT_EQ(l.foreground, cv::Rect(15, 10, 40, 30));
  EXPECT_EQ(l.rgba.at<cv::Vec4b>(15, 0)[3], 0);
  EXPECT_EQ(l.rgba.at<cv::Vec4b>(15, 35)[3], 255);
  // Margins are capped at half the subject's side (and 500 px), as remove.bg caps them.
  RemoveBgParams wide;
  wide.crop = true;
  wide.crop_margin.fill(Length{90, false});
  EXPECT_EQ(lay_out_removebg(cutout_with({10, 20, 40, 30}), wide).rgba.size(), cv::Size(40 + 40, 30 + 30));
}

TEST(RemoveBgLayout, ScaleCentresAndPositionMoves) {
  RemoveBgParams p;
  p.scale = 0.5;
  p.position = std::pair{0.5, 0.5};
  const RemoveBgLayout l = lay_out_removebg(cutout_with({0, 0, 40, 20}), p);
  EXPECT_EQ(l.rgba.size(), cv::Size(200, 100));
  EXPECT_EQ(l.foreground, cv::Rect(50, 25, 100, 50));  // half the canvas, the limiting side
  RemoveBgParams corner;
  corner.position = std::pair{1.0, 0.0};
  EXPECT_EQ(lay_out_removebg(cutout_with({0, 50, 40, 20}), corner).foreground, cv::Rect(160, 0, 40, 20));
}

TEST(RemoveBgLayout, SizeCapAndRoi) {
  RemoveBgParams p;
  p.max_output_pixels = 5000;
  const RemoveBgLayout l = lay_out_removebg(cutout_with({100, 0, 100, 100}), p);
  EXPECT_LE(l.rgba.total(), 5000u);
  EXPECT_GT(l.rgba.total(), 4500u);
  EXPECT_NEAR(l.foreground.x, l.rgba.cols / 2, 1);
  RemoveBgParams roi;
  roi.roi = std::array<Length, 4>{Length{0, true}, Length{0, true}, Length{50, true}, Length{100, true}};
  EXPECT_THROW(lay_out_removebg(cutout_with({100, 0, 100, 100}), roi), RemoveBgError);  // nothing left
  const RemoveBgLayout half = lay_out_removebg(cutout_with({50, 0, 100, 100}), roi);
  EXPECT_EQ(half.foreground, cv::Rect(50, 0, 50, 100));
}

TEST(ZipStored, HeadersSizesAndCrc) {
  const std::vector<uint8_t> a = {'h', 'i'}, b(1000, 7);
  const std::vector<uint8_t> zip = zip_stored({{"a.txt", a}, {"b.bin", b}});
  ASSERT_GT(zip.size(), 1002u);
  EXPECT_EQ(zip[0], 'P');
  EXPECT_EQ(zip[1], 'K');
  auto u32 = [&](size_t at) {
    return zip[at] | zip[at + 1] << 8 | zip[at + 2] << 16 | uint32_t{zip[at + 3]} << 24;
  };
  EXPECT_EQ(u32(14), static_cast<uint32_t>(crc32(0L, a.data(), 2)));
  EXPECT_EQ(u32(18), 2u);
  EXPECT_EQ(u32(zip.size() - 22), 0x06054b50u);  // end of central directory
  EXPECT_EQ(zip[zip.size() - 22 + 10], 2);       // two entries
  const uint32_t central = u32(zip.size() - 22 + 16);
  EXPECT_EQ(u32(central), 0x02014b50u);
}

}  // namespace
}  // namespace cutout::server
