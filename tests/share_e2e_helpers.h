// TEST-ONLY: what the share end-to-end tests (share_e2e_test.cpp, share_settings_e2e_test.cpp) have
// in common: server arguments, test images, upload and read helpers, a raw-socket client, and a
// view of a store from outside the server.
#pragma once

#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <ctime>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
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
#include "test_support.h"

namespace cutout::share_e2e {

using namespace e2e;  // NOLINT: the tests' vocabulary
namespace fs = std::filesystem;
using testing::RedisProcess;
using testing::TempDir;

inline const std::regex kIdFormat("[A-Za-z0-9_-]{22}");
inline const std::regex kTokenFormat("[A-Za-z0-9_-]{43}");
// An id inside a Redis key: 22 id characters with no id character either side.
inline const std::regex kIdInName("(?:^|[^A-Za-z0-9_-])([A-Za-z0-9_-]{22})(?:$|[^A-Za-z0-9_-])");

inline std::vector<std::string> server_args(const std::string& store, std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"--model",       (testing::test_models_dir() / "tiny_isnet.onnx").string(),
                                   "--threads",     "1",
                                   "--share-store", store};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

// A decodable image whose bytes differ for each seed (noise compresses badly: the size is steady).
inline std::string noise_image(int seed, int side, const std::string& ext = ".png") {
  cv::Mat bgr(side, side, CV_8UC3);
  cv::RNG rng(static_cast<uint64_t>(seed) + 1);
  rng.fill(bgr, cv::RNG::UNIFORM, 0, 256);
  std::vector<uint8_t> out;
  if (!cv::imencode(ext, bgr, out)) throw std::runtime_error("cannot encode " + ext);
  return as_string(out);
}

// The smallest GIF (1x1, two colours): OpenCV 4.6 writes no GIF.
inline std::string tiny_gif() {
  return std::string(
      "GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00"
      "!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02\x44\x01\x00;",
      43);
}

inline uint64_t fnv1a(const std::string& bytes) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char b : bytes) h = (h ^ b) * 1099511628211ull;
  return h;
}

struct Share {
  std::string id, url, expires_at, delete_token;
};

inline httplib::Result upload_raw(httplib::Client& c, const std::string& bytes, const std::string& query = "",
                                  httplib::Headers headers = {},
                                  const std::string& type = "application/octet-stream") {
  return post_image(c, "/api/v2/share-image" + query, bytes, std::move(headers), type);
}

inline httplib::Result upload_form(httplib::Client& c, const std::string& bytes, const std::string& ttl = "",
                                   httplib::Headers headers = {}, const std::string& field = "image") {
  httplib::MultipartFormDataItems items = {{field, bytes, "picture.png", "image/png"}};
  if (!ttl.empty()) items.push_back({"ttl", ttl, "", ""});
  return c.Post("/api/v2/share-image", ua(std::move(headers)), items);
}

// Checks a 201 answer of POST /api/v2/share-image; returns the share (empty id on failure).
inline Share expect_created(const httplib::Result& res) {
  if (!res) {
    ADD_FAILURE() << "no response: " << httplib::to_string(res.error());
    return {};
  }
  EXPECT_EQ(res->status, 201) << res->body;
  if (res->status != 201) return {};
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
  const json body = json::parse(res->body, nullptr, false);
  std::set<std::string> keys;
  if (body.is_object())
    for (const auto& [k, v] : body.items()) keys.insert(k);
  EXPECT_EQ(keys, (std::set<std::string>{"id", "url", "expires_at", "delete_token"})) << res->body;
  if (keys.size() != 4) return {};
  Share s{body.value("id", ""), body.value("url", ""), body.value("expires_at", ""),
          body.value("delete_token", "")};
  EXPECT_TRUE(std::regex_match(s.id, kIdFormat)) << s.id;
  EXPECT_TRUE(std::regex_match(s.delete_token, kTokenFormat)) << s.delete_token;
  EXPECT_TRUE(s.url.size() > s.id.size() + 3 && s.url.substr(s.url.size() - s.id.size() - 3) == "/s/" + s.id)
      << s.url;
  EXPECT_FALSE(res->get_header_value("X-Request-Id").empty());
  return s;
}

// Unix seconds of an RFC 3339 UTC time ("2026-12-03T22:00:00Z", fractions allowed).
inline std::optional<int64_t> parse_utc(const std::string& text) {
  std::smatch m;
  static const std::regex format(R"((\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?Z)");
  if (!std::regex_match(text, m, format)) return std::nullopt;
  std::tm tm{};
  tm.tm_year = std::stoi(m[1]) - 1900;
  tm.tm_mon = std::stoi(m[2]) - 1;
  tm.tm_mday = std::stoi(m[3]);
  tm.tm_hour = std::stoi(m[4]);
  tm.tm_min = std::stoi(m[5]);
  tm.tm_sec = std::stoi(m[6]);
  return static_cast<int64_t>(timegm(&tm));
}

