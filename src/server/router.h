// The route table of the HTTP API, and what a route's handler is given and reports.
//
// A handler is a function of the request and a RequestInfo; it returns the response, or throws
// ApiException for an error (Service::handle turns it into SPEC §3's JSON). Adding an endpoint
// is one Router::add() in Service's constructor and the handler itself.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/http_server.h"

namespace cutout::server {

// What a handler learnt about its request, for the access log and the metrics.
struct RequestInfo {
  std::string request_id;
  std::string endpoint;              // the route's label, e.g. "/api/v2/process"; "other" for no route
  bool cold_start = false;           // waited for the model
  nlohmann::json timings = nullptr;  // timings_ms of a process request
  std::string error_code;            // of an error response
  // A streamed answer: set by a route instead of HttpResponse::stream. It runs after the headers
  // (status 200) and records its outcome here: `outcome_status` is the status of the error that
  // ended the stream (e.g. 504), or 200. The access log and metrics are written when it ends, so
  // a stream's duration and errors are counted like any other request's.
  std::function<void(EventSink&, RequestInfo&)> stream;
  int outcome_status = 200;
};

using RouteHandler = std::function<HttpResponse(HttpRequest&, RequestInfo&)>;

class Router {
 public:
  // `pattern` is a path, or a prefix ending in a variable last segment ("/s/{id}"), which matches
  // every path that starts with the prefix. `label` names the route in metrics and logs (default:
  // the pattern).
  void add(const std::string& method, const std::string& pattern, RouteHandler handler,
           std::string label = "");

  struct Match {
    const RouteHandler* handler = nullptr;  // null: no route for this method and path
    bool path_known = false;                // another method has one: 405 rather than 404
    std::string endpoint;                   // the label; "other" when the path is unknown
    std::vector<std::string> methods;       // every method the path has, sorted (for Allow and CORS)
  };
  Match match(const std::string& method, const std::string& path) const;

 private:
  struct Route {
    RouteHandler handler;
    std::string label;
  };
  // The pattern a path falls under: a prefix pattern's, or the path itself.
  std::string pattern_of(const std::string& path) const;

  std::map<std::pair<std::string, std::string>, Route> routes_;  // (method, pattern)
  std::map<std::string, std::string> prefixes_;                  // "/s/" -> "/s/{id}"
};

}  // namespace cutout::server
