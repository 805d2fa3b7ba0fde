#include "server/cors.h"

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "server/api_error.h"
#include "server/http_parse.h"

namespace cutout::server {
namespace {

// What a cross-origin client may send and read. Everything the API takes in a header, and every
// header of ours a client reads (the image answer's size and output name, the queue's
// Retry-After, the request id).
constexpr const char* kAllowHeaders =
    "Authorization, Content-Type, Accept, X-Api-Key, X-Request-Id, X-Delete-Token";
constexpr const char* kExposeHeaders =
    "X-Request-Id, X-Cutout-Output, X-Cutout-Width, X-Cutout-Height, Retry-After, Content-Disposition, "
    "X-Width, "
    "X-Height, X-Type, X-Foreground-Top, X-Foreground-Left, X-Foreground-Width, X-Foreground-Height, "
    "X-Credits-Charged";
constexpr const char* kMaxAgeSeconds = "600";

// scheme://host[:port], as browsers send Origin: no path, query, user or trailing slash.
bool is_origin(std::string_view s) {
  const size_t sep = s.find("://");
  if (sep == std::string_view::npos || sep == 0) return false;
  for (char c : s.substr(0, sep)) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') return false;
  }
  const std::string_view rest = s.substr(sep + 3);
  if (rest.empty()) return false;
  return std::all_of(rest.begin(), rest.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' || c == '[' ||
           c == ']';
  });
}

}  // namespace

CorsPolicy::CorsPolicy(std::string_view origins) {
  while (!origins.empty()) {
    const size_t comma = origins.find(',');
    const std::string_view entry = trim_space(origins.substr(0, comma));
    origins = comma == std::string_view::npos ? std::string_view{} : origins.substr(comma + 1);
    if (entry.empty()) continue;
    if (entry == "*") {
      any_ = true;
    } else if (is_origin(entry)) {
      origins_.push_back(lowercase(entry));
    } else {
      throw std::invalid_argument("'" + std::string(entry) +
                                  "' is not an origin (scheme://host[:port], no path), nor *");
    }
  }
}

bool CorsPolicy::allows(std::string_view origin) const {
  if (origin.empty() || !enabled()) return false;
  if (any_) return is_origin(origin);
  return std::find(origins_.begin(), origins_.end(), lowercase(origin)) != origins_.end();
}

bool CorsPolicy::is_preflight(const HttpRequest& request) const {
  return enabled() && request.method == "OPTIONS" && !request.header("Access-Control-Request-Method").empty();
}

HttpResponse CorsPolicy::preflight(const HttpRequest& request,
                                   const std::vector<std::string>& methods) const {
  const std::string origin = request.header("Origin");
  if (!allows(origin)) {
    throw ApiException(ApiCode::kForbidden,
                       "origin " + (origin.empty() ? std::string("(none)") : "'" + origin + "'") +
                           " is not allowed to call this service (--cors-origins)");
  }
  HttpResponse r;
  r.status = 204;
  std::string allow;
  for (const std::string& m : methods) allow += (allow.empty() ? "" : ", ") + m;
  r.headers = {{"Access-Control-Allow-Origin", origin},
               {"Access-Control-Allow-Methods", allow + (allow.empty() ? "" : ", ") + "OPTIONS"},
               {"Access-Control-Allow-Headers", kAllowHeaders},
               {"Access-Control-Max-Age", kMaxAgeSeconds},
               {"Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"}};
  return r;
}

void CorsPolicy::decorate(const HttpRequest& request, HttpResponse& response) const {
  const std::string origin = request.header("Origin");
  if (!allows(origin)) return;
  for (const auto& [k, v] : response.headers) {
    if (lowercase(k) == "access-control-allow-origin") return;  // a preflight's own
  }
  response.headers.emplace_back("Access-Control-Allow-Origin", origin);
  response.headers.emplace_back("Access-Control-Expose-Headers", kExposeHeaders);
  response.headers.emplace_back("Vary", "Origin");
}

}  // namespace cutout::server
