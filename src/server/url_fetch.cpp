#include "server/url_fetch.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include <httplib.h>

#include "server/http_parse.h"

namespace cutout::server {
namespace {

using Clock = std::chrono::steady_clock;

// A DNS name (letters, digits, '-', no empty label) or a dotted IPv4 address, in lower case; or
// nullopt.
std::optional<std::string> parse_name(std::string_view s) {
  if (s.empty() || s.size() > 253) return std::nullopt;
  std::string out = lowercase(s);
  size_t label = 0;
  for (size_t i = 0; i <= out.size(); ++i) {
    if (i == out.size() || out[i] == '.') {
      if (label == 0 || label > 63) return std::nullopt;  // "a..b", ".a", "a." or a 64-byte label
      label = 0;
    } else if (std::isalnum(static_cast<unsigned char>(out[i])) || out[i] == '-') {
      ++label;
    } else {
      return std::nullopt;
    }
  }
  return out;
}

// The inside of "[...]" as an IPv6 address in its canonical text form, bracketed; or nullopt.
std::optional<std::string> parse_ipv6(std::string_view s) {
  if (s.empty() || s.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  const std::string text(s);
  in6_addr addr{};
  if (inet_pton(AF_INET6, text.c_str(), &addr) != 1) return std::nullopt;  // zone ids fail here too
  char buffer[INET6_ADDRSTRLEN];
  if (!inet_ntop(AF_INET6, &addr, buffer, sizeof buffer)) return std::nullopt;
  std::string out = "[";  // (not "[" + std::string: g++ 12 warns falsely, -Wrestrict)
  out.append(buffer).append("]");
  return out;
}

// "host", "host:port", "[v6]" or "[v6]:port" into host and port (0 when absent). Throws
// std::invalid_argument.
void parse_host_port(std::string_view s, std::string& host, int& port) {
  std::string_view port_text;
  std::optional<std::string> parsed;
  if (!s.empty() && s.front() == '[') {
    const size_t close = s.find(']');
    if (close == std::string_view::npos) throw std::invalid_argument("an IPv6 address without its ']'");
    parsed = parse_ipv6(s.substr(1, close - 1));
    if (!parsed)
      throw std::invalid_argument("'" + std::string(s.substr(0, close + 1)) + "' is not an IPv6 address");
    const std::string_view rest = s.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') throw std::invalid_argument("unexpected text after the IPv6 address");
      port_text = rest.substr(1);
      if (port_text.empty()) throw std::invalid_argument("an empty port");
    }
  } else {
    const size_t colon = s.find(':');
    if (colon != std::string_view::npos) {
      if (s.find(':', colon + 1) != std::string_view::npos)
        throw std::invalid_argument("write an IPv6 address in brackets, e.g. [::1]:8080");
      port_text = s.substr(colon + 1);
      if (port_text.empty()) throw std::invalid_argument("an empty port");
      s = s.substr(0, colon);
    }
    parsed = parse_name(s);
    if (!parsed) {
      throw std::invalid_argument("'" + std::string(s) +
                                  "' is not a host name (letters, digits, '-' and '.'; no empty label)");
    }
  }
  host = *parsed;
  port = 0;
  if (!port_text.empty()) {
    const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || port < 1 || port > 65535)
      throw std::invalid_argument("the port must be 1-65535");
  }
}

// The target as sent: spaces and bytes over 0x7f percent-encoded (the rest is checked already).
std::string encode_target(std::string_view target) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : target) {
    if (c >= 0x80) {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

// httplib's error in words.
std::string describe(httplib::Error error) {
  switch (error) {
    case httplib::Error::Connection:
      return "could not connect (name not found, refused or unreachable)";
    case httplib::Error::Read:
      return "the connection broke while reading the answer";
    case httplib::Error::Write:
      return "the connection broke while sending the request";
    case httplib::Error::SSLConnection:
      return "the TLS handshake failed";
    case httplib::Error::SSLServerVerification:
      return "its TLS certificate is not trusted (or not for this host)";
    case httplib::Error::SSLLoadingCerts:
      return "the system's CA certificates could not be loaded";
    default:
      return httplib::to_string(error);
  }
}

bool is_redirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

std::string format_seconds(double s) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", s);
  return text;
}

std::string format_bytes(uint64_t n) {
  if (n >= (1u << 20) && n % (1u << 20) == 0) return std::to_string(n >> 20) + " MiB";
  if (n >= (1u << 10) && n % (1u << 10) == 0) return std::to_string(n >> 10) + " KiB";
  return std::to_string(n) + " bytes";
}

// Calls client.stop() at the deadline unless disarmed first: shuts the socket down under a
// server that is slow to connect, to send its headers, or to send its body.
class Watchdog {
 public:
  Watchdog(httplib::ClientImpl& client, Clock::time_point deadline)
      : thread_([this, &client, deadline] {
          std::unique_lock<std::mutex> lock(mutex_);
          if (!done_cv_.wait_until(lock, deadline, [this] { return done_; })) {
            fired_ = true;
            client.stop();
          }
        }) {}
  ~Watchdog() { disarm(); }
  // After this, stop() is never called; true when it already was.
  bool disarm() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done_ = true;
    }
    done_cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    return fired_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable done_cv_;
  bool done_ = false;
  bool fired_ = false;
  std::thread thread_;
};