inline int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline void expect_expiry(const Share& s, int64_t created_at, int64_t ttl_s) {
  const auto expires = parse_utc(s.expires_at);
  ASSERT_TRUE(expires) << "expires_at is not RFC 3339 UTC: " << s.expires_at;
  EXPECT_GE(*expires, created_at + ttl_s - 2) << s.expires_at;
  EXPECT_LE(*expires, unix_now() + ttl_s + 2) << s.expires_at;
}

// GET /s/{id}: checks the answer serves `bytes` as `mime` with the cache headers; returns the ETag.
inline std::string expect_served(httplib::Client& c, const std::string& id, const std::string& bytes,
                                 const std::string& mime, int64_t max_age_limit_s) {
  auto res = c.Get(("/s/" + id).c_str(), ua());
  if (!res) {
    ADD_FAILURE() << "no response: " << httplib::to_string(res.error());
    return {};
  }
  EXPECT_EQ(res->status, 200) << res->body.substr(0, 300);
  EXPECT_TRUE(res->body == bytes) << "served " << res->body.size() << " bytes (hash " << fnv1a(res->body)
                                  << "), stored " << bytes.size() << " (hash " << fnv1a(bytes) << ")";
  EXPECT_EQ(res->get_header_value("Content-Type"), mime);
  EXPECT_EQ(res->get_header_value("X-Content-Type-Options"), "nosniff");
  const std::string etag = res->get_header_value("ETag");
  EXPECT_TRUE(std::regex_match(etag, std::regex(R"((W/)?"[^"]+")"))) << "ETag " << etag;
  const std::string cache = res->get_header_value("Cache-Control");
  std::smatch m;
  EXPECT_TRUE(std::regex_search(cache, m, std::regex(R"(max-age=(\d+))"))) << "Cache-Control " << cache;
  // A cache must not keep serving a share after it expires.
  if (!m.empty()) {
    EXPECT_LE(std::stoll(m[1]), max_age_limit_s) << "Cache-Control " << cache;
  }
  EXPECT_FALSE(res->get_header_value("X-Request-Id").empty());
  return etag;
}

inline void expect_not_found(httplib::Client& c, const std::string& id) {
  expect_api_error(c.Get(("/s/" + id).c_str(), ua()), 404, "not_found");
}

// A request written by hand on a plain socket: the target goes out exactly as given.
struct RawResponse {
  int status = 0;
  std::string head, body;
};
inline RawResponse raw_request(int port, const std::string& method, const std::string& target,
                               const std::string& extra_headers = "") {
  RawResponse out;
  const int fd = connect_to(port);
  if (fd < 0) return out;
  const timeval tv{15, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  const std::string request = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                              "\r\nUser-Agent: " + kUserAgent + "\r\nConnection: close\r\n" + extra_headers +
                              "\r\n";
  if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
    close(fd);
    return out;
  }
  // Read until the body is complete (by Content-Length) or the server closes: a server may keep a
  // connection open after refusing a request line, whatever the client said.
  std::string text;
  char buf[8192];
  static const std::regex length(R"(\r\n[Cc]ontent-[Ll]ength: *(\d+)\r\n)");
  for (ssize_t n; (n = recv(fd, buf, sizeof buf, 0)) > 0;) {
    text.append(buf, static_cast<size_t>(n));
    const size_t end = text.find("\r\n\r\n");
    std::smatch m;
    const std::string head = end == std::string::npos ? "" : text.substr(0, end + 2);
    if (end != std::string::npos && std::regex_search(head, m, length) &&
        text.size() >= end + 4 + std::stoul(m[1])) {
      break;
    }
  }
  close(fd);
  const size_t split = text.find("\r\n\r\n");
  out.head = text.substr(0, split);
  if (split != std::string::npos) out.body = text.substr(split + 4);
  if (text.rfind("HTTP/1.1 ", 0) == 0 && text.size() >= 12) out.status = std::stoi(text.substr(9, 3));
  return out;
}

// What a test can see of a store from outside the server: object ids and temp files.
struct StoreView {
  std::string kind;
  fs::path dir;                         // file
  const RedisProcess* redis = nullptr;  // redis
  int db = 0;

  std::string spec() const { return kind == "file" ? "file:" + dir.string() : redis->url(db); }
  std::set<std::string> ids() const {
    std::set<std::string> out;
    std::vector<std::string> names;
    if (kind == "file") {
      for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename().string());
    } else {
      names = redis->keys(db);
    }
    for (const auto& name : names) {
      std::smatch m;
      if (kind == "file" && std::regex_match(name, kIdFormat)) out.insert(name);  // a file named by its id
      if (kind == "redis" && std::regex_search(name, m, kIdInName)) out.insert(m[1]);  // a key that holds it
    }
    return out;
  }
  bool holds(const std::string& id) const { return ids().count(id) > 0; }
  std::vector<std::string> temp_files() const {
    std::vector<std::string> out;
    if (kind != "file") return out;
    for (const auto& entry : fs::directory_iterator(dir)) {
      const std::string name = entry.path().filename().string();
      if (name.rfind(".tmp-", 0) == 0) out.push_back(name);
    }
    return out;
  }
};

// Polls `done` every 20 ms; false after the timeout.
template <typename Done>
inline bool eventually(Done done, std::chrono::milliseconds timeout = 10s) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (done()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
}

}  // namespace cutout::share_e2e
