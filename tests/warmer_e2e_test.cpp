// `cutout warmer run` against a real `cutout serve`: a plan whose next ping is seconds away (the
// traffic of the last seven days had a burst in the coming 10-minute bin, and the lead is chosen so
// that the ping falls ~6 s from now); the server's cutout_warmup_pings_total moves as planned, and
// SIGTERM stops the warmer cleanly. Also `warmer ping`, the CronJob's command.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "server_e2e_helpers.h"
#include "server_fixture.h"
#include "test_support.h"

namespace cutout {
namespace {

using namespace e2e;  // NOLINT: the tests' vocabulary
using namespace std::chrono_literals;

pid_t spawn(const std::vector<std::string>& args, const std::string& log_path) {
  const pid_t pid = fork();
  if (pid == 0) {
    FILE* f = std::freopen(log_path.c_str(), "w", stdout);
    if (!f) _exit(127);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// SIGTERM, then the wait status once it exits (10 s at most; -1 if it did not).
int terminate_and_wait(pid_t pid) {
  kill(pid, SIGTERM);
  int status = -1;
  for (int i = 0; i < 100 && waitpid(pid, &status, WNOHANG) == 0; ++i) std::this_thread::sleep_for(100ms);
  return status;
}

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// A server on the tiny test model, and a folder for the warmer's files.
class WarmerE2E : public ::testing::Test {
 protected:
  static ServerOptions tiny_model() {
    ServerOptions options;
    options.args = {"--model", (testing::test_models_dir() / "tiny_isnet.onnx").string()};
    return options;
  }
  ServerProcess server_{tiny_model()};
  testing::TempDir dir_;
};

TEST_F(WarmerE2E, RunSendsThePlannedWarmUpAndStopsOnSigterm) {
  ServerProcess& server = server_;
  testing::TempDir& dir = dir_;
  const double now = unix_now();
  const double bin = std::ceil((now + 90) / 600) * 600;  // the next 10-minute bin at least 90 s away
  const int lead_s = static_cast<int>(bin - now) - 6;
  std::ofstream counts(dir.path() / "counts.csv");
  counts << "time,requests\n";
  for (int d = 7; d >= 1; --d) counts << static_cast<long long>(bin - d * 86400 + 60) << ",5\n";
  counts.close();
  const std::string log = (dir.path() / "warmer.log").string();
  const pid_t warmer = spawn(
      {testing::cutout_binary().string(), "warmer", "run", "--target",
       "http://127.0.0.1:" + std::to_string(server.port()), "--counts", (dir.path() / "counts.csv").string(),
       "--lead", std::to_string(lead_s) + "s", "--retries", "2", "--timeout", "10s"},
      log);
  ASSERT_GT(warmer, 0);
  EXPECT_EQ(sample(scrape(server), "cutout_warmup_pings_total"), 0);
  bool pinged = false;
  for (int i = 0; i < 300 && !pinged; ++i) {  // the ping is due in ~6 s; 30 s at most
    std::this_thread::sleep_for(100ms);
    pinged = sample(scrape(server), "cutout_warmup_pings_total") == 1;
  }
  EXPECT_TRUE(pinged) << read_text(log);
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(sample(scrape(server), "cutout_warmup_pings_total"), 1);  // once, as planned
  const int status = terminate_and_wait(warmer);
  ASSERT_TRUE(WIFEXITED(status)) << read_text(log);
  EXPECT_EQ(WEXITSTATUS(status), 0);
  const std::string text = read_text(log);
  EXPECT_NE(text.find("\"message\":\"plan learned\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"message\":\"warm-up sent\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"message\":\"warmer stopped\""), std::string::npos) << text;
}

// With --metrics-url the warmer sees requests as they are answered and keeps the instance up after
// them when the idle times at this time of week say so: here every day had a second request 20
// minutes after the first, past the platform's 15-minute timeout.
TEST_F(WarmerE2E, RunWithMetricsPlansKeepAlivesAfterRequests) {
  ServerProcess& server = server_;
  testing::TempDir& dir = dir_;
  const double now = unix_now();
  std::ofstream counts(dir.path() / "counts.csv");
  counts << "time,requests\n";
  for (int d = 7; d >= 1; --d) {
    counts << static_cast<long long>(now - d * 86400) << ",1\n"
           << static_cast<long long>(now - d * 86400 + 1200) << ",1\n";
  }
  counts.close();
  const std::string url = "http://127.0.0.1:" + std::to_string(server.port());
  const std::string log = (dir.path() / "warmer.log").string();
  const pid_t warmer = spawn(
      {testing::cutout_binary().string(), "warmer", "run", "--target", url, "--counts",
       (dir.path() / "counts.csv").string(), "--metrics-url", url + "/metrics", "--scrape-interval", "1s"},
      log);
  ASSERT_GT(warmer, 0);
  std::this_thread::sleep_for(1500ms);  // its first scrape is the baseline
  auto c = server.client();
  auto res = c.Post("/api/v2/process?effects=color&max_side=64", ua(), small_jpeg(), "image/jpeg");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  bool planned = false;
  for (int i = 0; i < 100 && !planned; ++i) {
    std::this_thread::sleep_for(100ms);
    planned = read_text(log).find("\"message\":\"keep-alive planned\"") != std::string::npos;
  }
  EXPECT_TRUE(planned) << read_text(log);
  const int status = terminate_and_wait(warmer);
  ASSERT_TRUE(WIFEXITED(status)) << read_text(log);
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(WarmerPingE2E, PingRetriesAndReportsFailure) {
  ServerOptions options;
  options.args = {"--model", (testing::test_models_dir() / "tiny_isnet.onnx").string(), "--api-key",
                  "sesame"};
  ServerProcess server(options);
  const std::string base =
      testing::cutout_binary().string() +
      " warmer ping --retries 1 --timeout 5s --target http://127.0.0.1:" + std::to_string(server.port());
  EXPECT_EQ(testing::run_command(base + " --api-key sesame > /dev/null"), 0);
  EXPECT_EQ(testing::run_command("CUTOUT_API_KEY=sesame " + base + " > /dev/null"), 0);
  std::string out;
  EXPECT_EQ(testing::run_command(base + " --api-key wrong", &out), 1);  // 401: no retry
  EXPECT_NE(out.find("\"status\":401"), std::string::npos) << out;
  EXPECT_EQ(out.find("retrying"), std::string::npos) << out;
  EXPECT_EQ(sample(scrape(server), "cutout_warmup_pings_total"), 2);
  EXPECT_EQ(
      testing::run_command(testing::cutout_binary().string() +
                           " warmer ping --retries 1 --timeout 1s --target http://127.0.0.1:1 > /dev/null"),
      1);
}

}  // namespace
}  // namespace cutout
