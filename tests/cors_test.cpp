// The CORS policy (src/server/cors.h): which origins, the preflight's answer, the headers added.
#include "server/cors.h"

#include <map>
#include <stdexcept>

#include <gtest/gtest.h>

#include "server/api_error.h"

namespace cutout::server {
namespace {

HttpRequest request(std::string method, std::map<std::string, std::string> headers) {
  HttpRequest r;
  r.method = std::move(method);
  r.path = "/api/v2/process";
  r.header = [headers](std::string_view name) {
    auto it = headers.find(std::string(name));
    return it == headers.end() ? std::string() : it->second;
  };
  return r;
}

std::string header(const HttpResponse& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

TEST(Cors, OffByDefault) {
  const CorsPolicy off;
  EXPECT_FALSE(off.enabled());
  EXPECT_FALSE(off.allows("http://a.test"));
  const HttpRequest pre =
      request("OPTIONS", {{"Origin", "http://a.test"}, {"Access-Control-Request-Method", "POST"}});
  EXPECT_FALSE(off.is_preflight(pre));
  HttpResponse r;
  off.decorate(pre, r);
  EXPECT_TRUE(r.headers.empty());
}

TEST(Cors, AllowsTheListedOriginsExactlyIgnoringCase) {
  const CorsPolicy p(" https://App.example.com , http://localhost:3000,");
  EXPECT_TRUE(p.allows("https://app.example.com"));
  EXPECT_TRUE(p.allows("http://localhost:3000"));
  EXPECT_FALSE(p.allows("http://app.example.com"));  // another scheme
  EXPECT_FALSE(p.allows("http://localhost:3001"));   // another port
  EXPECT_FALSE(p.allows("https://app.example.com.evil.test"));
  EXPECT_FALSE(p.allows(""));
  EXPECT_FALSE(p.allows("null"));
  const CorsPolicy any("*");
  EXPECT_TRUE(any.allows("https://anything.test:8443"));
  EXPECT_FALSE(any.allows("null"));  // sandboxed frames and file: pages send "null"
}

TEST(Cors, MalformedOriginsAreConfigurationErrors) {
  for (const char* bad :
       {"app.example.com", "https://app.example.com/", "https://a.test/path", "://x", "https://"}) {
    EXPECT_THROW(CorsPolicy{bad}, std::invalid_argument) << bad;
  }
}

TEST(Cors, PreflightAnswersTheMethodsAndHeaders) {
  const CorsPolicy p("http://a.test");
  const HttpRequest pre =
      request("OPTIONS", {{"Origin", "http://a.test"}, {"Access-Control-Request-Method", "POST"}});
  ASSERT_TRUE(p.is_preflight(pre));
  EXPECT_FALSE(p.is_preflight(request("OPTIONS", {{"Origin", "http://a.test"}})));  // a plain OPTIONS
  const HttpResponse r = p.preflight(pre, {"DELETE", "GET"});
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(header(r, "Access-Control-Allow-Origin"), "http://a.test");
  EXPECT_EQ(header(r, "Access-Control-Allow-Methods"), "DELETE, GET, OPTIONS");
  EXPECT_NE(header(r, "Access-Control-Allow-Headers").find("Authorization"), std::string::npos);
  EXPECT_NE(header(r, "Access-Control-Allow-Headers").find("X-Api-Key"), std::string::npos);
  EXPECT_NE(header(r, "Vary").find("Origin"), std::string::npos);
  EXPECT_EQ(header(r, "Access-Control-Allow-Credentials"), "");
  try {
    p.preflight(request("OPTIONS", {{"Origin", "http://b.test"}, {"Access-Control-Request-Method", "POST"}}),
                {"POST"});
    FAIL() << "another origin's preflight was answered";
  } catch (const ApiException& e) {
    EXPECT_EQ(e.error().status(), 403);
    EXPECT_NE(e.error().message.find("http://b.test"), std::string::npos);
  }
}

TEST(Cors, DecoratesAllowedOriginsOnly) {
  const CorsPolicy p("http://a.test");
  HttpResponse r;
  p.decorate(request("POST", {{"Origin", "http://a.test"}}), r);
  EXPECT_EQ(header(r, "Access-Control-Allow-Origin"), "http://a.test");
  EXPECT_NE(header(r, "Access-Control-Expose-Headers").find("X-Request-Id"), std::string::npos);
  EXPECT_EQ(header(r, "Vary"), "Origin");
  HttpResponse other;
  p.decorate(request("POST", {{"Origin", "http://b.test"}}), other);
  p.decorate(request("POST", {}), other);
  EXPECT_TRUE(other.headers.empty());
}

}  // namespace
}  // namespace cutout::server
