#include "server_fixture.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace cutout::testing {
namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

// The caller's environment without anything that configures `cutout serve`, plus `extra`. Only
// CUTOUT_ORT_CORE stays: the whole suite can run on either ONNX Runtime core.
std::vector<std::string> clean_environment(const Env& extra) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    const std::string entry = *e;
    const std::string name = entry.substr(0, entry.find('='));
    if ((name.rfind("CUTOUT_", 0) == 0 && name != "CUTOUT_ORT_CORE") || name == "PORT" ||
        name == "GOOGLE_CLOUD_PROJECT")
      continue;
    env.push_back(entry);
  }
  for (const auto& [name, value] : extra) env.push_back(name + "=" + value);
  return env;
}

// Starts `cutout <args>` in the clean environment plus `extra_env`, its stdout and stderr in
// stdout.log and stderr.log of `dir`; returns its pid.
pid_t spawn_cutout(const std::vector<std::string>& args, const Env& extra_env, const fs::path& dir) {
  std::vector<std::string> argv = {cutout_binary().string()};
  argv.insert(argv.end(), args.begin(), args.end());
  SpawnOptions spawn;
  spawn.env = clean_environment(extra_env);
  spawn.stdout_path = dir / "stdout.log";
  spawn.stderr_path = dir / "stderr.log";
  return spawn_process(argv, spawn);
}

int decode_wait_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// Polls waitpid until the child exits or the timeout passes.
std::optional<int> wait_child(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return decode_wait_status(status);
    if (r < 0) return -1;
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// Complete lines only: the last one may still be being written.
std::vector<std::string> complete_lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t begin = 0;
  for (size_t end; (end = text.find('\n', begin)) != std::string::npos; begin = end + 1) {
    lines.push_back(text.substr(begin, end - begin));
  }
  return lines;
}

}  // namespace

ServerProcess::ServerProcess(ServerOptions options) {
  ::signal(SIGPIPE, SIG_IGN);  // a server that goes away must not kill the test
  std::vector<std::string> args = {"serve", "--host", "127.0.0.1"};
  bool has_port = false;
  for (const auto& a : options.args) has_port = has_port || a == "--port" || a.rfind("--port=", 0) == 0;
  if (!has_port) args.insert(args.end(), {"--port", "0"});
  // Each server keeps its data (the file share store) in its own temp dir unless told otherwise.
  bool has_data_dir = false;
  for (const auto& a : options.args) has_data_dir = has_data_dir || a.rfind("--data-dir", 0) == 0;
  for (const auto& [k, v] : options.env) has_data_dir = has_data_dir || k == "CUTOUT_DATA_DIR";
  if (!has_data_dir) args.insert(args.end(), {"--data-dir", (dir_.path() / "data").string()});
  args.insert(args.end(), options.args.begin(), options.args.end());
  pid_ = spawn_cutout(args, options.env, dir_.path());
  try {
    wait_started(options);
  } catch (...) {
    stop_now();  // no destructor runs for an object whose constructor threw
    throw;
  }
}

void ServerProcess::wait_started(const ServerOptions& options) {
  auto failure = [&](const std::string& what) {
    return std::runtime_error("cutout serve did not start: " + what + "\n--- stderr:\n" + stderr_text() +
                              "\n--- stdout:\n" + log_text());
  };
  const auto deadline = Clock::now() + options.start_timeout;
  // The bound port is only known from the "listening" line (the server is started with --port 0).
  while (port_ < 0) {
    for (const auto& line : complete_lines(log_text())) {
      const auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_object() && j.value("message", "") == "listening") port_ = j.at("port").get<int>();
    }
    if (port_ >= 0) break;
    if (auto status = wait_child(pid_, std::chrono::milliseconds(0))) {
      exit_status_ = status;
      throw failure("it exited with status " + std::to_string(*status));
    }
    if (Clock::now() >= deadline) throw failure("no \"listening\" log line");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // /healthz answers as soon as the server listens (the model loads in the background).
  for (;;) {
    auto res = client(std::chrono::seconds(5)).Get("/healthz");
    if (res && res->status == 200) break;
    if (Clock::now() >= deadline) throw failure("/healthz never answered 200");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (options.wait_ready &&
      !wait_ready(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()))) {
    throw failure("/readyz never answered 200");
  }
}

ServerProcess::~ServerProcess() {
  if (pid_ <= 0 || exit_status_) return;
  // A server that died by itself explains the failures before this: say how it ended.
  if (auto status = wait_child(pid_, std::chrono::milliseconds(0))) {
    std::fprintf(stderr, "note: cutout serve (pid %d) had already exited with status %d%s\n",
                 static_cast<int>(pid_), *status, *status > 128 ? " (128 + signal number)" : "");
    return;
  }
  stop_now();
}

void ServerProcess::stop_now() {
  if (pid_ <= 0 || exit_status_) return;
  kill(pid_, SIGKILL);
  exit_status_ = wait_child(pid_, std::chrono::seconds(10));
}

httplib::Client ServerProcess::client(std::chrono::seconds read_timeout) const {
  httplib::Client c(host(), port_);
  c.set_connection_timeout(std::chrono::seconds(5));
  c.set_read_timeout(read_timeout);
  c.set_write_timeout(std::chrono::seconds(30));
  return c;
}

std::string ServerProcess::log_text() const {
  return read_text_file(dir_.path() / "stdout.log");
}
std::string ServerProcess::stderr_text() const {
  return read_text_file(dir_.path() / "stderr.log");
}

std::vector<nlohmann::json> ServerProcess::log_lines() const {
  std::vector<nlohmann::json> out;
  for (const auto& line : complete_lines(log_text())) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded()) throw std::runtime_error("log line is not JSON: " + line);
    out.push_back(std::move(j));
  }
  return out;
}

std::optional<nlohmann::json> ServerProcess::wait_for_log(
    const std::function<bool(const nlohmann::json&)>& match, std::chrono::milliseconds timeout) const {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    for (const auto& line : log_lines()) {
      if (match(line)) return line;
    }
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

bool ServerProcess::wait_ready(std::chrono::milliseconds timeout) const {
  const auto deadline = Clock::now() + timeout;
  auto c = client(std::chrono::seconds(5));
  for (;;) {
    if (auto res = c.Get("/readyz")) {
      if (res->status == 200) return true;
      const auto body = nlohmann::json::parse(res->body, nullptr, false);
      if (body.is_object() && body.value("status", "") == "failed") return false;
    }
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void ServerProcess::signal(int signal_number) const {
  if (kill(pid_, signal_number) != 0) throw std::runtime_error(std::string("kill: ") + std::strerror(errno));
}

std::optional<int> ServerProcess::wait_exit(std::chrono::milliseconds timeout) {
  if (!exit_status_) exit_status_ = wait_child(pid_, timeout);
  return exit_status_;
}

FinishedRun run_serve_until_exit(const std::vector<std::string>& args, const Env& env,
                                 std::chrono::milliseconds timeout) {
  TempDir dir;
  std::vector<std::string> full = {"serve"};
  full.insert(full.end(), args.begin(), args.end());
  const pid_t pid = spawn_cutout(full, env, dir.path());
  FinishedRun run;
  run.exit_status = wait_child(pid, timeout);
  if (!run.exit_status) {
    kill(pid, SIGKILL);
    wait_child(pid, std::chrono::seconds(10));
  }
  run.stdout_text = read_text_file(dir.path() / "stdout.log");
  run.stderr_text = read_text_file(dir.path() / "stderr.log");
  return run;
}

}  // namespace cutout::testing
