// cutout: background removal and photo art. This file only parses and dispatches.
#include <cstdio>
#include <exception>

#include <CLI/CLI.hpp>

#include "cli/cli_common.h"
#include "cli/commands.h"

int main(int argc, char** argv) {
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
