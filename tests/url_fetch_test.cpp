// The URL fetcher (src/server/url_fetch.h): URL parsing and the allow-list against hostile input,
// redirect resolution, and fetch_url against a real HTTP server in this process
// (tests/fetch_test_server.h): redirects, refusals before any connection, limits and deadlines.
#include "server/url_fetch.h"

#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "fetch_test_server.h"

namespace cutout::server {
namespace {

using Clock = std::chrono::steady_clock;

TEST(UrlFetchParse, AcceptsHttpAndHttpsUrls) {
  FetchUrl u = parse_fetch_url("http://Example.COM/a/b.jpg?x=1&y=%20#fragment");
  EXPECT_EQ(u.scheme, "http");
  EXPECT_EQ(u.host, "example.com");
  EXPECT_EQ(u.port, 80);
  EXPECT_EQ(u.target, "/a/b.jpg?x=1&y=%20");
  EXPECT_EQ(u.authority(), "example.com");
  u = parse_fetch_url("HTTPS://img.example.org");
  EXPECT_EQ(u.scheme, "https");
  EXPECT_EQ(u.port, 443);
  EXPECT_EQ(u.target, "/");
  u = parse_fetch_url("http://10.0.0.7:8080?q");
  EXPECT_EQ(u.host, "10.0.0.7");
  EXPECT_EQ(u.port, 8080);
  EXPECT_EQ(u.target, "/?q");
  EXPECT_EQ(u.str(), "http://10.0.0.7:8080/?q");
  u = parse_fetch_url("http://[0:0::1]:9000/p");
  EXPECT_EQ(u.host, "[::1]") << "IPv6 literals in their shortest form";
  EXPECT_EQ(u.authority(), "[::1]:9000");
  EXPECT_EQ(parse_fetch_url("http://[::FFFF:127.0.0.1]/").host, "[::ffff:127.0.0.1]");
  EXPECT_EQ(parse_fetch_url("https://h.org:443/").authority(), "h.org");
  // The fragment is dropped before the authority is found: the host is evil.com.
  EXPECT_EQ(parse_fetch_url("http://evil.com#allowed.com").host, "evil.com");
  EXPECT_EQ(parse_fetch_url("http://evil.com?@allowed.com").host, "evil.com");
  EXPECT_EQ(parse_fetch_url("http://allowed.com.evil.com/").host, "allowed.com.evil.com");
  EXPECT_EQ(parse_fetch_url("http://h.org/@2x.png").target, "/@2x.png") << "an @ in the path is no user";
}

TEST(UrlFetchParse, RefusesHostileUrls) {
  const std::vector<std::string> hostile = {
      "file:///etc/passwd",
      "FILE:///etc/passwd",
      "ftp://allowed.com/a.jpg",
      "gopher://allowed.com:70/",
      "javascript:alert(1)",
      "data:image/png;base64,AAAA",
      "//allowed.com/a.jpg",
      "allowed.com/a.jpg",
      "http:/allowed.com/",
      "http://allowed.com@evil.com/",
      "http://user:pass@allowed.com/",
      "http://allowed.com:80@evil.com/",
      "http://@allowed.com/",
      "http://evil.com\\@allowed.com/",
      "http://allowed.com\\.evil.com/",
      "http://allowed.com/a b.jpg",
      "http://allowed.com/\r\nX-Injected: 1",
      "http://allowed.com/\t",
      std::string("http://allowed.com/\0x", 21),
      "http://%61llowed.com/",
      "http://ex\xc3\xa4mple.com/",
      "http:///path",
      "http://",
      "http://:80/",
      "http://allowed.com./",
      "http://.allowed.com/",
      "http://allowed..com/",
      "http://allowed_com/",
      "http://allowed.com:0/",
      "http://allowed.com:65536/",
      "http://allowed.com:/",
      "http://allowed.com:8o/",
      "http://allowed.com:+80/",
      "http://allowed.com:80:80/",
      "http://::1/",
      "http://[::1/",
      "http://[::1]x/",
      "http://[::1]:/",
      "http://[fe80::1%25eth0]/",
      "http://[127.0.0.1]/",
      "http://[allowed.com]/",
  };
  for (const std::string& url : hostile) {
    EXPECT_THROW(parse_fetch_url(url), std::invalid_argument) << url;
  }
  try {
    parse_fetch_url("http://allowed.com@evil.com/");
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("user"), std::string::npos) << e.what();
  }
  try {
    parse_fetch_url("file:///etc/passwd");
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("http and https"), std::string::npos) << e.what();
  }
}

