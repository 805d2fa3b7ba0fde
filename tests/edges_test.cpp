#include "core/edges.h"

#include <cmath>

#include <gtest/gtest.h>
#include <opencv2/core/utility.hpp>
#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "core/quality_metrics.h"

namespace cutout {
namespace {

// A red disc on a blue-green gradient: the truth is a sharp disc, the "network's" matte the same
// disc seen at 1/8 of the size and resized back (the smear refinement is for).
struct DiscScene {
  cv::Mat photo, truth, matte;
};

DiscScene disc_scene(int side) {
  DiscScene s;
  s.photo.create(side, side, CV_8UC3);
  for (int y = 0; y < side; ++y) {
    for (int x = 0; x < side; ++x) {
      s.photo.at<cv::Vec3b>(y, x) = {20, static_cast<uint8_t>(60 + 120 * x / side), 200};
    }
  }
  s.truth = cv::Mat::zeros(side, side, CV_8UC1);
  cv::circle(s.truth, {side / 2, side / 2}, side / 3, cv::Scalar(255), cv::FILLED);
  s.photo.setTo(cv::Scalar(220, 40, 30), s.truth);
  cv::Mat small;
  cv::resize(s.truth, small, {side / 8, side / 8}, 0, 0, cv::INTER_AREA);
  cv::resize(small, s.matte, s.truth.size(), 0, 0, cv::INTER_LINEAR);
  return s;
}

TEST(Refine, ParsesItsNames) {
  EXPECT_EQ(parse_refine("none"), RefineMethod::kNone);
  EXPECT_EQ(parse_refine("guided"), RefineMethod::kGuided);
  for (const std::string& name : refine_names()) EXPECT_EQ(refine_name(parse_refine(name)), name);
  try {
    parse_refine("closed-form");
    FAIL() << "accepted an unknown method";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("none, guided"), std::string::npos) << e.what();
  }
}

TEST(EdgeGrid, SmallPhotosAreTheirOwnGrid) {
  cv::Mat photo(300, 200, CV_8UC4, cv::Scalar(255, 0, 51, 7));
  const EdgeGrid grid = make_edge_grid(photo);
  EXPECT_EQ(grid.full, photo.size());
  ASSERT_EQ(grid.colour.size(), photo.size());
  ASSERT_EQ(grid.colour.type(), CV_32FC3);
  const cv::Vec3f c = grid.colour.at<cv::Vec3f>(10, 10);
  EXPECT_FLOAT_EQ(c[0], 1.0f);
  EXPECT_FLOAT_EQ(c[1], 0.0f);
  EXPECT_FLOAT_EQ(c[2], 0.2f);
}

// The fast block-mean path (an integer factor) and the INTER_AREA path agree with the exact mean.
TEST(EdgeGrid, LargePhotosAreBlockMeans) {
  for (const cv::Size size : {cv::Size(2048, 1536), cv::Size(2047, 1535), cv::Size(3000, 1000)}) {
    cv::Mat photo(size, CV_8UC3);
    cv::randu(photo, 0, 256);
    const EdgeGrid grid = make_edge_grid(photo);
    EXPECT_LE(std::max(grid.colour.cols, grid.colour.rows), 1024 * 3 / 2) << size;
    cv::Mat expected, as_float;
    photo.convertTo(as_float, CV_32FC3, 1.0 / 255.0);
    cv::resize(as_float, expected, grid.colour.size(), 0, 0, cv::INTER_AREA);
    // The INTER_AREA path rounds to 8 bits before the float conversion: half a level.
    EXPECT_LT(cv::norm(grid.colour, expected, cv::NORM_INF), size.width == 2048 ? 1e-4 : 0.5 / 255 + 1e-4)
        << size;
  }
}

TEST(Refine, NoneLeavesTheMatteAlone) {
  DiscScene s = disc_scene(256);
  const cv::Mat before = s.matte.clone();
  refine_matte(s.photo, make_edge_grid(s.photo), s.matte, RefineMethod::kNone);
  EXPECT_EQ(cv::norm(s.matte, before, cv::NORM_INF), 0.0);
}

TEST(Refine, SharpensASmearedEdgeTowardsTheTruth) {
  DiscScene s = disc_scene(2048);  // a grid of 1024: the fast path on a large photo
  const cv::Mat before = s.matte.clone();
  refine_matte(s.photo, make_edge_grid(s.photo), s.matte, RefineMethod::kGuided);
  const double mae_before = matte_mean_abs_diff(before, s.truth);
  const double mae_after = matte_mean_abs_diff(s.matte, s.truth);
  EXPECT_LT(mae_after, 0.5 * mae_before) << mae_before << " -> " << mae_after;
}

TEST(Refine, ConfidentPixelsAndTheShapeAreKept) {
  DiscScene s = disc_scene(512);
  const cv::Mat before = s.matte.clone();
  GuidedFilterParams params;
  refine_matte(s.photo, make_edge_grid(s.photo), s.matte, RefineMethod::kGuided, params);
  EXPECT_GT(cv::norm(s.matte, before, cv::NORM_L1), 0.0) << "refinement changed nothing";
  // Far from any uncertain pixel (the band, grown well past band_radius + the seam ramp), exact.
  const cv::Mat uncertain = (before >= params.uncertain_lo) & (before <= params.uncertain_hi);
  cv::Mat near;
  cv::dilate(uncertain, near, cv::getStructuringElement(cv::MORPH_RECT, {15, 15}));
  EXPECT_EQ(cv::countNonZero((s.matte != before) & ~near), 0);
  // Every pixel stays on its side of 1/2.
  EXPECT_EQ(cv::countNonZero((s.matte >= 128) != (before >= 128)), 0);
}

// The row strips of the parallel box filter give what one thread gives.
TEST(Refine, TheSameOnOneThreadAndOnMany) {
  DiscScene s = disc_scene(1024);
  cv::Mat one = s.matte.clone(), many = s.matte.clone();
  const int threads = cv::getNumThreads();
  cv::setNumThreads(1);
  const EdgeGrid grid = make_edge_grid(s.photo);
  refine_matte(s.photo, grid, one, RefineMethod::kGuided);
  cv::Mat colour_one = s.photo.clone();
  decontaminate(colour_one, grid, one);
  cv::setNumThreads(4);
  refine_matte(s.photo, make_edge_grid(s.photo), many, RefineMethod::kGuided);
  cv::Mat colour_many = s.photo.clone();
  decontaminate(colour_many, grid, many);
  cv::setNumThreads(threads);
  EXPECT_EQ(cv::norm(one, many, cv::NORM_INF), 0.0);
  EXPECT_EQ(cv::norm(colour_one, colour_many, cv::NORM_INF), 0.0);
}

// A composite with a known foreground: F smooth (a warm gradient), B a different cool texture,
// alpha a soft ramp across the middle and a fringe of hair-like stripes.
struct Composite {
  cv::Mat foreground, background, alpha, photo;
};

Composite make_composite(int width, int height, int channels) {
  Composite c;
  c.foreground.create(height, width, CV_8UC3);
  c.background.create(height, width, CV_8UC3);
  c.alpha.create(height, width, CV_8UC1);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      c.foreground.at<cv::Vec3b>(y, x) = {static_cast<uint8_t>(200 + 40 * y / height), 140, 60};
      const bool check = ((x / 6) + (y / 6)) % 2 == 0;
      c.background.at<cv::Vec3b>(y, x) = {20, static_cast<uint8_t>(check ? 90 : 150), 230};
      // Opaque on the left third, transparent on the right third, a ramp and stripes between.
      const double t = std::clamp((x - width / 3.0) / (width / 3.0), 0.0, 1.0);
      const double stripes = 0.5 + 0.5 * std::sin(y * 0.9);
      const double a = t <= 0.0 ? 1.0 : t >= 1.0 ? 0.0 : (1.0 - t) * (0.4 + 0.6 * stripes);
      c.alpha.at<uint8_t>(y, x) = static_cast<uint8_t>(std::lround(255 * a));
    }
  }
  const cv::Mat rgb = composite_onto(c.foreground, c.alpha, c.background);
  if (channels == 4) {
    cv::cvtColor(rgb, c.photo, cv::COLOR_RGB2RGBA);
    c.photo.forEach<cv::Vec4b>([](cv::Vec4b& px, const int*) { px[3] = 77; });
  } else {
    c.photo = rgb;
  }
  return c;
}