struct Hop {
  std::string body;
  int status = 0;
  std::string location;  // of a redirect
};

// One GET of an allowed URL, without following redirects.
Hop get_once(const FetchUrl& url, const FetchLimits& limits, Clock::time_point deadline) {
  std::unique_ptr<httplib::ClientImpl> client;
  const std::string connect_host =
      url.host.front() == '[' ? url.host.substr(1, url.host.size() - 2) : url.host;
  if (url.scheme == "https") {
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
    auto tls = std::make_unique<httplib::SSLClient>(connect_host, url.port);
    tls->enable_server_certificate_verification(true);
    client = std::move(tls);
#else
    throw FetchError(FetchFailure::kInvalidUrl,
                     "https is not supported by this build (cpp-httplib without OpenSSL)");
#endif
  } else {
    client = std::make_unique<httplib::ClientImpl>(connect_host, url.port);
  }
  const auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - Clock::now());
  if (left.count() <= 0) throw FetchError(FetchFailure::kTimeout, "");
  client->set_connection_timeout(left);
  client->set_read_timeout(left);
  client->set_write_timeout(left);
  client->set_keep_alive(false);
  client->set_follow_location(false);
  client->set_url_encode(false);  // the target is checked and encoded here
  const httplib::Headers headers = {{"Host", url.authority()},
                                    {"User-Agent", "cutout/" CUTOUT_VERSION},
                                    {"Accept", "image/*"},
                                    {"Accept-Encoding", "identity"}};
  Hop hop;
  bool too_large = false;
  bool late = false;
  auto response_handler = [&](const httplib::Response& response) {
    hop.status = response.status;
    if (is_redirect(response.status)) {
      hop.location = response.get_header_value("Location");
      return false;  // its body is not wanted
    }
    if (response.status < 200 || response.status > 299) return false;
    const std::string length = response.get_header_value("Content-Length");
    uint64_t n = 0;
    const auto [end, ec] = std::from_chars(length.data(), length.data() + length.size(), n);
    if (!length.empty() && ec == std::errc() && end == length.data() + length.size() &&
        n > limits.max_bytes) {
      too_large = true;
      return false;
    }
    return true;
  };
  auto receiver = [&](const char* data, size_t n) {
    if (Clock::now() >= deadline) {
      late = true;
      return false;
    }
    if (hop.body.size() + n > limits.max_bytes) {
      too_large = true;
      return false;
    }
    hop.body.append(data, n);
    return true;
  };
  Watchdog watchdog(*client, deadline);
  const httplib::Result result = client->Get(encode_target(url.target), headers, response_handler, receiver);
  late = watchdog.disarm() || late;
  if (result) {  // the whole body was read
    hop.status = result->status;
    return hop;
  }
  if (too_large) {
    throw FetchError(FetchFailure::kTooLarge, "the image at " + url.str() + " is over the " +
                                                  format_bytes(limits.max_bytes) + " limit");
  }
  if (hop.status != 0 && (is_redirect(hop.status) || hop.status < 200 || hop.status > 299)) return hop;
  if (late || result.error() == httplib::Error::ConnectionTimeout ||
      (result.error() == httplib::Error::Read && Clock::now() >= deadline)) {
    throw FetchError(FetchFailure::kTimeout, "");
  }
  throw FetchError(FetchFailure::kFailed,
                   "could not download " + url.str() + ": " + describe(result.error()));
}

}  // namespace