bool allowed(const FetchAllowList& list, const std::string& url) {
  return list.allows(parse_fetch_url(url));
}

TEST(UrlFetchAllowList, MatchesHostsExactlyPortsAndSubdomains) {
  const FetchAllowList list(" allowed.com, *.img.example.org ,127.0.0.1:8080,[::1]:9000,Upper.Example.NET,");
  EXPECT_TRUE(list.enabled());
  EXPECT_TRUE(allowed(list, "http://allowed.com/a.jpg"));
  EXPECT_TRUE(allowed(list, "https://allowed.com/a.jpg"));
  EXPECT_TRUE(allowed(list, "HTTP://ALLOWED.COM/a.jpg")) << "case-insensitive";
  EXPECT_TRUE(allowed(list, "http://allowed.com:80/")) << "the default port, written";
  EXPECT_FALSE(allowed(list, "http://allowed.com:8080/")) << "no port on the entry: 80 and 443 only";
  EXPECT_FALSE(allowed(list, "https://allowed.com:80/"));
  EXPECT_FALSE(allowed(list, "http://sub.allowed.com/")) << "an exact entry is not a domain";
  EXPECT_FALSE(allowed(list, "http://allowed.com.evil.com/"));
  EXPECT_FALSE(allowed(list, "http://notallowed.com/"));
  EXPECT_FALSE(allowed(list, "http://evil.com#allowed.com"));
  EXPECT_FALSE(allowed(list, "http://evil.com/?allowed.com"));
  EXPECT_TRUE(allowed(list, "http://a.img.example.org/"));
  EXPECT_TRUE(allowed(list, "https://a.b.IMG.example.org/x"));
  EXPECT_FALSE(allowed(list, "http://img.example.org/")) << "*.domain is the subdomains only";
  EXPECT_FALSE(allowed(list, "http://evilimg.example.org/"));
  EXPECT_FALSE(allowed(list, "http://img.example.org.evil.com/"));
  EXPECT_TRUE(allowed(list, "http://127.0.0.1:8080/x"));
  EXPECT_FALSE(allowed(list, "http://127.0.0.1/x"));
  EXPECT_FALSE(allowed(list, "http://127.0.0.1:8081/x"));
  EXPECT_FALSE(allowed(list, "http://127.1:8080/x")) << "IP literals match as written";
  EXPECT_FALSE(allowed(list, "http://2130706433:8080/x"));
  EXPECT_FALSE(allowed(list, "http://localhost:8080/x"));
  EXPECT_TRUE(allowed(list, "http://[::1]:9000/"));
  EXPECT_TRUE(allowed(list, "http://[0:0:0::1]:9000/"));
  EXPECT_FALSE(allowed(list, "http://[::1]/"));
  EXPECT_FALSE(allowed(list, "http://[::ffff:127.0.0.1]:8080/"));
  EXPECT_TRUE(allowed(list, "http://upper.example.net/"));

  for (const char* off : {"", " ", " , ,"}) {
    const FetchAllowList none(off);
    EXPECT_FALSE(none.enabled()) << "'" << off << "'";
    EXPECT_FALSE(allowed(none, "http://allowed.com/"));
  }
}

TEST(UrlFetchAllowList, RefusesMalformedEntries) {
  for (const char* entry :
       {"*", "*.", "*:80", "http://allowed.com", "allowed.com/path", "user@allowed.com", "img.*.example.com",
        "*example.com", "*.1.2.3.4", "*.[::1]", "::1", "allowed.com:99999", "allowed.com:", "allowed..com",
        "allowed.com.", "[::1", "a b.com"}) {
    EXPECT_THROW(FetchAllowList{entry}, std::invalid_argument) << entry;
  }
  try {
    FetchAllowList{"good.com,http://bad.com"};
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("http://bad.com"), std::string::npos)
        << "names the entry: " << e.what();
  }
}

