// cutout: background removal and photo art. This file only parses and dispatches.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>

#include <CLI/CLI.hpp>
#include <opencv2/core/utility.hpp>

#include "cli/cli_common.h"
#include "cli/commands.h"

namespace {

// Kubernetes gives every pod of a namespace Docker-link variables for each Service in it: one named
// "cutout" yields CUTOUT_PORT=tcp://10.0.0.7:80 (and CUTOUT_SERVICE_HOST, ...). CUTOUT_PORT is also
// our port variable, so such a value, which no one means as a port, is dropped rather than failing
// every subcommand with "--port: not a number". (The manifests also set enableServiceLinks: false.)
void drop_kubernetes_service_link_port() {
  const char* port = std::getenv("CUTOUT_PORT");
  if (port && std::strncmp(port, "tcp://", 6) == 0) unsetenv("CUTOUT_PORT");
}

}  // namespace

// Sanitizer builds (make test-asan, make test-tsan): what the sanitizers cannot see into, built in,
// so that every run of the binary gets it, also those the tests start with a clean environment.
// ONNX Runtime is prebuilt: its process-lifetime singletons look like leaks, and its thread pool
// synchronises in code ThreadSanitizer does not instrument, as does TBB under OpenCV's
// parallel_for_ (tests/sanitizers/*.supp say the same, with the reasons).
#if defined(__SANITIZE_ADDRESS__)
extern "C" const char* __lsan_default_suppressions() {
  return "leak:libonnxruntime.so\n";
}
#endif
#if defined(__SANITIZE_THREAD__)
// The longest access history: the other side of a report in OpenCV's TBB workers is otherwise
// often lost ("failed to restore the stack"), and the suppressions above cannot match it.
extern "C" const char* __tsan_default_options() {
  return "history_size=7";
}
extern "C" const char* __tsan_default_suppressions() {
  return "called_from_lib:libonnxruntime.so\nrace:libonnxruntime.so\n"
         "race:ParallelLoopBodyLambdaWrapper\nrace:libtbb.so\nrace:libopencv_core.so\n"
         "mutex:std::condition_variable::wait\nmutex:__run_exit_handlers\n";
}
#endif

int main(int argc, char** argv) {
#if defined(__SANITIZE_THREAD__)
  // OpenCV's parallel_for_ hands work to TBB in code ThreadSanitizer cannot see (every report
  // there is about that hand-over), so under TSan OpenCV runs serially and our own threads are
  // what is checked. ModelOptions::apply_cv_threads leaves it so.
  cv::setNumThreads(1);
#endif
  drop_kubernetes_service_link_port();
  cutout::cli::reexec_with_huge_page_malloc(argv);
  CLI::App app{"cutout " CUTOUT_VERSION ": removes photo backgrounds with a segmentation network (ISNet)"};
  app.set_version_flag("--version", CUTOUT_VERSION);
  app.require_subcommand(1);
  int exit_status = cutout::cli::kExitOk;
  cutout::cli::add_remove_command(app, exit_status);
  cutout::cli::add_eval_command(app, exit_status);
  cutout::cli::add_models_command(app, exit_status);
  cutout::cli::add_bench_command(app, exit_status);
  cutout::cli::add_serve_command(app, exit_status);
  cutout::cli::add_healthcheck_command(app, exit_status);
  cutout::cli::add_warmer_command(app, exit_status);
  cutout::cli::add_calibrate_command(app, exit_status);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int status = app.exit(e);
    return status == 0 ? 0 : cutout::cli::kExitUsage;
  } catch (const std::exception& e) {
    return cutout::cli::report_error("", e);
  }
  return exit_status;
}
