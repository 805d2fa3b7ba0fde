// TEST-ONLY: runs the real `cutout serve` binary for end-to-end tests, the way cpp-httplib's own
// tests do: a real server on localhost, a real client talking to it.
//
// ServerProcess starts `cutout serve --host 127.0.0.1 --port 0 --data-dir <its temp dir> <args>`
// in a clean environment (no CUTOUT_*, PORT or GOOGLE_CLOUD_PROJECT from the caller, plus the given
// variables), with stdout and stderr captured into files, reads the bound port from the "listening" log line,
// and waits for /healthz (and /readyz, unless told not to). Its destructor kills the server if it still runs.
//
// Thread-safety: the const functions (port, client, log reading, wait_ready) may be called from any
// thread; signal() and wait_exit() from the owning thread. Lifetime: the child dies with the thread
// that created it (PR_SET_PDEATHSIG), so a crashed test leaves no server behind; create it on the
// test's own thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "test_support.h"

namespace cutout::testing {

using Env = std::vector<std::pair<std::string, std::string>>;

struct ServerOptions {
  std::vector<std::string> args;  // after `serve --host 127.0.0.1 --port 0` (a --port here replaces it)
  Env env;                        // added to the clean environment
  bool wait_ready = true;         // wait for /readyz 200 (model loaded and warmed) before returning
  std::chrono::milliseconds start_timeout{90'000};
};

class ServerProcess {
 public:
  // Starts the server; throws std::runtime_error (with its stderr and log) when it does not come up.
  explicit ServerProcess(ServerOptions options = {});
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  pid_t pid() const { return pid_; }
  int port() const { return port_; }
  std::string host() const { return "127.0.0.1"; }
  // A client with generous timeouts (an inference takes seconds on 2 cores).
  httplib::Client client(std::chrono::seconds read_timeout = std::chrono::seconds(120)) const;

  // Everything the server wrote to stdout so far (its JSON log lines) and to stderr.
  std::string log_text() const;
  std::string stderr_text() const;
  // The complete stdout lines so far, each parsed; throws std::runtime_error naming a line that is
  // not JSON.
  std::vector<nlohmann::json> log_lines() const;
  // Waits until a log line satisfies `match`; returns it, or nullopt after `timeout`.
  std::optional<nlohmann::json> wait_for_log(const std::function<bool(const nlohmann::json&)>& match,
                                             std::chrono::milliseconds timeout) const;
  // Polls /readyz until 200; false after `timeout` (or when the model failed).
  bool wait_ready(std::chrono::milliseconds timeout) const;

  void signal(int signal_number) const;
  // Waits for the server to exit: its exit status (128 + N when killed by signal N), or nullopt
  // when it still runs after `timeout`.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);

 private:
  void wait_started(const ServerOptions& options);
  void stop_now();  // SIGKILL and reap, if it still runs

  TempDir dir_;
  pid_t pid_ = -1;
  int port_ = -1;
  std::optional<int> exit_status_;
};

// The result of a `cutout serve` run that is expected to stop by itself (bad configuration).
struct FinishedRun {
  std::optional<int> exit_status;  // nullopt: it was still running after the timeout (then killed)
  std::string stdout_text;
  std::string stderr_text;
};
// Runs `cutout serve <args>` verbatim (no default --port) in the clean environment plus `env`.
FinishedRun run_serve_until_exit(const std::vector<std::string>& args, const Env& env,
                                 std::chrono::milliseconds timeout);

}  // namespace cutout::testing
