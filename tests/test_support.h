// Helpers shared by the tests: paths to the eval set and test models, synthetic images, child
// processes.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
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

// How spawn_process starts a child.
struct SpawnOptions {
  // The child's whole environment, "NAME=value" each; unset: the caller's.
  std::optional<std::vector<std::string>> env;
  std::filesystem::path stdout_path;
  std::filesystem::path stderr_path;  // empty: stderr goes with stdout into stdout_path
  bool append = false;                // append to the files rather than truncate them
  // The child leads a new process group, so that its own children can be signalled with it
  // (kill(-pid, ...)).
  bool own_process_group = false;
};
// Forks and execs `argv` (argv[0]: the executable's path, no PATH search) with stdin from
// /dev/null and stdout and stderr in the files; returns its pid. Throws std::runtime_error when
// fork fails; a child that cannot open its files or exec exits with status 127. Lifetime: the child
// is SIGKILLed when the thread that spawned it ends (PR_SET_PDEATHSIG), so a crashed test leaves
// none behind: spawn on the test's own thread.
pid_t spawn_process(const std::vector<std::string>& argv, const SpawnOptions& options);

// A whole file as text; empty when it cannot be read (e.g. a log not written yet).
std::string read_text_file(const std::filesystem::path& path);

}  // namespace cutout::testing
