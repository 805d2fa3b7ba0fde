#include "cli/cli_common.h"

#include <unistd.h>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <random>

#include <opencv2/core/utility.hpp>

#include "core/error.h"

namespace cutout::cli {
namespace {

constexpr uint64_t kMaxInputBytes = uint64_t{1} << 30;  // no photo is 1 GiB; refuse before reading

}  // namespace

void reexec_with_huge_page_malloc(char** argv) {
  // arena_max=1: glibc gives huge pages to the main arena and to mmap'd chunks, not to the heaps
  // of its per-thread arenas; the model loads on a background thread in the server, where that
  // made session creation 1.85 s instead of 0.5 s.
  // mmap_threshold and trim_threshold: buffers up to 512 MiB come from the heap and freed ones stay
  // mapped for the next photo, instead of each photo's buffers being mapped fresh and every page
  // faulted in and zeroed again. At 12 MP that halved the edge stages (refine 112-182 ms -> 64,
  // decontaminate 56 -> 48) and lowered peak RSS (docs/PERFORMANCE.md "Edges").
  constexpr const char* kTunable =
      "glibc.malloc.hugetlb=1:glibc.malloc.arena_max=1:glibc.malloc.mmap_threshold=536870912:"
      "glibc.malloc.trim_threshold=1073741824";
  const char* current = std::getenv("GLIBC_TUNABLES");
  if (std::getenv("CUTOUT_NO_HUGE_PAGES") || (current && std::strstr(current, "glibc.malloc.hugetlb")))
    return;
  const std::string value = current && *current ? std::string(current) + ":" + kTunable : kTunable;
  if (setenv("GLIBC_TUNABLES", value.c_str(), 1) != 0) return;
  execv("/proc/self/exe", argv);
  unsetenv("GLIBC_TUNABLES");  // exec failed: run on as we are
  if (current) setenv("GLIBC_TUNABLES", current, 1);
}

void add_model_flags(CLI::App& app, ModelFlagTargets to, bool from_environment) {
  auto add = [&](const char* flag, auto& value, const char* variable, const char* help) {
    CLI::Option* option = app.add_option(flag, value, help);
    if (from_environment) option->envname(variable);
    return option;
  };
  add("--model", to.model, "CUTOUT_MODEL",
      "built-in model name (isnet-qdq: default, isnet, isnet-int8) or path to an .onnx file")
      ->capture_default_str();
  add("--model-kind", to.kind, "CUTOUT_MODEL_KIND", "kind of a model file: isnet or inspyrenet");
  add("--base-size", to.base_size, "CUTOUT_BASE_SIZE",
      "input side for inspyrenet models with dynamic input (e.g. 384, 1024)")
      ->check(CLI::Range(0, 4096));
  add("--threads", to.threads, "CUTOUT_THREADS",
      "inference threads (default: $CUTOUT_THREADS, $OMP_NUM_THREADS, cores within the container's CPU "
      "limit)")
      ->check(CLI::Range(0, 1024));
  add("--device", to.device, "CUTOUT_DEVICE",
      "execution provider: cpu, cuda (fails at start naming what is missing) or auto (cuda where it "
      "can run, else cpu)")
      ->capture_default_str();
  add("--ort-core", to.ort_core, "CUTOUT_ORT_CORE",
      "ONNX Runtime core: asus4 (CPU build), microsoft (onnxruntime-node, CUDA-capable) or a path to a "
      "libonnxruntime.so of 1.29.0 (default: asus4 on cpu, microsoft on cuda)");
}

void ModelOptions::add_to(CLI::App& app) {
  add_model_flags(app, {model, kind, base_size, threads, device, ort_core}, false);
}

ModelDescriptor ModelOptions::descriptor() const {
  ModelChoice choice;
  choice.model = model;
  if (!kind.empty()) choice.kind = parse_model_kind(kind);
  choice.base_size = base_size;
  return resolve_model(choice);
}

ModelOptions ModelOptions::with_model(const std::string& other) const {
  ModelOptions o = *this;
  o.model = other;
  o.kind.clear();
  return o;
}

SessionConfig ModelOptions::session_config(std::string* fallback) const {
  SessionConfig config;
  config.intra_op_threads = threads;
  config.device = parse_device(device);
  config.ort_core = ort_core;
  if (config.device != Device::kCpu) {  // decided once, here: cuda fails now, auto can say why
    const DeviceChoice where = choose_device(config);
    if (!where.why.empty()) {
      if (fallback)
        *fallback = where.why;
      else
        std::cerr << "cutout: --device auto: running on cpu: " << where.why << "\n";
    }
    config.device = where.device;
    config.ort_core = where.core;
  }
  return config;
}

void ModelOptions::apply_cv_threads() const {
#if defined(__SANITIZE_THREAD__)
  return;  // OpenCV stays serial under ThreadSanitizer (main.cpp)
#endif
  if (threads > 0) cv::setNumThreads(threads);
}

std::vector<uint8_t> read_input(const std::string& path) {
  std::vector<uint8_t> bytes;
  if (path == "-") {
    char buf[1 << 16];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, stdin)) > 0) {
      bytes.insert(bytes.end(), buf, buf + n);
      if (bytes.size() > kMaxInputBytes) throw Error(ErrorCode::kIo, "stdin: more than 1 GiB");
    }
    return bytes;
  }
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw Error(ErrorCode::kIo, "is a directory");
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw Error(ErrorCode::kIo, std::string("cannot open: ") + std::strerror(errno));
  const auto size = static_cast<uint64_t>(in.tellg());
  if (size > kMaxInputBytes) throw Error(ErrorCode::kIo, "file larger than 1 GiB");
  bytes.resize(size);
  in.seekg(0);
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size));
  if (!in) throw Error(ErrorCode::kIo, "read error");
  return bytes;
}

