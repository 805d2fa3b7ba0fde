// End-to-end tests of image sharing (SPEC §3: POST /api/v2/share-image, GET and DELETE /s/{id}):
// the real `cutout serve` binary, a real HTTP client, and both durable stores. One suite runs
// against each store ("file": a directory; "redis": a Redis server these tests start), sharing one
// server per store; the crash test and the tests of other settings start their own.
//
// The servers load the tiny test model (sharing does not use the model; the tiny one starts in a
// fraction of the real one's time).
#include "share_e2e_helpers.h"
namespace cutout {
namespace {

using namespace e2e;        // NOLINT: the tests' vocabulary
using namespace share_e2e;  // NOLINT
namespace fs = std::filesystem;
using testing::RedisProcess;
using testing::TempDir;

// One store and the server on it, shared by the suite's tests of that store.
struct StoreEnv {
  TempDir dir;
  std::unique_ptr<RedisProcess> redis;
  StoreView view;
  std::unique_ptr<ServerProcess> server;
};

constexpr int kSuiteMaxBytes = 256 * 1024;

class ShareStoreE2E : public ::testing::TestWithParam<std::string> {
 public:
  static void TearDownTestSuite() { envs().clear(); }

 protected:
  static std::map<std::string, std::unique_ptr<StoreEnv>>& envs() {
    static std::map<std::string, std::unique_ptr<StoreEnv>> all;
    return all;
  }
  // The store of this test's parameter and its server, started on first use (on the test's thread,
  // as ServerProcess needs).
  StoreEnv& env() {
    auto& e = envs()[GetParam()];
    if (!e) {
      e = std::make_unique<StoreEnv>();
      e->view.kind = GetParam();
      if (GetParam() == "redis") {
        e->redis = std::make_unique<RedisProcess>();
        e->view.redis = e->redis.get();
      } else {
        e->view.dir = e->dir.path() / "shares";
        fs::create_directories(e->view.dir);
      }
      e->server = std::make_unique<ServerProcess>(with_args(
          server_args(e->view.spec(), {"--share-max-bytes", std::to_string(kSuiteMaxBytes),
                                       "--share-sweep-interval-s", "1", "--share-rate-per-minute", "0"})));
    }
    return *e;
  }
  double gauge(const std::string& name) {
    return sample(scrape(*env().server), name, {{"store", GetParam()}});
  }
};

// Upload (multipart and raw), read with the cache headers and a conditional GET, delete with the
// token; the links, expiry, status, metrics and store follow.
TEST_P(ShareStoreE2E, UploadReadAndDeleteRoundTrip) {
  StoreEnv& e = env();
  auto c = e.server->client();
  const Samples before = scrape(*e.server);
  EXPECT_EQ(status_of(*e.server).value("share_store", false), true);

  const std::string png = noise_image(1, 64);
  const int64_t t0 = unix_now();
  const Share a = expect_created(upload_form(c, png));
  ASSERT_FALSE(a.id.empty());
  expect_expiry(a, t0, 604800);  // the default TTL: 7 days
  EXPECT_EQ(a.url, "http://127.0.0.1:" + std::to_string(e.server->port()) + "/s/" + a.id);
  EXPECT_TRUE(e.view.holds(a.id));

  // Raw body; the link follows the proxy's Host and X-Forwarded-Proto.
  const std::string jpeg = noise_image(2, 64, ".jpg");
  const Share b = expect_created(
      upload_raw(c, jpeg, "", {{"Host", "share.example"}, {"X-Forwarded-Proto", "https"}}, "image/jpeg"));
  ASSERT_FALSE(b.id.empty());
  EXPECT_EQ(b.url, "https://share.example/s/" + b.id);
  EXPECT_NE(a.id, b.id);
  EXPECT_NE(a.delete_token, b.delete_token);

  const std::string etag = expect_served(c, a.id, png, "image/png", 604800);
  expect_served(c, b.id, jpeg, "image/jpeg", 604800);
  auto cached = c.Get(("/s/" + a.id).c_str(), ua({{"If-None-Match", etag}}));
  ASSERT_TRUE(cached);
  EXPECT_EQ(cached->status, 304);
  EXPECT_TRUE(cached->body.empty());
  auto changed = c.Get(("/s/" + a.id).c_str(), ua({{"If-None-Match", "\"something-else\""}}));
  ASSERT_TRUE(changed);
  EXPECT_EQ(changed->status, 200);
  EXPECT_TRUE(changed->body == png);

  // Metrics: the objects and bytes by store, the store's error counter, the two endpoints.
  const double objects0 = sample(before, "cutout_share_objects", {{"store", GetParam()}});
  const double bytes0 = sample(before, "cutout_share_bytes", {{"store", GetParam()}});
  // (Counted as each response goes out: poll.)
  Samples after;
  eventually([&] {
    after = scrape(*e.server);
    return sample(after, "cutout_share_objects", {{"store", GetParam()}}) == objects0 + 2 &&
           requests(after, "/s/{id}", 304) == requests(before, "/s/{id}", 304) + 1 &&
           requests(after, "/s/{id}", 200) == requests(before, "/s/{id}", 200) + 3;
  });
  EXPECT_EQ(sample(after, "cutout_share_objects", {{"store", GetParam()}}), objects0 + 2);
  EXPECT_GE(sample(after, "cutout_share_bytes", {{"store", GetParam()}}),
            bytes0 + static_cast<double>(png.size() + jpeg.size()));
  EXPECT_TRUE(after.count(prometheus_series_key("cutout_share_store_errors_total", {{"store", GetParam()}})))
      << "no cutout_share_store_errors_total{store=\"" << GetParam() << "\"}";
  EXPECT_EQ(sample(after, "cutout_share_store_errors_total", {{"store", GetParam()}}),
            sample(before, "cutout_share_store_errors_total", {{"store", GetParam()}}));
  EXPECT_EQ(requests(after, "/api/v2/share-image", 201), requests(before, "/api/v2/share-image", 201) + 2);
  EXPECT_EQ(requests(after, "/s/{id}", 200), requests(before, "/s/{id}", 200) + 3);
  EXPECT_EQ(requests(after, "/s/{id}", 304), requests(before, "/s/{id}", 304) + 1);

  // Delete: only with the share's own token; then it is gone, from the API and from the store.
  const std::string path = "/s/" + a.id;
  expect_api_error(c.Delete(path.c_str(), ua()), 403, "forbidden");
  expect_api_error(c.Delete(path.c_str(), ua({{"X-Delete-Token", b.delete_token}})), 403, "forbidden");
  auto deleted = c.Delete(path.c_str(), ua({{"X-Delete-Token", a.delete_token}}));
  ASSERT_TRUE(deleted);
  EXPECT_EQ(deleted->status, 204);
  EXPECT_TRUE(deleted->body.empty());
  expect_not_found(c, a.id);
  expect_api_error(c.Delete(path.c_str(), ua({{"X-Delete-Token", a.delete_token}})), 404, "not_found");
  EXPECT_FALSE(e.view.holds(a.id));
  expect_served(c, b.id, jpeg, "image/jpeg", 604800);
  EXPECT_TRUE(eventually([&] { return gauge("cutout_share_objects") == objects0 + 1; }));
  EXPECT_TRUE(eventually(
      [&] { return requests(scrape(*e.server), "/s/{id}", 204) == requests(before, "/s/{id}", 204) + 1; }));
}

// Every allowed type keeps its exact bytes and is served as what its bytes are, whatever the
// request said.
TEST_P(ShareStoreE2E, EveryAllowedImageTypeIsServedAsItsBytesSay) {
  StoreEnv& e = env();
  auto c = e.server->client();
  const std::vector<std::pair<std::string, std::string>> images = {
      {"image/png", noise_image(3, 48, ".png")},   {"image/jpeg", noise_image(4, 48, ".jpg")},
      {"image/webp", noise_image(5, 48, ".webp")}, {"image/bmp", noise_image(6, 48, ".bmp")},
      {"image/tiff", noise_image(7, 48, ".tiff")}, {"image/gif", tiny_gif()}};
  for (const auto& [mime, bytes] : images) {
    SCOPED_TRACE(mime);
    // The request claims PNG (raw) or a wrong type in the form part: neither is trusted.
    const Share raw = expect_created(upload_raw(c, bytes, "", {}, "image/png"));
    const Share form = expect_created(upload_form(c, bytes));
    if (!raw.id.empty()) expect_served(c, raw.id, bytes, mime, 604800);
    if (!form.id.empty()) expect_served(c, form.id, bytes, mime, 604800);
  }
}

// Ids are random (not counters, not content hashes) and so are the tokens.
TEST_P(ShareStoreE2E, IdsAndTokensAreUnguessable) {
  StoreEnv& e = env();
  auto c = e.server->client();
  const std::string png = noise_image(8, 16);
  std::set<std::string> ids, tokens;
  std::vector<std::set<char>> chars(22);
  constexpr int kShares = 40;
  for (int i = 0; i < kShares; ++i) {
    const Share s = expect_created(upload_raw(c, png));
    ASSERT_FALSE(s.id.empty());
    ids.insert(s.id);
    tokens.insert(s.delete_token);
    for (size_t k = 0; k < 22; ++k) chars[k].insert(s.id[k]);
  }
  EXPECT_EQ(ids.size(), static_cast<size_t>(kShares));
  EXPECT_EQ(tokens.size(), static_cast<size_t>(kShares));
  // 40 random draws from 64 characters give ~30 different ones at each position; a counter or a
  // timestamp leaves most positions constant. (The last character holds only 2 of the 128 bits.)
  for (size_t k = 0; k < 21; ++k) EXPECT_GE(chars[k].size(), 8u) << "id position " << k;
}

// `ttl` (query or form) is checked against 1..max; an expired share answers 404 at once and is
// swept from the store.
TEST_P(ShareStoreE2E, TtlIsCheckedAndExpiredSharesAnswer404AndAreSwept) {
  StoreEnv& e = env();
  auto c = e.server->client();
  const std::string png = noise_image(9, 32);
  for (const char* bad : {"0", "-5", "abc", "2592001", "1.5", "99999999999999999999"}) {
    SCOPED_TRACE(std::string("ttl=") + bad);
    expect_api_error(upload_raw(c, png, std::string("?ttl=") + bad), 400, "bad_request");
  }
  expect_api_error(upload_form(c, png, "0"), 400, "bad_request");
  int64_t t0 = unix_now();
  expect_expiry(expect_created(upload_raw(c, png, "?ttl=2592000")), t0, 2592000);  // the maximum
  t0 = unix_now();
  expect_expiry(expect_created(upload_form(c, png, "120")), t0, 120);

  const double objects0 = gauge("cutout_share_objects");
  t0 = unix_now();
  const Share s = expect_created(upload_raw(c, png, "?ttl=2"));
  ASSERT_FALSE(s.id.empty());
  expect_expiry(s, t0, 2);
  expect_served(c, s.id, png, "image/png", 2);
  // 404 once it expires (the sweeper, every second here, may not have run yet).
  std::optional<httplib::Result> gone;
  EXPECT_TRUE(eventually([&] {
    auto res = c.Get(("/s/" + s.id).c_str(), ua());
    if (!res || res->status == 200) return false;
    gone.emplace(std::move(res));
    return true;
  }));
  ASSERT_TRUE(gone);
  EXPECT_GE(unix_now(), t0 + 1) << "gone before its time";
  expect_api_error(*gone, 404, "not_found");
  expect_api_error(c.Delete(("/s/" + s.id).c_str(), ua({{"X-Delete-Token", s.delete_token}})), 404,
                   "not_found");
  // Swept: the file goes (the sweeper), or the key (Redis's own TTL).
  EXPECT_TRUE(eventually([&] { return !e.view.holds(s.id); })) << s.id << " is still in the store";
  EXPECT_TRUE(eventually([&] { return gauge("cutout_share_objects") == objects0; }))
      << "cutout_share_objects " << gauge("cutout_share_objects") << ", was " << objects0;
}

// Ids that are not 22 characters of base64url answer 404 before any store lookup: no path
// traversal, whatever the encoding; a real share answers only to its exact id.
TEST_P(ShareStoreE2E, HostileIdsAnswer404) {
  StoreEnv& e = env();
  auto c = e.server->client();
  const std::string png = noise_image(10, 32);
  const Share real = expect_created(upload_raw(c, png));
  ASSERT_FALSE(real.id.empty());
  // Bait outside the store and inside it: a secret next to the store directory and a temp file.
  const fs::path secret = e.dir.path() / "secret.png";
  testing::write_file(secret, std::vector<uint8_t>(png.begin(), png.end()));
  if (GetParam() == "file") {
    testing::write_file(e.view.dir / ".tmp-planted", std::vector<uint8_t>(png.begin(), png.end()));
  }
  std::string swapped = real.id;
  for (char& ch : swapped)
    ch = std::isupper(static_cast<unsigned char>(ch)) ? std::tolower(ch) : std::toupper(ch);
  const std::string id21 = real.id.substr(0, 21);
  const std::vector<std::string> targets = {
      "/s/",
      "/s/..%2fsecret.png",
      "/s/%2e%2e%2fsecret.png",
      "/s/%2E%2E%2Fsecret.png",
      "/s/..%252fsecret.png",
      "/s/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
      "/s/../secret.png",
      "/s/..%5csecret.png",
      "/s/....%2f%2fsecret.png",
      "/s/%2fetc%2fpasswd",
      "/s/.tmp-planted",
      "/s/%2etmp-planted",
      "/s/" + id21,
      "/s/" + real.id + "A",
      "/s/" + std::string(64, 'A'),
      "/s/" + std::string(2000, 'A'),
      "/s/" + id21 + ".",
      "/s/" + id21 + "+",
      "/s/" + id21 + "=",
      "/s/" + id21 + "~",
      "/s/" + id21 + "%20",
      "/s/" + id21 + "%00",
      "/s/" + id21 + "%2f",
      "/s/" + real.id + "/",
      "/s/" + real.id + "%00",
      "/s/" + real.id + "%2f..%2f..%2fsecret.png",
      "/s/" + real.id + "/..%2f..%2fsecret.png",
      "/s/" + real.id + "?" + std::string(30, 'x') + "/../secret.png" /* a query is not part of the id */,
      "/s/%" + real.id.substr(0, 20),
      "/s/" + std::string(22, '.'),
      "/s/" + std::string(11, '.') + std::string(11, '/'),
      swapped == real.id ? "/s/" + std::string(22, 'Z') : "/s/" + swapped};
  for (const auto& target : targets) {
    for (const std::string method : {"GET", "DELETE"}) {
      SCOPED_TRACE(method + " " + target.substr(0, 120));
      // The real id followed by a query is the real share: GET serves it (DELETE would delete it).
      const bool real_share = target.find('?') != std::string::npos;
      if (real_share && method == "DELETE") continue;
      const RawResponse r =
          raw_request(e.server->port(), method, target, "X-Delete-Token: " + real.delete_token + "\r\n");
      if (real_share) {
        EXPECT_EQ(r.status, 200);
        continue;
      }
      EXPECT_EQ(r.status, 404) << r.head << "\n" << r.body.substr(0, 300);
      EXPECT_NE(r.body.find("\"not_found\""), std::string::npos) << r.body.substr(0, 300);
    }
  }
  // Over the request line limit: refused either way, and nothing is served.
  const RawResponse huge = raw_request(e.server->port(), "GET", "/s/" + std::string(9000, 'A'));
  EXPECT_TRUE(huge.status == 404 || huge.status == 414) << huge.head;
  expect_alive(*e.server, "hostile ids");
  EXPECT_TRUE(fs::exists(secret));
  if (GetParam() == "file") fs::remove(e.view.dir / ".tmp-planted");  // not to be taken for a leftover
  expect_served(c, real.id, png, "image/png", 604800);
  // None of it became a metrics label: the endpoint is the route, never the path.
  for (const auto& [key, value] : scrape(*e.server)) {
    EXPECT_EQ(key.find("secret"), std::string::npos) << key;
    EXPECT_EQ(key.find("tmp-planted"), std::string::npos) << key;
    EXPECT_EQ(key.find(real.id.substr(0, 12)), std::string::npos) << key;
  }
}

// Wrong, missing or mangled tokens never delete; the right one does.
TEST_P(ShareStoreE2E, HostileDeleteTokensAreRefused) {
  StoreEnv& e = env();
  auto c = e.server->client();
  const std::string png = noise_image(11, 32);
  const Share s = expect_created(upload_raw(c, png));
  const Share other = expect_created(upload_raw(c, png));
  ASSERT_FALSE(s.id.empty());
  ASSERT_FALSE(other.id.empty());
  std::string flipped = s.delete_token;
  flipped[0] = flipped[0] == 'A' ? 'B' : 'A';
  std::string last_flipped = s.delete_token;
  last_flipped.back() = last_flipped.back() == 'A' ? 'B' : 'A';
  const std::vector<std::string> tokens = {"",
                                           " ",
                                           other.delete_token,
                                           s.delete_token.substr(0, 42),
                                           s.delete_token.substr(0, 1),
                                           s.delete_token + "A",
                                           s.delete_token + s.delete_token,
                                           flipped,
                                           last_flipped,
                                           s.id,
                                           "../" + s.delete_token,
                                           "%" + s.delete_token.substr(1),
                                           " " + s.delete_token + "x",
                                           std::string(4000, 'A')};
  const std::string path = "/s/" + s.id;
  for (const auto& token : tokens) {
    SCOPED_TRACE("token [" + token.substr(0, 60) + "]");
    expect_api_error(c.Delete(path.c_str(), ua({{"X-Delete-Token", token}})), 403, "forbidden");
  }
  // The token goes in its header, nowhere else.
  expect_api_error(c.Delete(path.c_str(), ua({{"Authorization", "Bearer " + s.delete_token}})), 403,
                   "forbidden");
  expect_api_error(c.Delete((path + "?delete_token=" + s.delete_token).c_str(), ua()), 403, "forbidden");
  expect_served(c, s.id, png, "image/png", 604800);
  auto res = c.Delete(path.c_str(), ua({{"X-Delete-Token", s.delete_token}}));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 204);
  expect_not_found(c, s.id);
  expect_served(c, other.id, png, "image/png", 604800);
}

// Over the byte or pixel limit, not an image, or not decodable: a JSON error, and nothing stored.
TEST_P(ShareStoreE2E, OversizeAndNonImageUploadsAreRefusedAndStoreNothing) {
  StoreEnv& e = env();
  auto c = e.server->client();
  const std::set<std::string> ids0 = e.view.ids();
  const std::string big = noise_image(12, 320);  // ~300 KiB of PNG, over the suite's 256 KiB
  ASSERT_GT(big.size(), static_cast<size_t>(kSuiteMaxBytes));
  const std::string png = noise_image(13, 64);
  const std::string truncated = png.substr(0, png.size() / 2);
  const std::string jpeg = noise_image(14, 64, ".jpg");
  struct Case {
    std::string name, body, type;
    int status;
    std::string code;
  };
  const std::vector<Case> cases = {
      {"over share-max-bytes", big, "image/png", 413, "payload_too_large"},
      {"text", "hello, world", "text/plain", 415, "unsupported_media_type"},
      {"svg", R"(<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>)", "image/svg+xml",
       415, "unsupported_media_type"},
      {"html as png", "<!doctype html><script>alert(1)</script>", "image/png", 415, "unsupported_media_type"},
      {"pdf", "%PDF-1.4\n1 0 obj\n<<>>\nendobj\n", "application/pdf", 415, "unsupported_media_type"},
      {"truncated png", truncated, "image/png", 422, "undecodable_image"},
      {"png magic, then junk", std::string("\x89PNG\r\n\x1a\n", 8) + std::string(500, 'x'), "image/png", 422,
       "undecodable_image"},
      {"jpeg magic, then junk", std::string("\xff\xd8\xff\xe0", 4) + std::string(500, 'x'), "image/jpeg", 422,
       "undecodable_image"},
      {"truncated jpeg", jpeg.substr(0, jpeg.size() / 3), "image/jpeg", 422, "undecodable_image"},
      {"png pixel bomb", png_header_bomb(60000, 60000), "image/png", 413, "image_too_large"},
      {"jpeg pixel bomb", jpeg_header_bomb(60000, 60000), "image/jpeg", 413, "image_too_large"},
  };
  for (const auto& k : cases) {
    SCOPED_TRACE(k.name);
    expect_api_error(upload_raw(c, k.body, "", {}, k.type), k.status, k.code);
    expect_api_error(upload_form(c, k.body), k.status, k.code);
  }
  {
    SCOPED_TRACE("empty body");
    auto res = upload_raw(c, "");
    ASSERT_TRUE(res);
    EXPECT_TRUE(res->status == 400 || res->status == 415 || res->status == 422) << res->status;
    EXPECT_TRUE(json::parse(res->body, nullptr, false).contains("error")) << res->body;
  }
  {
    SCOPED_TRACE("multipart without an image part");
    auto res = upload_form(c, png, "", {}, "file");
    ASSERT_TRUE(res);
    EXPECT_TRUE(res->status == 400 || res->status == 415) << res->status << " " << res->body;
  }
  EXPECT_EQ(e.view.ids(), ids0);
  // A refused upload leaves no temp file behind (the running server's sweeper leaves its own).
  for (const auto& name : e.view.temp_files()) ADD_FAILURE() << "temp file left: " << name;
  // At the limit is still fine.
  const std::string fits = noise_image(15, 256);
  ASSERT_LE(fits.size(), static_cast<size_t>(kSuiteMaxBytes));
  const Share s = expect_created(upload_raw(c, fits));
  if (!s.id.empty()) expect_served(c, s.id, fits, "image/png", 604800);
  expect_alive(*e.server, "refused uploads");
}

// SIGKILL in the middle of many concurrent uploads: after a restart every acknowledged upload is
// there byte for byte, anything else the store holds is served whole or not at all, and the start-up
// sweep leaves no temp file (file store).
TEST_P(ShareStoreE2E, SigkillDuringConcurrentUploadsLosesNoAcknowledgedShare) {
  // A store of this test's own (a directory, or a Redis): the suite's server is not needed here.
  StoreView view;
  view.kind = GetParam();
  TempDir dir;
  std::unique_ptr<RedisProcess> redis;
  if (GetParam() == "file") {
    view.dir = dir.path() / "crash-shares";
    fs::create_directories(view.dir);
  } else {
    redis = std::make_unique<RedisProcess>();
    view.redis = redis.get();
    view.db = 1;
  }
  const ServerOptions options = with_args(
      server_args(view.spec(), {"--share-sweep-interval-s", "3600", "--share-rate-per-minute", "0"}));
  // Distinct images (PNG and JPEG, 12-60 KiB), each known by its hash.
  constexpr int kImages = 500, kThreads = 6, kAcksBeforeKill = 60;
  std::vector<std::string> images;
  std::map<uint64_t, int> by_hash;
  for (int i = 0; i < kImages; ++i) {
    images.push_back(noise_image(1000 + i, 64 + (i % 5) * 16, i % 3 == 2 ? ".jpg" : ".png"));
    by_hash[fnv1a(images.back())] = i;
  }
  ASSERT_EQ(by_hash.size(), images.size());

  struct Ack {
    Share share;
    int image;
  };
  std::mutex mu;
  std::vector<Ack> acks;
  std::vector<std::string> unexpected;  // answers other than 201 before the kill
  std::atomic<int> next{0};
  std::atomic<bool> killed{false};
  std::string expired_id;
  {
    ServerProcess a(options);
    if (GetParam() == "file") {
      // A temp file of an earlier crash, to be sure the start-up sweep has one to remove.
      testing::write_file(view.dir / ".tmp-left-by-an-earlier-crash", std::vector<uint8_t>(100, 0x89));
    }
    // An expired share answers 404 though no sweep has run since (the next is an hour away); the
    // start-up sweep after the crash removes it.
    auto c = a.client();
    const Share expiring = expect_created(upload_raw(c, images[0], "?ttl=1"));
    ASSERT_FALSE(expiring.id.empty());
    expired_id = expiring.id;
    EXPECT_TRUE(eventually([&] {
      auto res = c.Get(("/s/" + expiring.id).c_str(), ua());
      return res && res->status == 404;
    })) << "an expired share is still served";
    if (GetParam() == "file") {
      EXPECT_TRUE(fs::exists(view.dir / expiring.id)) << "swept early?";
    }
    std::vector<std::thread> uploaders;
    for (int t = 0; t < kThreads; ++t) {
      uploaders.emplace_back([&, t] {
        auto c = a.client(30s);
        for (int i; !killed && (i = next++) < kImages;) {
          auto res = (i + t) % 2 ? upload_raw(c, images[i]) : upload_form(c, images[i]);
          if (res && res->status == 201) {
            const json body = json::parse(res->body, nullptr, false);
            std::lock_guard lock(mu);
            acks.push_back({{body.value("id", ""), "", "", body.value("delete_token", "")}, i});
          } else if (res && !killed) {
            std::lock_guard lock(mu);
            unexpected.push_back(std::to_string(res->status) + " " + res->body.substr(0, 200));
          }
        }
      });
    }
    eventually(
        [&] {
          std::lock_guard lock(mu);
          return acks.size() >= static_cast<size_t>(kAcksBeforeKill);
        },
        60s);
    a.signal(SIGKILL);  // uploads are in flight: every thread is inside a request
    killed = true;
    for (auto& th : uploaders) th.join();
    EXPECT_EQ(a.wait_exit(10s), 128 + SIGKILL);
  }
  for (const auto& u : unexpected) ADD_FAILURE() << "unexpected answer before the kill: " << u;
  ASSERT_GE(acks.size(), static_cast<size_t>(kAcksBeforeKill));
  std::printf("acknowledged %zu uploads before the kill; %zu temp files left\n", acks.size(),
              view.temp_files().size());
  if (GetParam() == "file") {
    EXPECT_FALSE(view.temp_files().empty());
  }

  ServerProcess b(options);
  // The sweep ran before the server listened.
  for (const auto& name : view.temp_files()) ADD_FAILURE() << "temp file left after the restart: " << name;
  auto c = b.client();
  expect_not_found(c, expired_id);
  // Gone from the directory before the server listened; from Redis by its TTL (which may outlast the
  // share's whole-second expiry by up to a second).
  if (GetParam() == "file") {
    EXPECT_FALSE(view.holds(expired_id)) << "the expired share outlived the start-up sweep";
  } else {
    EXPECT_TRUE(eventually([&] { return !view.holds(expired_id); })) << "the expired share's key stays";
  }
  const std::set<std::string> stored = view.ids();
  for (const auto& ack : acks) {
    SCOPED_TRACE("acknowledged share " + ack.share.id + " (image " + std::to_string(ack.image) + ")");
    EXPECT_TRUE(stored.count(ack.share.id));
    expect_served(c, ack.share.id, images[ack.image], ack.image % 3 == 2 ? "image/jpeg" : "image/png",
                  604800);
  }
  // The rest were in flight at the kill: each is an upload, whole, or nothing.
  std::set<std::string> acked;
  for (const auto& ack : acks) acked.insert(ack.share.id);
  for (const auto& id : stored) {
    if (acked.count(id)) continue;
    auto res = c.Get(("/s/" + id).c_str(), ua());
    ASSERT_TRUE(res);
    if (res->status == 404) continue;
    EXPECT_EQ(res->status, 200) << id;
    const auto it = by_hash.find(fnv1a(res->body));
    EXPECT_TRUE(it != by_hash.end() && images[it->second] == res->body)
        << "unacknowledged share " << id << " serves " << res->body.size() << " bytes that no upload sent";
  }
  const auto objects = [&] { return sample(scrape(b), "cutout_share_objects", {{"store", GetParam()}}); };
  if (GetParam() == "file") {
    EXPECT_TRUE(eventually([&] { return objects() == static_cast<double>(view.ids().size()); }))
        << "cutout_share_objects " << objects() << ", files " << view.ids().size();
  } else {
    EXPECT_TRUE(eventually([&] { return objects() >= static_cast<double>(acks.size()); }))
        << "cutout_share_objects " << objects() << ", acknowledged " << acks.size();
  }
  // The delete tokens survive too, and the restarted server takes new shares.
  const Ack& first = acks.front();
  auto deleted =
      c.Delete(("/s/" + first.share.id).c_str(), ua({{"X-Delete-Token", first.share.delete_token}}));
  ASSERT_TRUE(deleted);
  EXPECT_EQ(deleted->status, 204);
  expect_not_found(c, first.share.id);
  const Share fresh = expect_created(upload_raw(c, images[0]));
  if (!fresh.id.empty()) expect_served(c, fresh.id, images[0], "image/png", 604800);
}

INSTANTIATE_TEST_SUITE_P(Stores, ShareStoreE2E, ::testing::Values("file", "redis"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

}  // namespace
}  // namespace cutout
