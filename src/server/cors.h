// Cross-origin resource sharing (SPEC §7, `--cors-origins`): lets a frontend on another origin
// warm and call the service. Off when no origin is configured: no CORS header is ever sent and a
// preflight OPTIONS gets 405 like any other method a path does not have.
//
// With origins configured, a request whose Origin is one of them (or any, with `*`) gets
// Access-Control-Allow-Origin (the origin itself, with Vary: Origin) and the headers a client
// reads exposed; a preflight (OPTIONS with Access-Control-Request-Method) on a known path is
// answered 204 before the API key is checked (browsers send no credentials on a preflight), and
// one from another origin is refused with 403. No credentials (cookies) are allowed: the API
// authenticates with headers.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "server/http_server.h"

namespace cutout::server {

class CorsPolicy {
 public:
  // "" (off), "*" (any origin) or a comma list of origins, each scheme://host[:port] with no path
  // (e.g. "https://app.example.com,http://localhost:3000"). Throws std::invalid_argument naming a
  // malformed entry.
  explicit CorsPolicy(std::string_view origins = "");

  bool enabled() const { return any_ || !origins_.empty(); }
  bool allows(std::string_view origin) const;

  // A preflight: OPTIONS carrying Access-Control-Request-Method, with CORS on.
  bool is_preflight(const HttpRequest& request) const;
  // The answer to a preflight on a path that exists: 204 with the allowed methods and headers,
  // or 403 (JSON, from `forbidden`) when the origin is not allowed.
  HttpResponse preflight(const HttpRequest& request, const std::vector<std::string>& methods) const;
  // Adds the response headers for the request's Origin, when it is allowed (else nothing).
  void decorate(const HttpRequest& request, HttpResponse& response) const;

 private:
  bool any_ = false;
  std::vector<std::string> origins_;  // lower case
};

}  // namespace cutout::server