std::string FetchUrl::authority() const {
  return port == default_port() ? host : host + ":" + std::to_string(port);
}

std::string FetchUrl::str() const {
  return scheme + "://" + authority() + target;
}

FetchUrl parse_fetch_url(std::string_view url) {
  for (const unsigned char c : url) {
    if (c <= 0x20 || c == 0x7f) throw std::invalid_argument("the URL has spaces or control characters");
    if (c == '\\') throw std::invalid_argument("the URL has a '\\'");
  }
  const size_t sep = url.find("://");
  const size_t colon = url.find(':');
  if (colon == std::string_view::npos || sep != colon)
    throw std::invalid_argument("not an absolute URL (http://host/path)");
  FetchUrl out;
  out.scheme = lowercase(url.substr(0, sep));
  if (out.scheme != "http" && out.scheme != "https")
    throw std::invalid_argument("only http and https URLs are fetched, not " + out.scheme + ":");
  std::string_view rest = url.substr(sep + 3);
  rest = rest.substr(0, rest.find('#'));  // the fragment is the client's, never sent
  const size_t authority_end = std::min(rest.find('/'), rest.find('?'));
  const std::string_view authority = rest.substr(0, authority_end);
  if (authority.find('@') != std::string_view::npos)
    throw std::invalid_argument("user names and passwords (user@host) are not allowed in the URL");
  if (authority.empty()) throw std::invalid_argument("the URL has no host");
  parse_host_port(authority, out.host, out.port);
  if (out.port == 0) out.port = out.default_port();
  out.target = authority_end == std::string_view::npos ? "/" : std::string(rest.substr(authority_end));
  if (out.target.front() == '?') out.target.insert(out.target.begin(), '/');
  return out;
}

FetchUrl resolve_redirect(const FetchUrl& base, std::string_view location) {
  if (location.empty()) throw std::invalid_argument("a redirect without a Location");
  // An absolute URL starts with a scheme (letters, digits, + - .) and ':' before any / ? #.
  const size_t colon = location.find(':');
  const size_t first_delimiter = location.find_first_of("/?#");
  if (colon != std::string_view::npos && colon < first_delimiter && colon > 0 &&
      std::isalpha(static_cast<unsigned char>(location[0]))) {
    return parse_fetch_url(location);
  }
  const std::string origin = base.scheme + "://" + base.authority();
  if (location.substr(0, 2) == "//") return parse_fetch_url(base.scheme + ":" + std::string(location));
  if (location.front() == '/') return parse_fetch_url(origin + std::string(location));
  const std::string path = base.target.substr(0, base.target.find('?'));
  if (location.front() == '?' || location.front() == '#')
    return parse_fetch_url(origin + path + std::string(location));
  return parse_fetch_url(origin + path.substr(0, path.rfind('/') + 1) + std::string(location));
}

