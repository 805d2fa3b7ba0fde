// End-to-end tests of the share settings: the default store and `none`, the per-address rate
// limit and trusted proxies, the API key, bad settings, and a Redis outage (the store reconnects).
// The servers load the tiny test model. Shared helpers: share_e2e_helpers.h.
#include "share_e2e_helpers.h"
namespace cutout {
namespace {

using namespace e2e;        // NOLINT: the tests' vocabulary
using namespace share_e2e;  // NOLINT
namespace fs = std::filesystem;
using testing::RedisProcess;
using testing::TempDir;

// Without --share-store the shares live in <data dir>/shares (created at start); `none` turns
// sharing off, and the status says so (the page hides its Share button).
TEST(ShareE2E, DefaultStoreLivesInTheDataDirAndNoneTurnsSharingOff) {
  TempDir data;
  const std::string model = (testing::test_models_dir() / "tiny_isnet.onnx").string();
  {
    ServerProcess server(with_args({"--model", model, "--threads", "1", "--data-dir", data.path().string()}));
    EXPECT_EQ(status_of(server).value("share_store", false), true);
    auto c = server.client();
    const std::string png = noise_image(20, 32);
    const Share s = expect_created(upload_raw(c, png));
    ASSERT_FALSE(s.id.empty());
    EXPECT_TRUE(fs::is_regular_file(data.path() / "shares" / s.id))
        << "no " << (data.path() / "shares" / s.id);
    expect_served(c, s.id, png, "image/png", 604800);
  }
  {
    // (The environment variable, this time.)
    ServerOptions options =
        with_args({"--model", model, "--threads", "1", "--data-dir", (data.path() / "other").string()});
    options.env = {{"CUTOUT_SHARE_STORE", "none"}};
    ServerProcess server(options);
    EXPECT_EQ(status_of(server).value("share_store", true), false);
    auto c = server.client();
    auto res = upload_raw(c, noise_image(21, 32));
    ASSERT_TRUE(res);
    expect_api_error(res, 404, "not_found");
    EXPECT_NE(res->body.find("sharing is off"), std::string::npos) << res->body;
    expect_api_error(c.Get("/s/abcdefghijklmnopqrstuv", ua()), 404, "not_found");
    EXPECT_FALSE(fs::exists(data.path() / "other" / "shares"));
  }
}

// Uploads are limited per client address (burst = rate): the address is the peer's, or the first
// X-Forwarded-For entry when the proxy is trusted. Reads are not limited. The TTL and link settings.
TEST(ShareE2E, UploadsAreRateLimitedPerClientAddress) {
  TempDir dir;
  ServerProcess trusting(
      with_args(server_args("file:" + (dir.path() / "a").string(),
                            {"--share-rate-per-minute", "3", "--trust-forwarded-for", "--share-ttl-s", "600",
                             "--share-max-ttl-s", "3600", "--public-url", "https://cut.example"})));
  auto c = trusting.client();
  const std::string png = noise_image(22, 32);
  const auto from = [](const std::string& address) { return httplib::Headers{{"X-Forwarded-For", address}}; };
  const int64_t t0 = unix_now();
  std::vector<Share> shares;
  for (int i = 0; i < 3; ++i) shares.push_back(expect_created(upload_raw(c, png, "", from("203.0.113.7"))));
  ASSERT_FALSE(shares[0].id.empty());
  expect_expiry(shares[0], t0, 600);
  EXPECT_EQ(shares[0].url, "https://cut.example/s/" + shares[0].id);
  for (const char* address : {"203.0.113.7", "203.0.113.7, 10.0.0.1"}) {
    SCOPED_TRACE(address);
    auto limited = upload_raw(c, png, "", from(address));
    expect_api_error(limited, 429, "overloaded");
    ASSERT_TRUE(limited);
    const std::string retry = limited->get_header_value("Retry-After");
    EXPECT_TRUE(std::regex_match(retry, std::regex("[1-9][0-9]?"))) << "Retry-After: " << retry;
  }
  expect_created(upload_form(c, png, "", from("198.51.100.9")));
  expect_created(upload_raw(c, png, "", from("10.0.0.1, 203.0.113.7")));
  for (int i = 0; i < 10; ++i) expect_served(c, shares[0].id, png, "image/png", 600);
  expect_api_error(upload_raw(c, png, "?ttl=3601", from("198.51.100.10")), 400, "bad_request");
  const int64_t t1 = unix_now();
  expect_expiry(expect_created(upload_raw(c, png, "?ttl=3600", from("198.51.100.11"))), t1, 3600);
  EXPECT_GE(sample(scrape(trusting), "cutout_rejected_total", {{"reason", "share_rate_limited"}}), 2);

  // Not trusted: X-Forwarded-For is whatever the client wrote, so everyone here is 127.0.0.1.
  ServerProcess plain(
      with_args(server_args("file:" + (dir.path() / "b").string(), {"--share-rate-per-minute", "2"})));
  auto p = plain.client();
  expect_created(upload_raw(p, png, "", from("203.0.113.1")));
  expect_created(upload_raw(p, png, "", from("203.0.113.2")));
  expect_api_error(upload_raw(p, png, "", from("203.0.113.3")), 429, "overloaded");
  EXPECT_EQ(sample(scrape(plain), "cutout_rejected_total", {{"reason", "share_rate_limited"}}), 1);
}

// With an API key, uploading needs it; the links (GET, and DELETE with the token) do not.
TEST(ShareE2E, ApiKeyGuardsUploadsButNotLinks) {
  TempDir dir;
  ServerOptions options = with_args(server_args("file:" + dir.path().string()));
  options.env = {{"CUTOUT_API_KEY", "s3cret-key"}};
  ServerProcess server(options);
  auto c = server.client();
  const std::string png = noise_image(23, 32);
  expect_api_error(upload_raw(c, png), 401, "unauthorized");
  expect_api_error(upload_raw(c, png, "", {{"Authorization", "Bearer wrong"}}), 401, "unauthorized");
  const Share s = expect_created(upload_raw(c, png, "", {{"Authorization", "Bearer s3cret-key"}}));
  ASSERT_FALSE(s.id.empty());
  expect_served(c, s.id, png, "image/png", 604800);
  auto res = c.Delete(("/s/" + s.id).c_str(), ua({{"X-Delete-Token", s.delete_token}}));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 204);
}

// Bad share settings stop the start with a message and a non-zero exit (SPEC §6).
TEST(ShareE2E, BadShareSettingsStopTheStart) {
  TempDir dir;
  const std::string model = (testing::test_models_dir() / "tiny_isnet.onnx").string();
  struct Case {
    std::vector<std::string> args;
    testing::Env env;
  };
  const std::vector<Case> cases = {
      {{"--share-store", "ftp://example.com/x"}, {}},
      {{"--share-store", "redis://127.0.0.1:notaport/0"}, {}},
      {{"--share-store", "redis://127.0.0.1:6379/notadb"}, {}},
      {{}, {{"CUTOUT_SHARE_STORE", "s3:bucket"}}},
      {{"--share-ttl-s", "0"}, {}},
      {{"--share-ttl-s", "7200", "--share-max-ttl-s", "3600"}, {}},
      {{"--share-max-bytes", "lots"}, {}},
      {{"--share-rate-per-minute", "-1"}, {}},
      {{"--share-store", "file:" + (dir.path() / "not-a-dir").string()}, {}},
  };
  testing::write_file(dir.path() / "not-a-dir", {1, 2, 3});  // a file where the directory should be
  for (const auto& k : cases) {
    SCOPED_TRACE(::testing::PrintToString(k.args) + " " + ::testing::PrintToString(k.env));
    std::vector<std::string> args = {"--host",  "127.0.0.1", "--port",    "0",
                                     "--model", model,       "--threads", "1"};
    args.insert(args.end(), k.args.begin(), k.args.end());
    const auto run = testing::run_serve_until_exit(args, k.env, 20s);
    ASSERT_TRUE(run.exit_status) << "it started:\n" << run.stdout_text;
    EXPECT_NE(*run.exit_status, 0);
    EXPECT_NE(run.stderr_text + run.stdout_text, "");
    EXPECT_EQ(run.stdout_text.find("\"listening\""), std::string::npos) << run.stdout_text;
  }
}

// Redis goes away: uploads and reads answer 503 store_unavailable with Retry-After (malformed ids
// still 404: they never reach the store), the store's error counter rises; once Redis is back on its
// port the service reconnects by itself.
TEST(ShareRedisE2E, OutageAnswers503AndTheStoreReconnects) {
  RedisProcess redis;
  ServerProcess server(with_args(server_args(redis.url(2))));
  auto c = server.client(30s);
  const std::string png = noise_image(24, 32);
  const Share before = expect_created(upload_raw(c, png));
  ASSERT_FALSE(before.id.empty());
  expect_served(c, before.id, png, "image/png", 604800);
  EXPECT_FALSE(redis.keys(2).empty());
  const double errors0 = sample(scrape(server), "cutout_share_store_errors_total", {{"store", "redis"}});

  redis.stop();
  for (int i = 0; i < 2; ++i) {
    auto res = upload_raw(c, png);
    expect_api_error(res, 503, "store_unavailable");
    ASSERT_TRUE(res);
    EXPECT_FALSE(res->get_header_value("Retry-After").empty());
  }
  auto read = c.Get(("/s/" + before.id).c_str(), ua());
  expect_api_error(read, 503, "store_unavailable");
  for (const std::string id : {"..%2f..%2fetc%2fpasswd", "short", "!!!!!!!!!!!!!!!!!!!!!!"}) {
    SCOPED_TRACE(id);
    expect_api_error(c.Get(("/s/" + id).c_str(), ua()), 404, "not_found");
  }
  expect_alive(server, "the Redis outage");
  EXPECT_GE(sample(scrape(server), "cutout_share_store_errors_total", {{"store", "redis"}}), errors0 + 3);

  redis.start();  // empty: it kept nothing
  std::optional<Share> after;
  EXPECT_TRUE(eventually(
      [&] {
        auto res = upload_raw(c, png);
        if (!res || res->status != 201) return false;
        after = expect_created(res);
        return true;
      },
      20s))
      << "no 201 after Redis came back";
  ASSERT_TRUE(after && !after->id.empty());
  expect_served(c, after->id, png, "image/png", 604800);
  expect_not_found(c, before.id);
  EXPECT_FALSE(redis.keys(2).empty());
}

}  // namespace
}  // namespace cutout