TEST(Decontaminate, RemovesTheOldBackgroundFromSoftPixels) {
  for (const cv::Size size : {cv::Size(300, 200), cv::Size(2400, 1600)}) {
    Composite c = make_composite(size.width, size.height, 3);
    const double before = foreground_error(c.photo, c.foreground, c.alpha);
    cv::Mat estimate = c.photo.clone();
    decontaminate(estimate, make_edge_grid(c.photo), c.alpha);
    const double after = foreground_error(estimate, c.foreground, c.alpha);
    EXPECT_LT(after, 0.3 * before) << size << ": " << before << " -> " << after;
  }
}

// Sweeping only near the soft pixels gives exactly what sweeping every pixel gives: a disc with a
// soft rim on a textured photo, on a grid large enough for the restriction (2048 -> 1024).
TEST(Decontaminate, SweepingNearSoftPixelsOnlyChangesNothing) {
  DiscScene s = disc_scene(2048);
  cv::randu(s.photo, cv::Scalar::all(0), cv::Scalar::all(256));
  const EdgeGrid grid = make_edge_grid(s.photo);
  ForegroundParams everywhere;
  everywhere.sweep_near_soft_only = false;
  cv::Mat restricted = s.photo.clone(), full = s.photo.clone();
  decontaminate(restricted, grid, s.matte);
  decontaminate(full, grid, s.matte, everywhere);
  EXPECT_GT(cv::norm(restricted, s.photo, cv::NORM_L1), 0.0);
  EXPECT_EQ(cv::norm(restricted, full, cv::NORM_INF), 0.0);
}