FetchAllowList::FetchAllowList(std::string_view hosts) {
  while (!hosts.empty()) {
    const size_t comma = hosts.find(',');
    const std::string_view raw = trim_space(hosts.substr(0, comma));
    hosts = comma == std::string_view::npos ? std::string_view() : hosts.substr(comma + 1);
    if (raw.empty()) continue;
    auto bad = [&](const std::string& why) {
      return std::invalid_argument("entry '" + std::string(raw) + "': " + why);
    };
    if (raw.find('/') != std::string_view::npos || raw.find('@') != std::string_view::npos)
      throw bad("a host name or IP address, optionally with :port, not a URL");
    Entry e;
    std::string_view host = raw;
    if (host.substr(0, 2) == "*.") {
      e.subdomains = true;
      host.remove_prefix(2);
    } else if (host.find('*') != std::string_view::npos) {
      throw bad("'*' only as a leading '*.' (subdomains of a domain); list the hosts to allow");
    }
    try {
      parse_host_port(host, e.host, e.port);
    } catch (const std::invalid_argument& error) {
      throw bad(error.what());
    }
    if (e.subdomains && (e.host.front() == '[' || std::all_of(e.host.begin(), e.host.end(), [](char c) {
                           return std::isdigit(static_cast<unsigned char>(c)) || c == '.';
                         }))) {
      throw bad("'*.' needs a domain name, not an IP address");
    }
    entries_.push_back(std::move(e));
  }
}

bool FetchAllowList::allows(const FetchUrl& url) const {
  const std::string host = lowercase(url.host);
  return std::any_of(entries_.begin(), entries_.end(), [&](const Entry& e) {
    if (url.port != (e.port == 0 ? url.default_port() : e.port)) return false;
    if (!e.subdomains) return host == e.host;
    return host.size() > e.host.size() + 1 &&
           host.compare(host.size() - e.host.size(), e.host.size(), e.host) == 0 &&
           host[host.size() - e.host.size() - 1] == '.';
  });
}

std::string_view fetch_failure_name(FetchFailure failure) {
  switch (failure) {
    case FetchFailure::kInvalidUrl:
      return "invalid_url";
    case FetchFailure::kNotAllowed:
      return "not_allowed";
    case FetchFailure::kFailed:
      return "failed";
    case FetchFailure::kTimeout:
      return "timeout";
    case FetchFailure::kHttpStatus:
      return "http_status";
    case FetchFailure::kTooLarge:
      return "too_large";
  }
  return "failed";
}

std::string fetch_url(std::string_view text, const FetchAllowList& allow, const FetchLimits& limits) {
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(limits.timeout_s));
  auto parse = [](auto&& f) {
    try {
      return f();
    } catch (const std::invalid_argument& e) {
      throw FetchError(FetchFailure::kInvalidUrl, e.what());
    }
  };
  FetchUrl url = parse([&] { return parse_fetch_url(text); });
  for (int redirects = 0;; ++redirects) {
    if (!allow.allows(url)) {
      throw FetchError(FetchFailure::kNotAllowed,
                       (redirects ? "the redirect to " : "") + url.authority() +
                           " is not on this server's fetch allow-list (--fetch-allow)");
    }
    Hop hop;
    try {
      hop = get_once(url, limits, deadline);
    } catch (const FetchError& e) {
      if (e.failure != FetchFailure::kTimeout) throw;
      throw FetchError(FetchFailure::kTimeout, "could not download " + url.str() + " within the " +
                                                   format_seconds(limits.timeout_s) +
                                                   " s limit (--fetch-timeout-s)");
    }
    if (hop.status >= 200 && hop.status <= 299) {
      if (hop.body.empty()) {
        throw FetchError(FetchFailure::kFailed, "could not download " + url.str() + ": it answered HTTP " +
                                                    std::to_string(hop.status) + " with no body");
      }
      return std::move(hop.body);
    }
    if (!is_redirect(hop.status)) {
      throw FetchError(FetchFailure::kHttpStatus, "could not download " + url.str() + ": it answered HTTP " +
                                                      std::to_string(hop.status));
    }
    if (redirects == limits.max_redirects) {
      throw FetchError(FetchFailure::kFailed, "could not download " + url.str() + ": more than " +
                                                  std::to_string(limits.max_redirects) + " redirects");
    }
    url = parse([&] { return resolve_redirect(url, hop.location); });
  }
}

}  // namespace cutout::server