TEST(UrlFetchRedirect, ResolvesLocationsAgainstTheUrl) {
  const FetchUrl base = parse_fetch_url("http://h.com:8080/a/b.jpg?x=1");
  EXPECT_EQ(resolve_redirect(base, "/c.jpg").str(), "http://h.com:8080/c.jpg");
  EXPECT_EQ(resolve_redirect(base, "c.jpg").str(), "http://h.com:8080/a/c.jpg");
  EXPECT_EQ(resolve_redirect(base, "?y=2").str(), "http://h.com:8080/a/b.jpg?y=2");
  EXPECT_EQ(resolve_redirect(base, "//other.org/z").str(), "http://other.org/z");
  EXPECT_EQ(resolve_redirect(base, "HTTPS://o.org:8443/").str(), "https://o.org:8443/");
  for (const char* bad :
       {"", "file:///etc/passwd", "ftp://h.com/", "http://u@h.com/", "/a b", "mailto:x@h.com"}) {
    EXPECT_THROW(resolve_redirect(base, bad), std::invalid_argument) << bad;
  }
}

// fetch_url against a real server.
class UrlFetchServer : public ::testing::Test {
 protected:
  testing::FetchTestServer server;
  FetchLimits limits{1u << 20, 5.0, 3};

  FetchAllowList allow() const { return FetchAllowList(server.allow_entry()); }
  // The failure of fetching `url`, or nullopt when it succeeded.
  std::optional<FetchError> failure(const std::string& url, const FetchAllowList& list) const {
    try {
      fetch_url(url, list, limits);
    } catch (const FetchError& e) {
      return e;
    }
    return std::nullopt;
  }
  std::optional<FetchError> failure(const std::string& url) const { return failure(url, allow()); }
};

TEST_F(UrlFetchServer, FetchesAnAllowedUrl) {
  EXPECT_EQ(fetch_url(server.url("/photo.jpg"), allow(), limits), server.photo());
  EXPECT_EQ(server.connections(), 1);
  EXPECT_EQ(fetch_url(server.url("/bg.jpg?v=1#top"), allow(), limits), server.bg());
}

TEST_F(UrlFetchServer, FollowsAtMostThreeRedirectsCheckingEach) {
  EXPECT_EQ(fetch_url(server.url("/redirect"), allow(), limits), server.photo());
  EXPECT_EQ(fetch_url(server.url("/hops/3"), allow(), limits), server.photo());
  const int before = server.connections();
  auto e = failure(server.url("/hops/4"));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->failure, FetchFailure::kFailed);
  EXPECT_NE(std::string(e->what()).find("redirects"), std::string::npos) << e->what();
  EXPECT_EQ(server.connections() - before, 4) << "the fourth redirect is not followed";
  // A redirect to a host off the list (the same server as "localhost"): refused before connecting.
  const int at = server.connections();
  e = failure(server.url("/redirect-out"));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->failure, FetchFailure::kNotAllowed);
  EXPECT_NE(std::string(e->what()).find("--fetch-allow"), std::string::npos) << e->what();
  EXPECT_EQ(server.connections() - at, 1);
  e = failure(server.url("/redirect-file"));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->failure, FetchFailure::kInvalidUrl);
}

TEST_F(UrlFetchServer, RefusedUrlsMakeNoConnection) {
  const std::string port = std::to_string(server.port());
  for (const std::string& url :
       {"http://localhost:" + port + "/photo.jpg", "http://127.0.0.1:" + port + "@localhost/photo.jpg",
        "http://127.0.0.2:" + port + "/photo.jpg", std::string("http://127.0.0.1/photo.jpg"),
        std::string("file:///etc/passwd"), "http://[::ffff:127.0.0.1]:" + port + "/photo.jpg"}) {
    EXPECT_TRUE(failure(url)) << url;
  }
  EXPECT_TRUE(failure(server.url("/photo.jpg"), FetchAllowList("")));
  EXPECT_EQ(failure(server.url("/photo.jpg"), FetchAllowList(""))->failure, FetchFailure::kNotAllowed);
  EXPECT_EQ(server.connections(), 0);
}