void write_file_atomic(const std::filesystem::path& path, const std::vector<uint8_t>& bytes) {
  std::random_device rd;
  auto tmp = path;
  tmp += ".tmp-" + std::to_string(rd());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error(ErrorCode::kIo, "cannot write " + tmp.string() + ": " + std::strerror(errno));
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) {
      std::filesystem::remove(tmp);
      throw Error(ErrorCode::kIo, "cannot write " + tmp.string());
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp);
    throw Error(ErrorCode::kIo, "cannot write " + path.string() + ": " + ec.message());
  }
}

void write_stdout(const std::vector<uint8_t>& bytes) {
  if (std::fwrite(bytes.data(), 1, bytes.size(), stdout) != bytes.size() || std::fflush(stdout) != 0) {
    throw Error(ErrorCode::kIo, "cannot write to stdout");
  }
}

std::string error_text(const std::exception& error) {
  const auto* e = dynamic_cast<const Error*>(&error);
  return std::string(e ? error_code_name(e->code()) : "internal") + ": " + error.what();
}

int error_exit_status(const std::exception& error) {
  const auto* e = dynamic_cast<const Error*>(&error);
  return e && e->code() == ErrorCode::kInvalidArgument ? kExitUsage : kExitFailed;
}

int report_error(const std::string& context, const std::exception& error) {
  std::fprintf(stderr, "cutout: %s%s%s\n", context.c_str(), context.empty() ? "" : ": ",
               error_text(error).c_str());
  return error_exit_status(error);
}

ProgressBar::ProgressBar(size_t total, bool enabled)
    : total_(total), enabled_(enabled && isatty(STDERR_FILENO)) {}

void ProgressBar::update(size_t done, const std::string& label) {
  if (!enabled_ || total_ == 0) return;
  constexpr int kWidth = 30;
  const int filled = static_cast<int>(kWidth * done / total_);
  const double elapsed = watch_.elapsed_ms() / 1000.0;
  const double eta = done ? elapsed / static_cast<double>(done) * static_cast<double>(total_ - done) : 0.0;
  std::string bar(static_cast<size_t>(filled), '#');
  bar.resize(kWidth, '.');
  std::fprintf(stderr, "\r\033[K[%s] %zu/%zu  %.0fs elapsed, ~%.0fs left  %s", bar.c_str(), done, total_,
               elapsed, eta, label.substr(0, 40).c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressBar::message(const std::string& text) {
  if (drawn_) std::fputs("\r\033[K", stderr);
  std::fprintf(stderr, "%s\n", text.c_str());
}

void ProgressBar::finish() {
  if (drawn_) std::fputs("\n", stderr);
  drawn_ = false;
}

void set_command_run(CLI::App& cmd, int& exit_status, std::string context, std::function<int()> run) {
  cmd.callback([&exit_status, context = std::move(context), run = std::move(run)] {
    try {
      exit_status = run();
    } catch (const std::exception& e) {
      exit_status = report_error(context, e);
    }
  });
}

}  // namespace cutout::cli
