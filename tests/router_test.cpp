// The route table (src/server/router.h): exact paths, prefix patterns, 404 against 405, labels.
#include "server/router.h"

#include <gtest/gtest.h>

namespace cutout::server {
namespace {

RouteHandler answering(int status) {
  return [status](HttpRequest&, RequestInfo&) {
    HttpResponse r;
    r.status = status;
    return r;
  };
}

int call(const Router::Match& m) {
  HttpRequest request;
  RequestInfo info;
  return (*m.handler)(request, info).status;
}

Router table() {
  Router router;
  router.add("GET", "/healthz", answering(200));
  router.add("POST", "/api/v2/process", answering(201));
  router.add("GET", "/s/{id}", answering(202));
  router.add("DELETE", "/s/{id}", answering(203));
  router.add("GET", "/static/{file}", answering(204), "/static");
  return router;
}

TEST(Router, ExactPathsFindTheirHandler) {
  const Router router = table();
  const auto m = router.match("GET", "/healthz");
  ASSERT_NE(m.handler, nullptr);
  EXPECT_EQ(call(m), 200);
  EXPECT_EQ(m.endpoint, "/healthz");
  EXPECT_EQ(call(router.match("POST", "/api/v2/process")), 201);
}

TEST(Router, PrefixPatternsMatchEveryPathUnderThemByMethod) {
  const Router router = table();
  const auto get = router.match("GET", "/s/abc123");
  ASSERT_NE(get.handler, nullptr);
  EXPECT_EQ(call(get), 202);
  EXPECT_EQ(get.endpoint, "/s/{id}");
  EXPECT_EQ(call(router.match("DELETE", "/s/abc123")), 203);
  const auto file = router.match("GET", "/static/app.js");
  ASSERT_NE(file.handler, nullptr);
  EXPECT_EQ(file.endpoint, "/static") << "the label given";
}

TEST(Router, UnknownPathsAreOtherAndKnownPathsWithAnotherMethodAre405) {
  const Router router = table();
  const auto unknown = router.match("GET", "/nope");
  EXPECT_EQ(unknown.handler, nullptr);
  EXPECT_FALSE(unknown.path_known);
  EXPECT_EQ(unknown.endpoint, "other") << "unbounded label values would blow up the metrics";
  const auto wrong_method = router.match("GET", "/api/v2/process");
  EXPECT_EQ(wrong_method.handler, nullptr);
  EXPECT_TRUE(wrong_method.path_known);
  EXPECT_EQ(wrong_method.endpoint, "/api/v2/process");
  const auto wrong_on_prefix = router.match("PUT", "/s/abc");
  EXPECT_TRUE(wrong_on_prefix.path_known);
  EXPECT_EQ(wrong_on_prefix.endpoint, "/s/{id}");
}

TEST(Router, ExactMatchesNeedTheWholePath) {
  const Router router = table();
  EXPECT_EQ(router.match("GET", "/healthz/").handler, nullptr);
  EXPECT_EQ(router.match("GET", "/healthzz").handler, nullptr);
  EXPECT_EQ(router.match("GET", "/s").handler, nullptr) << "the prefix is /s/";
  EXPECT_EQ(router.match("get", "/healthz").handler, nullptr) << "methods are case-sensitive";
}

TEST(Router, AMatchListsEveryMethodOfItsPath) {
  const Router router = table();
  EXPECT_EQ(router.match("OPTIONS", "/s/abc").methods, (std::vector<std::string>{"DELETE", "GET"}));
  EXPECT_EQ(router.match("GET", "/s/abc").methods, (std::vector<std::string>{"DELETE", "GET"}));
  EXPECT_EQ(router.match("GET", "/api/v2/process").methods, std::vector<std::string>{"POST"});
  EXPECT_TRUE(router.match("GET", "/nowhere").methods.empty());
}

}  // namespace
}  // namespace cutout::server