TEST_F(UrlFetchServer, AnAnswerThatIsNot2xxOrEmptyIsAnError) {
  auto e = failure(server.url("/missing.jpg"));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->failure, FetchFailure::kHttpStatus);
  EXPECT_NE(std::string(e->what()).find("404"), std::string::npos) << e->what();
  e = failure(server.url("/fail"));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->failure, FetchFailure::kHttpStatus);
  EXPECT_NE(std::string(e->what()).find("500"), std::string::npos) << e->what();
  e = failure(server.url("/empty"));
  ASSERT_TRUE(e) << "an empty body is no image";
  EXPECT_EQ(e->failure, FetchFailure::kFailed);
}

TEST_F(UrlFetchServer, StopsAtTheByteLimit) {
  for (const char* path : {"/huge", "/huge-declared"}) {
    const auto t0 = Clock::now();
    auto e = failure(server.url(path));
    ASSERT_TRUE(e) << path;
    EXPECT_EQ(e->failure, FetchFailure::kTooLarge) << path << ": " << e->what();
    EXPECT_NE(std::string(e->what()).find("1 MiB"), std::string::npos) << e->what();
    EXPECT_LT(Clock::now() - t0, std::chrono::seconds(2)) << path << ": not read to its end";
  }
  limits.max_bytes = server.photo().size();
  EXPECT_EQ(fetch_url(server.url("/photo.jpg"), allow(), limits), server.photo()) << "exactly the limit";
  limits.max_bytes = server.photo().size() - 1;
  EXPECT_EQ(failure(server.url("/photo.jpg"))->failure, FetchFailure::kTooLarge);
}

TEST_F(UrlFetchServer, OneDeadlineForSlowHeadersBodiesAndDrips) {
  limits.timeout_s = 0.5;
  const FetchAllowList drip("127.0.0.1:" + std::to_string(server.header_drip_port()));
  const std::string drip_url = "http://127.0.0.1:" + std::to_string(server.header_drip_port()) + "/";
  for (const auto& [url, list] : {std::pair{server.url("/slow"), allow()},
                                  std::pair{server.url("/drip"), allow()}, std::pair{drip_url, drip}}) {
    const auto t0 = Clock::now();
    auto e = failure(url, list);
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    ASSERT_TRUE(e) << url;
    EXPECT_EQ(e->failure, FetchFailure::kTimeout) << url << ": " << e->what();
    EXPECT_NE(std::string(e->what()).find("--fetch-timeout-s"), std::string::npos) << e->what();
    EXPECT_GE(s, 0.45) << url;
    EXPECT_LT(s, 1.5) << url;
  }
}

TEST_F(UrlFetchServer, AClosedPortFails) {
  const int port = server.header_drip_port() == 1 ? 2 : 1;  // nothing listens on port 1 here
  const std::string entry = "127.0.0.1:" + std::to_string(port);
  auto e = failure("http://" + entry + "/a.jpg", FetchAllowList(entry));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->failure, FetchFailure::kFailed) << e->what();
}

TEST_F(UrlFetchServer, HttpsChecksTheCertificate) {
  const testing::TempDir dir;
  const std::string cert = (dir.path() / "cert.pem").string(), key = (dir.path() / "key.pem").string();
  if (testing::run_command("openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -days 1 -keyout " +
                           key + " -out " + cert + " 2>/dev/null") != 0) {
    GTEST_SKIP() << "no openssl command to make a certificate";
  }
  httplib::SSLServer tls(cert.c_str(), key.c_str());
  ASSERT_TRUE(tls.is_valid());
  tls.Get("/photo.jpg", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(server.photo(), "image/jpeg");
  });
  const int port = tls.bind_to_any_port("127.0.0.1");
  std::thread serving([&] { tls.listen_after_bind(); });
  for (int i = 0; i < 500 && !tls.is_running(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  const std::string entry = "127.0.0.1:" + std::to_string(port);
  auto e = failure("https://" + entry + "/photo.jpg", FetchAllowList(entry));
  tls.stop();
  serving.join();
  ASSERT_TRUE(e) << "a self-signed certificate is not trusted";
  EXPECT_EQ(e->failure, FetchFailure::kFailed);
  EXPECT_NE(std::string(e->what()).find("certificate"), std::string::npos) << e->what();
}

}  // namespace
}  // namespace cutout::server
