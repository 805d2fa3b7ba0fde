// Pieces shared by the `cutout` subcommands: model options, file I/O, progress, errors.
#pragma once

#include <cstdint>
#include <exception>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "core/timer.h"
#include "inference/model_registry.h"
#include "inference/ort_session.h"

namespace cutout::cli {

// Exit statuses of every subcommand.
constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;  // an input failed, or the command could not do its job
constexpr int kExitUsage = 2;   // bad command line or option value

// Re-executes the program once with glibc's malloc asked to use transparent huge pages, one arena
// and to keep freed buffers up to 512 MiB mapped for reuse (GLIBC_TUNABLES, see the .cpp), which
// glibc reads only at exec. First touches of fresh
// memory cost ~12 us per 4 KiB page on the VMs we measured: a 12 MP RGBA buffer took 150 ms to
// fill, 25 ms with huge pages (docs/PERFORMANCE.md). Returns (without exec) when the tunable is
// already set, CUTOUT_NO_HUGE_PAGES is set, or exec fails. Call first thing in main().
void reexec_with_huge_page_malloc(char** argv);

// Where the model flags put their values: a ModelOptions, or the same fields of another
// configuration (`cutout serve`'s ServeConfig).
struct ModelFlagTargets {
  std::string& model;
  std::string& kind;
  int& base_size;
  int& threads;
  std::string& device;
  std::string& ort_core;
};
// Declares --model, --model-kind, --base-size, --threads, --device and --ort-core, the one table of
// the model flags for every command that runs the model. With `from_environment` each also reads
// its variable (CUTOUT_MODEL, CUTOUT_MODEL_KIND, CUTOUT_BASE_SIZE, CUTOUT_THREADS, CUTOUT_DEVICE,
// CUTOUT_ORT_CORE;
// flag > environment > default), as `cutout serve` does. The other commands take flags only;
// without --threads (or with 0) their session still reads CUTOUT_THREADS when it starts
// (default_thread_count()).
void add_model_flags(CLI::App& app, ModelFlagTargets targets, bool from_environment);

// --model, --model-kind, --base-size, --threads, --device: the same on every command that runs
// the model.
struct ModelOptions {
  std::string model = kDefaultModel;
  std::string kind;  // empty: the registry's, or isnet for a path
  int base_size = 0;
  int threads = 0;
  std::string device = "cpu";
  std::string ort_core;  // empty: $CUTOUT_ORT_CORE, else the default (inference/ort_core.h)

  void add_to(CLI::App& app);          // add_model_flags, flags only
  ModelDescriptor descriptor() const;  // throws Error(kInvalidArgument)
  // The same options for another model (a name or a path; its own kind): --compare-model.
  ModelOptions with_model(const std::string& other) const;
  // Resolves the device (choose_device): cuda lacking anything throws Error(kModel) naming it; an
  // auto that falls back to cpu says why in *fallback, or on stderr without one.
  SessionConfig session_config(std::string* fallback = nullptr) const;
  // OpenCV's threads (effects, resizing) follow --threads when it is given.
  void apply_cv_threads() const;
};

// Reads a whole file, or stdin for "-". Throws Error(kIo).
std::vector<uint8_t> read_input(const std::string& path);
// Writes via a temporary file and rename, so a reader never sees half a file. Throws Error(kIo).
void write_file_atomic(const std::filesystem::path& path, const std::vector<uint8_t>& bytes);
void write_stdout(const std::vector<uint8_t>& bytes);

// "<code>: <message>" of an error, e.g. "undecodable_image: JPEG data ends early".
std::string error_text(const std::exception& error);
// Exit status for an error that stops a command: kExitUsage for bad arguments, else kExitFailed.
int error_exit_status(const std::exception& error);
// Prints "cutout: <context>: <error_text>" on stderr and returns error_exit_status().
int report_error(const std::string& context, const std::exception& error);
// Makes `run` the subcommand's callback: its return value becomes the exit status, and an
// exception is reported as `context` (report_error) with its exit status.
void set_command_run(CLI::App& cmd, int& exit_status, std::string context, std::function<int()> run);

// A one-line progress bar on stderr, drawn only when stderr is a terminal.
class ProgressBar {
 public:
  ProgressBar(size_t total, bool enabled);
  void update(size_t done, const std::string& label);
  // Prints a message on its own line without breaking the bar.
  void message(const std::string& text);
  void finish();

 private:
  size_t total_;
  bool enabled_;
  bool drawn_ = false;
  Stopwatch watch_;
};

}  // namespace cutout::cli
