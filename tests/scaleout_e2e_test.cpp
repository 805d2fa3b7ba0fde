// Scale-out end to end (SPEC §7): two `cutout serve` instances sharing one Redis share store behind
// an nginx round-robin balancer, all on loopback. A share made through either instance is served by
// both; losing an instance mid-run loses no acknowledged share, and the other keeps serving.
//
// The instances load the tiny test model: sharing does not use it.
#include <signal.h>

#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "server_e2e_helpers.h"
#include "server_fixture.h"
#include "service_processes.h"
#include "share_e2e_helpers.h"
#include "test_support.h"

namespace cutout {
namespace {

using namespace e2e;  // NOLINT: the tests' vocabulary
using testing::NginxProcess;
using testing::RedisProcess;

httplib::Client client_for(int port) {
  httplib::Client c("127.0.0.1", port);
  c.set_connection_timeout(5s);
  c.set_read_timeout(30s);
  c.set_write_timeout(30s);
  return c;
}

struct Share {
  std::string id, url, delete_token;
};

// POSTs the image raw; the share when the answer is 201, else nullopt (and `status` says what came).
std::optional<Share> share(httplib::Client& c, const std::string& png, int* status = nullptr) {
  auto res = post_image(c, "/api/v2/share-image", png, {}, "image/png");
  if (status) *status = res ? res->status : 0;
  if (!res || res->status != 201) return std::nullopt;
  const json body = json::parse(res->body, nullptr, false);
  if (!body.is_object()) return std::nullopt;
  return Share{body.value("id", ""), body.value("url", ""), body.value("delete_token", "")};
}

// GET /s/{id}: the status, and whether the body is exactly `png`.
std::pair<int, bool> read_back(httplib::Client& c, const std::string& id, const std::string& png) {
  auto res = c.Get(("/s/" + id).c_str(), ua());
  if (!res) return {0, false};
  return {res->status, res->body == png};
}

TEST(ScaleOutE2E, TwoInstancesBehindNginxShareOneRedisAndSurviveLosingOne) {
  RedisProcess redis;
  const auto options = with_args(share_e2e::server_args(redis.url(), {"--share-rate-per-minute", "0"}));
  ServerProcess a(options);
  ServerProcess b(options);
  NginxProcess nginx({a.port(), b.port()});
  auto direct_a = a.client(30s), direct_b = b.client(30s);
  auto balanced = client_for(nginx.port());

  // Made through one instance, served by the other, both ways.
  const std::string png0 = share_e2e::noise_image(0, 48);
  const auto from_a = share(direct_a, png0);
  ASSERT_TRUE(from_a);
  EXPECT_EQ(read_back(direct_b, from_a->id, png0), std::make_pair(200, true));
  const auto from_b = share(direct_b, png0);
  ASSERT_TRUE(from_b);
  EXPECT_EQ(read_back(direct_a, from_b->id, png0), std::make_pair(200, true));

  // Through the balancer: round robin reaches both instances; every share is served by both, and
  // its link (built from the Host the balancer passes on) leads to it.
  std::vector<std::pair<Share, std::string>> early;
  for (int i = 1; i <= 8; ++i) {
    const std::string png = share_e2e::noise_image(i, 48);
    auto made = share(balanced, png);
    ASSERT_TRUE(made) << "share " << i << " through nginx";
    EXPECT_EQ(made->url, "http://127.0.0.1:" + std::to_string(nginx.port()) + "/s/" + made->id);
    early.emplace_back(*made, png);
  }
  for (const auto& [sh, png] : early) {
    SCOPED_TRACE(sh.id);
    EXPECT_EQ(read_back(direct_a, sh.id, png), std::make_pair(200, true));
    EXPECT_EQ(read_back(direct_b, sh.id, png), std::make_pair(200, true));
    EXPECT_EQ(read_back(balanced, sh.id, png), std::make_pair(200, true));
  }
  const std::string at_a = "127.0.0.1:" + std::to_string(a.port()),
                    at_b = "127.0.0.1:" + std::to_string(b.port());
  std::map<std::string, int> served_by;
  for (const auto& entry : nginx.access_entries()) {
    if (entry.method == "POST" && entry.status == 201 && entry.upstreams.size() == 1)
      ++served_by[entry.upstreams[0]];
  }
  EXPECT_EQ(served_by[at_a], 4) << nginx.access_log();
  EXPECT_EQ(served_by[at_b], 4) << nginx.access_log();

  // Load through the balancer (uploads and reads of acknowledged shares); one instance is killed
  // in the middle of it.
  constexpr int kThreads = 4, kBeforeKill = 30, kAfterKill = 40;
  std::mutex mu;
  std::vector<std::pair<Share, std::string>> acked;
  std::vector<std::string> failures;  // requests that failed, or reads that served other bytes
  int failed_at_kill = 0;
  // The instance's life: alive, being killed (SIGKILL sent, the process not yet reaped), dead.
  enum Phase { kAlive, kKilling, kDead };
  std::atomic<int> phase{kAlive};
  std::atomic<bool> stop{false};
  std::atomic<int> next{100}, acked_after_kill{0};
  const auto note_failure = [&](const std::string& what, int status, int started_in, bool other_bytes) {
    std::lock_guard lock(mu);
    // Only a request that the kill overtook may fail: sent to the dying instance, it cannot be
    // retried once sent (a POST) or once the answer began. Any other failure is a lost request.
    if (!other_bytes && (status == 502 || status == 0) && started_in != kDead && phase != kAlive) {
      ++failed_at_kill;
    } else {
      static const char* const names[] = {"while alive", "while being killed", "after the kill"};
      failures.push_back(what + ": status " + std::to_string(status) + (other_bytes ? ", other bytes" : "") +
                         ", started " + names[started_in]);
    }
  };
  std::vector<std::thread> load;
  for (int t = 0; t < kThreads; ++t) {
    load.emplace_back([&] {
      auto c = client_for(nginx.port());
      while (!stop) {
        const std::string png = share_e2e::noise_image(next++, 64);
        const int started_in = phase;
        int status = 0;
        if (auto made = share(c, png, &status)) {
          std::lock_guard lock(mu);
          acked.emplace_back(*made, png);
          if (started_in == kDead) ++acked_after_kill;
        } else {
          note_failure("upload", status, started_in, false);
        }
        std::pair<Share, std::string> pick;
        {
          std::lock_guard lock(mu);
          if (acked.empty()) continue;
          pick = acked[static_cast<size_t>(next) % acked.size()];
        }
        const int read_started_in = phase;
        const auto [code, same] = read_back(c, pick.first.id, pick.second);
        if (code != 200 || !same) note_failure("read " + pick.first.id, code, read_started_in, code == 200);
      }
    });
  }
  const auto count_acked = [&] {
    std::lock_guard lock(mu);
    return acked.size();
  };
  const auto deadline = Clock::now() + 60s;
  while (count_acked() < kBeforeKill && Clock::now() < deadline) std::this_thread::sleep_for(5ms);
  phase = kKilling;
  a.signal(SIGKILL);
  EXPECT_EQ(a.wait_exit(10s), 128 + SIGKILL);
  phase = kDead;
  while (acked_after_kill < kAfterKill && Clock::now() < deadline) std::this_thread::sleep_for(5ms);
  stop = true;
  for (auto& th : load) th.join();

  for (const auto& f : failures) ADD_FAILURE() << f;
  EXPECT_GE(acked_after_kill.load(), kAfterKill) << "the surviving instance stopped taking shares";
  std::printf("%zu shares acknowledged, %d after the kill; %d requests in flight at the kill failed\n",
              acked.size(), acked_after_kill.load(), failed_at_kill);

  // Nothing acknowledged is lost: the survivor serves every share, through the balancer and directly.
  acked.insert(acked.end(), early.begin(), early.end());
  for (const auto& [sh, png] : acked) {
    SCOPED_TRACE(sh.id);
    EXPECT_EQ(read_back(direct_b, sh.id, png), std::make_pair(200, true));
    EXPECT_EQ(read_back(balanced, sh.id, png), std::make_pair(200, true));
  }
  expect_alive(b, "the other instance was killed");

  // A share made by the dead instance is deleted through the balancer with its token.
  EXPECT_EQ(read_back(balanced, from_a->id, png0), std::make_pair(200, true));
  auto res = balanced.Delete(("/s/" + from_a->id).c_str(), ua({{"X-Delete-Token", from_a->delete_token}}));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 204);
  EXPECT_EQ(read_back(direct_b, from_a->id, png0).first, 404);
  EXPECT_EQ(read_back(balanced, from_a->id, png0).first, 404);
}

}  // namespace
}  // namespace cutout
