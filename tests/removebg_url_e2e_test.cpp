// POST /v1.0/removebg with image_url and bg_image_url (label e2e): the real `cutout serve` with
// --fetch-allow naming an HTTP server in this test process (tests/fetch_test_server.h), which
// counts its connections. The URLs work for allowed hosts; other hosts are refused before any
// connection; slow, huge and failing answers are remove.bg errors within the limits; without the
// flag the URLs are refused as before.
#include <cctype>
#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "fetch_test_server.h"
#include "server_e2e_helpers.h"
#include "server_fixture.h"

namespace cutout {
namespace {

using namespace e2e;  // NOLINT: the tests' vocabulary
using testing::FetchTestServer;
using testing::ServerOptions;
using testing::ServerProcess;

FetchTestServer& images() {
  static FetchTestServer s;
  return s;
}

// Allowed: the test server, and a name that resolves nowhere. The byte limit is --max-body-bytes
// (1 MiB here), the default of --fetch-max-bytes.
ServerProcess& server() {
  static ServerProcess s(with_args({"--fetch-allow", images().allow_entry() + ",*.example.invalid",
                                    "--fetch-timeout-s", "1", "--max-body-bytes", "1048576"}));
  return s;
}

// A form-encoded body.
std::string form(const std::vector<std::pair<std::string, std::string>>& fields) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (const auto& [k, v] : fields) {
    if (!out.empty()) out += '&';
    out.append(k).append("=");
    for (const unsigned char c : v) {
      if (std::isalnum(c) || c == '.' || c == '-' || c == '_' || c == '/' || c == ':') {
        out += static_cast<char>(c);
      } else {
        out += '%';
        out += hex[c >> 4];
        out += hex[c & 15];
      }
    }
  }
  return out;
}

httplib::Result post_form(const ServerProcess& s,
                          const std::vector<std::pair<std::string, std::string>>& fields) {
  return s.client().Post("/v1.0/removebg", ua(), form(fields), "application/x-www-form-urlencoded");
}

// remove.bg's error body with that status and code; returns its detail.
std::string expect_error(const httplib::Result& res, int status, const std::string& code) {
  if (!res) {
    ADD_FAILURE() << "no response";
    return "";
  }
  EXPECT_EQ(res->status, status) << res->body;
  const json body = json::parse(res->body, nullptr, false);
  if (!body.is_object() || !body.contains("errors") || body["errors"].empty()) {
    ADD_FAILURE() << "not remove.bg's error body: " << res->body;
    return "";
  }
  const json& e = body["errors"][0];
  EXPECT_EQ(e.value("code", ""), code) << res->body;
  EXPECT_FALSE(e.value("title", "").empty()) << res->body;
  return e.value("detail", "");
}

double fetches(const ServerProcess& s, const std::string& outcome) {
  return sample(scrape(s), "cutout_url_fetches_total", {{"outcome", outcome}});
}

TEST(RemoveBgUrl, ImageUrlIsFetchedAndCutOut) {
  const int before = images().connections();
  const double ok = fetches(server(), "ok");
  auto res = post_form(server(), {{"image_url", images().url("/photo.jpg")}, {"size", "auto"}});
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body.substr(0, 300);
  EXPECT_EQ(res->get_header_value("Content-Type"), "image/png");
  EXPECT_EQ(std::stoi(res->get_header_value("X-Width")), kPhotoWidth);
  EXPECT_EQ(std::stoi(res->get_header_value("X-Height")), kPhotoHeight);
  EXPECT_GT(std::stoi(res->get_header_value("X-Foreground-Width")), 0);
  const cv::Mat image = decode(res->body);
  ASSERT_EQ(image.channels(), 4);
  EXPECT_EQ(image.size(), cv::Size(kPhotoWidth, kPhotoHeight));
  EXPECT_EQ(images().connections() - before, 1);
  EXPECT_EQ(fetches(server(), "ok") - ok, 1);
}

TEST(RemoveBgUrl, BgImageUrlIsFetchedBehindTheSubject) {
  const int before = images().connections();
  httplib::MultipartFormDataItems items = {{"image_file", photo(), "photo.jpg", "image/jpeg"},
                                           {"bg_image_url", images().url("/bg.jpg"), "", ""},
                                           {"format", "png", "", ""}};
  auto res = server().client().Post("/v1.0/removebg", ua(), items);
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body.substr(0, 300);
  const cv::Mat image = decode(res->body);
  EXPECT_EQ(image.channels(), 3) << "a background image: opaque";
  EXPECT_EQ(image.size(), cv::Size(kPhotoWidth, kPhotoHeight));
  EXPECT_EQ(images().connections() - before, 1);
}

TEST(RemoveBgUrl, HostsOffTheListAreRefusedWithoutAConnection) {
  const std::string port = std::to_string(images().port());
  const int before = images().connections();
  const double refused = fetches(server(), "not_allowed");
  for (const std::string& url :
       {"http://localhost:" + port + "/photo.jpg", "http://127.0.0.2:" + port + "/photo.jpg",
        std::string("http://127.0.0.1/photo.jpg"), std::string("http://169.254.169.254/latest/meta-data/"),
        "http://evil.com#127.0.0.1:" + port, "http://127.0.0.1.evil.com:" + port + "/"}) {
    SCOPED_TRACE(url);
    const std::string detail =
        expect_error(post_form(server(), {{"image_url", url}}), 400, "url_not_allowed");
    EXPECT_NE(detail.find("--fetch-allow"), std::string::npos) << detail;
    EXPECT_NE(detail.find("image_url"), std::string::npos) << detail;
  }
  for (const std::string& url : {"http://127.0.0.1:" + port + "@localhost:" + port + "/photo.jpg",
                                 std::string("file:///etc/passwd"), "gopher://127.0.0.1:" + port + "/"}) {
    SCOPED_TRACE(url);
    expect_error(post_form(server(), {{"image_url", url}}), 400, "invalid_parameters");
  }
  // The background's URL too, and before the photo is cut out.
  httplib::MultipartFormDataItems items = {{"image_file", photo(), "photo.jpg", "image/jpeg"},
                                           {"bg_image_url", "http://localhost:" + port + "/bg.jpg", "", ""}};
  expect_error(server().client().Post("/v1.0/removebg", ua(), items), 400, "url_not_allowed");
  // A redirect from the allowed server to a host off the list: one connection, the redirect's.
  expect_error(post_form(server(), {{"image_url", images().url("/redirect-out")}}), 400, "url_not_allowed");
  EXPECT_EQ(images().connections() - before, 1);
  EXPECT_EQ(fetches(server(), "not_allowed") - refused, 8);
}

TEST(RemoveBgUrl, SlowHugeAndFailingAnswersAreErrors) {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  std::string detail =
      expect_error(post_form(server(), {{"image_url", images().url("/slow")}}), 400, "failed_to_download");
  // Wide: it must stop at its deadline, not hang; a loaded 2-core machine adds seconds.
  EXPECT_LT(Clock::now() - t0, std::chrono::milliseconds(10000)) << "--fetch-timeout-s 1";
  EXPECT_NE(detail.find("--fetch-timeout-s"), std::string::npos) << detail;
  detail = expect_error(post_form(server(), {{"image_url", images().url("/huge")}}), 400, "file_too_large");
  EXPECT_NE(detail.find("1 MiB"), std::string::npos) << "the default: --max-body-bytes; " << detail;
  detail = expect_error(post_form(server(), {{"image_url", images().url("/nothing-here.jpg")}}), 400,
                        "failed_to_download");
  EXPECT_NE(detail.find("404"), std::string::npos) << detail;
  httplib::MultipartFormDataItems items = {{"image_file", photo(), "photo.jpg", "image/jpeg"},
                                           {"bg_image_url", images().url("/fail"), "", ""}};
  detail = expect_error(server().client().Post("/v1.0/removebg", ua(), items), 400, "failed_to_download");
  EXPECT_NE(detail.find("bg_image_url"), std::string::npos) << detail;
  // A name on the list that does not resolve.
  expect_error(post_form(server(), {{"image_url", "http://img.example.invalid/a.jpg"}}), 400,
               "failed_to_download");
  // A redirect to file:// is no URL to fetch; fetched bytes that are no image go image_file's way.
  expect_error(post_form(server(), {{"image_url", images().url("/redirect-file")}}), 400,
               "invalid_parameters");
  expect_error(post_form(server(), {{"image_url", images().url("/text")}}), 400, "unsupported_media_type");
  const Samples s = scrape(server());
  for (const char* outcome : {"timeout", "too_large", "http_status", "failed", "invalid_url"}) {
    EXPECT_GE(sample(s, "cutout_url_fetches_total", {{"outcome", outcome}}), 1) << outcome;
  }
  expect_alive(server(), "the failed fetches");
}

TEST(RemoveBgUrl, WithoutTheFlagUrlsAreRefusedAsBefore) {
  ServerOptions options;
  options.wait_ready = false;  // refused before the model is needed
  ServerProcess plain(options);
  const int before = images().connections();
  std::string detail =
      expect_error(post_form(plain, {{"image_url", images().url("/photo.jpg")}}), 400, "invalid_parameters");
  EXPECT_NE(detail.find("not enabled"), std::string::npos) << detail;
  EXPECT_NE(detail.find("--fetch-allow"), std::string::npos) << detail;
  httplib::MultipartFormDataItems items = {{"image_file", photo(), "photo.jpg", "image/jpeg"},
                                           {"bg_image_url", images().url("/bg.jpg"), "", ""}};
  detail = expect_error(plain.client().Post("/v1.0/removebg", ua(), items), 400, "invalid_parameters");
  EXPECT_NE(detail.find("bg_image_url"), std::string::npos) << detail;
  EXPECT_EQ(images().connections(), before);
}

TEST(RemoveBgUrl, ABadAllowListStopsTheStart) {
  for (const auto& [args, env] :
       {std::pair<std::vector<std::string>, testing::Env>{{"--port", "0", "--fetch-allow", "http://x.com"},
                                                          {}},
        std::pair<std::vector<std::string>, testing::Env>{{"--port", "0"}, {{"CUTOUT_FETCH_ALLOW", "*"}}},
        std::pair<std::vector<std::string>, testing::Env>{{"--port", "0", "--fetch-timeout-s", "0"}, {}}}) {
    const auto run = testing::run_serve_until_exit(args, env, std::chrono::seconds(15));
    ASSERT_TRUE(run.exit_status.has_value()) << "still running; stdout:\n" << run.stdout_text;
    EXPECT_NE(*run.exit_status, 0);
    EXPECT_NE(run.stderr_text.find("fetch"), std::string::npos) << run.stderr_text;
    EXPECT_EQ(run.stdout_text.find("listening"), std::string::npos) << run.stdout_text;
  }
}

}  // namespace
}  // namespace cutout
