// Helpers shared by the tests: paths to the eval set and test models, synthetic images.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace cutout::testing {

std::filesystem::path source_dir();
std::filesystem::path eval_dir();         // ../shared/eval
std::filesystem::path test_models_dir();  // generated tiny ONNX models
std::filesystem::path cutout_binary();    // the built `cutout` executable

std::vector<uint8_t> read_file(const std::filesystem::path& path);
void write_file(const std::filesystem::path& path, const std::vector<uint8_t>& bytes);

// A fresh, empty temporary directory removed when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// A deterministic RGB test picture (gradients plus a few shapes), CV_8UC3 in RGB order.
cv::Mat make_test_rgb(int width, int height);

// Runs a command with /bin/sh; returns its exit status, stdout in *out when given.
int run_command(const std::string& command, std::string* out = nullptr);

}  // namespace cutout::testing
