// cutout healthcheck [--path /healthz] [--port N]: exit 0 when the local server answers 200. The
// container image's HEALTHCHECK runs it (the slim image has no curl); the port follows the
// server's own rule: --port, else CUTOUT_PORT, else PORT, else 8080.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "server/http_server.h"

namespace cutout::cli {
namespace {

struct HealthcheckArgs {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string path = "/healthz";
  int timeout_ms = 3000;
  bool quiet = false;
};

int port_from_environment() {
  for (const char* name : {"CUTOUT_PORT", "PORT"}) {
    if (const char* v = std::getenv(name); v && *v) return std::atoi(v);
  }
  return 8080;
}

}  // namespace

void add_healthcheck_command(CLI::App& app, int& exit_status) {
  auto args = std::make_shared<HealthcheckArgs>();
  CLI::App* cmd =
      app.add_subcommand("healthcheck", "exit 0 when the local cutout serve answers 200 (for HEALTHCHECK)");
  cmd->add_option("--host", args->host, "server address")->capture_default_str();
  cmd->add_option("--port", args->port, "server port (default: CUTOUT_PORT, else PORT, else 8080)")
      ->check(CLI::Range(1, 65535));
  cmd->add_option("--path", args->path, "path to GET, e.g. /readyz")->capture_default_str();
  cmd->add_option("--timeout-ms", args->timeout_ms, "give up after this long")
      ->check(CLI::Range(1, 600000))
      ->capture_default_str();
  cmd->add_flag("-q,--quiet", args->quiet, "print nothing");
  cmd->callback([args, &exit_status] {
    const int port = args->port ? args->port : port_from_environment();
    const auto status = server::http_get_status(args->host, port, args->path, args->timeout_ms);
    if (!args->quiet) {
      if (status)
        std::printf("%s:%d%s -> %d\n", args->host.c_str(), port, args->path.c_str(), *status);
      else
        std::printf("%s:%d%s -> no answer\n", args->host.c_str(), port, args->path.c_str());
    }
    exit_status = status && *status == 200 ? kExitOk : kExitFailed;
  });
}

}  // namespace cutout::cli