TEST(Decontaminate, OpaqueAndTransparentPixelsAndTheAlphaChannelAreKept) {
  Composite c = make_composite(320, 240, 4);
  cv::Mat estimate = c.photo.clone();
  const ForegroundParams params;
  decontaminate(estimate, make_edge_grid(c.photo), c.alpha, params);
  const cv::Mat kept = (c.alpha < params.min_alpha) | (c.alpha > params.max_alpha);
  ASSERT_GT(cv::countNonZero(kept), 0);
  cv::Mat diff;
  cv::absdiff(estimate, c.photo, diff);
  std::vector<cv::Mat> channels;
  cv::split(diff, channels);
  EXPECT_EQ(cv::countNonZero(channels[3]), 0) << "the alpha channel changed";
  for (int k = 0; k < 3; ++k) EXPECT_EQ(cv::countNonZero(channels[k] & kept), 0) << "channel " << k;
  EXPECT_GT(cv::countNonZero(channels[0] | channels[1] | channels[2]), 0) << "nothing changed";
}

TEST(Edges, TinyAndEmptyImages) {
  for (const cv::Size size : {cv::Size(1, 1), cv::Size(3, 2), cv::Size(1, 40), cv::Size(0, 0)}) {
    cv::Mat photo(size, CV_8UC3, cv::Scalar(10, 200, 30));
    cv::Mat matte(size, CV_8UC1, cv::Scalar(128));
    const EdgeGrid grid = make_edge_grid(photo);
    EXPECT_NO_THROW(refine_matte(photo, grid, matte, RefineMethod::kGuided)) << size;
    EXPECT_NO_THROW(decontaminate(photo, grid, matte)) << size;
  }
}

TEST(Edges, MismatchedInputsAreErrors) {
  cv::Mat photo(20, 20, CV_8UC3, cv::Scalar(0)), matte(20, 20, CV_8UC1, cv::Scalar(128));
  const EdgeGrid grid = make_edge_grid(photo);
  cv::Mat wrong_size(21, 20, CV_8UC1, cv::Scalar(128));
  EXPECT_THROW(refine_matte(photo, grid, wrong_size, RefineMethod::kGuided), Error);
  EXPECT_THROW(decontaminate(photo, grid, wrong_size), Error);
  cv::Mat grey(20, 20, CV_8UC1, cv::Scalar(0));
  EXPECT_THROW(make_edge_grid(grey), Error);
  EXPECT_THROW(decontaminate(grey, grid, matte), Error);
  const EdgeGrid other = make_edge_grid(cv::Mat(10, 10, CV_8UC3, cv::Scalar(0)));
  EXPECT_THROW(refine_matte(photo, other, matte, RefineMethod::kGuided), Error);
}

}  // namespace
}  // namespace cutout
