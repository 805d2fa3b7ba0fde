// Fetching a client-given URL (remove.bg's image_url and bg_image_url, `--fetch-allow`). A server
// that fetches URLs for its clients is a server-side request forgery door (cloud metadata
// endpoints, internal admin pages), so this is off unless the operator names the hosts, and the
// rules are strict:
//   - http and https only; no user:password@ in the URL; no spaces, control characters or '\';
//     the host is letters, digits, '-' and '.' (no empty label, no trailing dot) or a bracketed
//     IPv6 literal; it must match the allow-list exactly (case-insensitive). The URL is parsed
//     here and the connection made to the parsed host and port, so no other parser's reading of
//     the URL can differ.
//   - Allow-list entries: `host`, `host:port`, `*.domain` (any subdomain, not the domain itself),
//     `*.domain:port`, `1.2.3.4`, `[::1]:8080`. Without a port, only the scheme's default port
//     (80, 443) is allowed. IP literals match as written (127.1 is not 127.0.0.1). The names on
//     the list are trusted to resolve where the operator means: DNS is not checked again.
//   - Redirects (301, 302, 303, 307, 308) are followed at most FetchLimits::max_redirects times,
//     each target checked like the first URL before any connection is made to it.
//   - One deadline for the whole fetch (redirects included), also enforced on a server that
//     answers a byte at a time; the body is read through a counter that stops at max_bytes.
//     Name resolution (getaddrinfo) blocks outside the deadline.
//   - Only a 2xx answer is a success.
// https verifies the certificate against the system's CA store when cpp-httplib has OpenSSL
// (Debian's has); without it https is refused with a message saying so.
//
// Thread-safety: everything here is stateless or const after construction; fetch_url may run on
// any number of threads at once (each call has its own connection and a watchdog thread).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace cutout::server {

// An absolute http(s) URL as the fetcher accepts it.
struct FetchUrl {
  std::string scheme;  // "http" or "https"
  std::string host;    // lower case; an IPv6 literal in its shortest form, in brackets ("[::1]")
  int port = 0;        // the URL's port, or the scheme's default
  std::string target;  // path and query, "/" at least; no fragment

  int default_port() const { return scheme == "https" ? 443 : 80; }
  // host, with ":port" unless it is the default: the Host header.
  std::string authority() const;
  // scheme://authority + target: the URL as fetched (for messages).
  std::string str() const;
};

// Parses `url` by the rules above. Throws std::invalid_argument saying what is wrong.
FetchUrl parse_fetch_url(std::string_view url);

// A redirect's Location (absolute, scheme-relative "//host/...", absolute-path "/..." or relative)
// resolved against the URL that answered it, then parsed by the same rules. Throws
// std::invalid_argument.
FetchUrl resolve_redirect(const FetchUrl& base, std::string_view location);

class FetchAllowList {
 public:
  // "" (off) or a comma list of the entries above (spaces around entries ignored). Throws
  // std::invalid_argument naming a malformed entry (a URL, a bare "*", a wildcard IP).
  explicit FetchAllowList(std::string_view hosts = "");

  bool enabled() const { return !entries_.empty(); }
  bool allows(const FetchUrl& url) const;

 private:
  struct Entry {
    std::string host;  // lower case; for a wildcard, the domain after "*."
    bool subdomains = false;
    int port = 0;  // 0: the scheme's default port
  };
  std::vector<Entry> entries_;
};

struct FetchLimits {
  uint64_t max_bytes = 25u << 20;  // the body; more is a kTooLarge failure
  double timeout_s = 10;           // the whole fetch, redirects included
  int max_redirects = 3;
};

// Why a fetch failed (the label of cutout_url_fetches_total, with "ok").
enum class FetchFailure { kInvalidUrl, kNotAllowed, kFailed, kTimeout, kHttpStatus, kTooLarge };
std::string_view fetch_failure_name(FetchFailure failure);

struct FetchError : std::runtime_error {
  FetchError(FetchFailure failure, const std::string& detail)
      : std::runtime_error(detail), failure(failure) {}
  FetchFailure failure;
};

// GETs `url` and returns its body. Throws FetchError: kInvalidUrl (parse_fetch_url refused it, or
// a redirect's Location), kNotAllowed (the host or a redirect's host is not on `allow`, or the list
// is off; nothing was connected to), kFailed (connection, TLS, too many redirects),
// kTimeout, kHttpStatus (not 2xx), kTooLarge (Content-Length or the bytes read over max_bytes).
std::string fetch_url(std::string_view url, const FetchAllowList& allow, const FetchLimits& limits);

}  // namespace cutout::server
