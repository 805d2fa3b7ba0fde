// The `cutout` subcommands. Each adds itself to the app; its callback stores the exit status.
#pragma once

#include <CLI/CLI.hpp>

namespace cutout::cli {

void add_remove_command(CLI::App& app, int& exit_status);
void add_eval_command(CLI::App& app, int& exit_status);
void add_models_command(CLI::App& app, int& exit_status);
void add_bench_command(CLI::App& app, int& exit_status);
void add_serve_command(CLI::App& app, int& exit_status);
void add_healthcheck_command(CLI::App& app, int& exit_status);
void add_warmer_command(CLI::App& app, int& exit_status);
void add_calibrate_command(CLI::App& app, int& exit_status);

}  // namespace cutout::cli
