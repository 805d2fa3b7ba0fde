// Makes a benchmark photo from an eval photo: resized (bicubic) to WIDTHxHEIGHT, with mild
// Gaussian grain (sigma 3) so that a 12 MP upscale has a real photo's fine detail for the
// decoders and encoders, saved as JPEG quality 90.
//   make_bench_image IN OUT.jpg WIDTH HEIGHT
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <vector>

#include <opencv2/imgproc.hpp>

#include "core/image_encode.h"
#include "core/image_io.h"

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: make_bench_image IN OUT.jpg WIDTH HEIGHT\n");
    return 2;
  }
  std::ifstream in(argv[1], std::ios::binary);
  std::vector<uint8_t> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  cv::Mat rgb = cutout::decode_image(bytes).pixels, big;
  cv::resize(rgb, big, cv::Size(std::atoi(argv[3]), std::atoi(argv[4])), 0, 0, cv::INTER_CUBIC);
  cv::Mat noise(big.size(), CV_16SC3);
  cv::RNG rng(12345);
  rng.fill(noise, cv::RNG::NORMAL, 0, 3);
  cv::Mat out;
  cv::add(big, noise, out, cv::noArray(), CV_8UC3);
  auto jpeg = cutout::encode_jpeg(out, {90});
  std::ofstream(argv[2], std::ios::binary)
      .write(reinterpret_cast<const char*>(jpeg.data()), static_cast<std::streamsize>(jpeg.size()));
  return 0;
}
