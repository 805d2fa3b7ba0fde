#include "test_support.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

#include <opencv2/imgproc.hpp>

namespace cutout::testing {

std::filesystem::path source_dir() {
  return CUTOUT_SOURCE_DIR;
}
std::filesystem::path eval_dir() {
  return std::filesystem::weakly_canonical(CUTOUT_EVAL_DIR);
}
std::filesystem::path test_models_dir() {
  return CUTOUT_TEST_MODELS_DIR;
}
std::filesystem::path cutout_binary() {
  return CUTOUT_BINARY;
}

std::vector<uint8_t> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const std::filesystem::path& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

TempDir::TempDir() {
  std::random_device rd;
  path_ = std::filesystem::temp_directory_path() / ("cutout-test-" + std::to_string(rd()));
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

cv::Mat make_test_rgb(int width, int height) {
  cv::Mat img(height, width, CV_8UC3);
  for (int y = 0; y < height; ++y) {
    auto* row = img.ptr<cv::Vec3b>(y);
    for (int x = 0; x < width; ++x) {
      row[x] = cv::Vec3b(static_cast<uint8_t>(255 * x / std::max(1, width - 1)),
                         static_cast<uint8_t>(255 * y / std::max(1, height - 1)),
                         static_cast<uint8_t>((x * 7 + y * 3) & 0xff));
    }
  }
  cv::circle(img, {width / 2, height / 2}, std::min(width, height) / 4, cv::Scalar(250, 40, 40), cv::FILLED);
  cv::rectangle(img, {width / 8, height / 8}, {width / 4, height / 3}, cv::Scalar(20, 200, 60), cv::FILLED);
  return img;
}

int run_command(const std::string& command, std::string* out) {
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return -1;
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) text.append(buf, n);
  int status = pclose(pipe);
  if (out) *out = std::move(text);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

pid_t spawn_process(const std::vector<std::string>& args, const SpawnOptions& options) {
  // Everything the child needs is built before fork: after it, only async-signal-safe calls.
  std::vector<char*> argv, envp;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  if (options.env) {
    for (const auto& e : *options.env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
  }
  const std::string out = options.stdout_path.string(), err = options.stderr_path.string();
  const int flags = O_WRONLY | O_CREAT | (options.append ? O_APPEND : O_TRUNC);
  const pid_t parent = getpid();

  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the test
    if (getppid() != parent) _exit(127);
    if (options.own_process_group) setpgid(0, 0);
    const int in_fd = open("/dev/null", O_RDONLY);
    const int out_fd = open(out.c_str(), flags, 0644);
    const int err_fd = err.empty() ? out_fd : open(err.c_str(), flags, 0644);
    if (in_fd < 0 || out_fd < 0 || err_fd < 0) _exit(127);
    dup2(in_fd, STDIN_FILENO);
    dup2(out_fd, STDOUT_FILENO);
    dup2(err_fd, STDERR_FILENO);
    if (options.env) {
      execve(argv[0], argv.data(), envp.data());
    } else {
      execv(argv[0], argv.data());
    }
    _exit(127);
  }
  return pid;
}

std::string read_text_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace cutout::testing
