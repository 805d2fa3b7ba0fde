// Renders the effects contact sheet of docs/: for each photo, the photo and its outputs side by
// side, transparency on a checkerboard, the dither as a 1:1 crop (a scaled-down dither is grey).
//   contact_sheet OUT.png ROWS... where each ROW is PHOTO,COLOR,BW,POPART,DITHER (image files)
#include <cstdio>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include <opencv2/imgproc.hpp>

#include "core/compose.h"
#include "core/image_encode.h"
#include "core/image_io.h"

namespace {

constexpr int kCellW = 320, kCellH = 240, kGap = 8, kHeader = 34;

cv::Mat read_rgba(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<uint8_t> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  cutout::DecodeOptions options;
  options.rgba = true;
  return cutout::decode_image(bytes, options).pixels;
}

// RGBA over a light checkerboard, into an RGB cell.
void draw_over_checkerboard(const cv::Mat& rgba, cv::Mat cell) {
  cv::Mat board(rgba.size(), CV_8UC3);
  for (int y = 0; y < board.rows; ++y)
    for (int x = 0; x < board.cols; ++x)
      board.at<cv::Vec3b>(y, x) =
          ((x / 10 + y / 10) % 2) ? cv::Vec3b(204, 204, 204) : cv::Vec3b(255, 255, 255);
  for (int y = 0; y < rgba.rows; ++y)
    for (int x = 0; x < rgba.cols; ++x) {
      const cv::Vec4b p = rgba.at<cv::Vec4b>(y, x);
      cv::Vec3b& b = board.at<cv::Vec3b>(y, x);
      for (int c = 0; c < 3; ++c)
        b[c] = static_cast<uint8_t>((p[c] * p[3] + b[c] * (255 - p[3]) + 127) / 255);
    }
  board.copyTo(
      cell(cv::Rect((cell.cols - board.cols) / 2, (cell.rows - board.rows) / 2, board.cols, board.rows)));
}

cv::Mat fit(const cv::Mat& rgba) {
  const double s = std::min(static_cast<double>(kCellW) / rgba.cols, static_cast<double>(kCellH) / rgba.rows);
  cv::Mat out;
  cv::resize(rgba, out,
             {std::max(1, static_cast<int>(rgba.cols * s)), std::max(1, static_cast<int>(rgba.rows * s))}, 0,
             0, cv::INTER_AREA);
  return out;
}

// A 1:1 crop around the middle of the subject's upper part (faces), for the dither.
cv::Mat crop_1to1(const cv::Mat& rgba) {
  cv::Mat alpha;
  cv::extractChannel(rgba, alpha, 3);
  cv::Rect box = cv::boundingRect(alpha > 0);
  if (box.empty()) box = cv::Rect(0, 0, rgba.cols, rgba.rows);
  const int cx = box.x + box.width / 2, cy = box.y + std::min(box.height / 3, kCellH / 2);
  cv::Rect r(cx - kCellW / 2, cy - kCellH / 2, kCellW, kCellH);
  r &= cv::Rect(0, 0, rgba.cols, rgba.rows);
  return rgba(r).clone();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: contact_sheet OUT.png PHOTO,COLOR,BW,POPART,DITHER...\n");
    return 2;
  }
  const char* titles[] = {"photo", "color", "bw", "popart", "dither (1:1 crop)"};
  const int cols = 5, rows = argc - 2;
  cv::Mat sheet(kHeader + rows * (kCellH + kGap), cols * (kCellW + kGap) - kGap, CV_8UC3,
                cv::Scalar(40, 40, 40));
  for (int c = 0; c < cols; ++c) {
    cv::putText(sheet, titles[c], {c * (kCellW + kGap) + 8, 24}, cv::FONT_HERSHEY_SIMPLEX, 0.7,
                cv::Scalar(240, 240, 240), 1, cv::LINE_AA);
  }
  for (int r = 0; r < rows; ++r) {
    std::stringstream row(argv[r + 2]);
    std::string path;
    for (int c = 0; c < cols && std::getline(row, path, ','); ++c) {
      cv::Mat cell = sheet(cv::Rect(c * (kCellW + kGap), kHeader + r * (kCellH + kGap), kCellW, kCellH));
      const cv::Mat rgba = read_rgba(path);
      draw_over_checkerboard(c == 4 ? crop_1to1(rgba) : fit(rgba), cell);
    }
  }
  const auto png = cutout::encode_png(sheet);
  std::ofstream(argv[1], std::ios::binary)
      .write(reinterpret_cast<const char*>(png.data()), static_cast<std::streamsize>(png.size()));
  return 0;
}
