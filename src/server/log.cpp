#include "server/log.h"

#include <time.h>

#include <cctype>
#include <charconv>
#include <cmath>
#include <stdexcept>

#include "server/http_parse.h"

namespace cutout::server {
namespace {

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

}  // namespace

Severity parse_severity(std::string_view name) {
  std::string lower = lowercase(name);
  if (lower == "debug") return Severity::kDebug;
  if (lower == "info") return Severity::kInfo;
  if (lower == "warning") return Severity::kWarning;
  if (lower == "error") return Severity::kError;
  throw std::invalid_argument("unknown log severity '" + std::string(name) +
                              "' (expected debug, info, warning or error)");
}

std::string_view severity_name(Severity severity) {
  switch (severity) {
    case Severity::kDebug:
      return "DEBUG";
    case Severity::kInfo:
      return "INFO";
    case Severity::kWarning:
      return "WARNING";
    case Severity::kError:
      return "ERROR";
  }
  return "DEFAULT";  // Cloud Logging's name for "no severity"; unreachable with a valid enum
}

std::string rfc3339_utc(int64_t unix_seconds, long nanoseconds) {
  const time_t t = static_cast<time_t>(unix_seconds);
  tm utc{};
  gmtime_r(&t, &utc);
  char buf[64];
  size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &utc);
  if (nanoseconds >= 0) n += snprintf(buf + n, sizeof buf - n, ".%09ld", nanoseconds);
  snprintf(buf + n, sizeof buf - n, "Z");
  return buf;
}

std::string rfc3339_utc_now() {
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  return rfc3339_utc(now.tv_sec, now.tv_nsec);
}

Logger::Logger(FILE* out, Severity min_severity) : out_(out), min_severity_(min_severity) {}

void Logger::log(Severity severity, std::string_view message, const nlohmann::json& fields) {
  if (!enabled(severity)) return;
  // ordered_json keeps severity, message and time first, which makes the raw lines readable.
  nlohmann::ordered_json line;
  line["severity"] = severity_name(severity);
  line["message"] = std::string(message);
  line["time"] = rfc3339_utc_now();
  if (fields.is_object()) {
    for (const auto& [key, value] : fields.items()) {
      if (key == "severity" || key == "message" || key == "time") continue;
      line[key] = nlohmann::ordered_json(value);
    }
  } else if (!fields.is_null()) {
    line["fields"] = nlohmann::ordered_json(fields);
  }
  // Strings are stored unchecked; only dump() validates UTF-8, and `replace` makes it substitute
  // U+FFFD instead of throwing, so a bad byte in a header or file name cannot lose the line.
  std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  text += '\n';
  std::lock_guard lock(mutex_);
  fwrite(text.data(), 1, text.size(), out_);
  fflush(out_);
}

nlohmann::json http_request_json(const HttpRequestLog& r) {
  // Cloud Logging's Duration: decimal seconds with an "s"; %.9f keeps nanoseconds, then the trailing
  // zeros go ("0.123000000" -> "0.123", "2.000000000" -> "2").
  std::string latency = "0";
  if (std::isfinite(r.latency_s) && r.latency_s > 0) {
    char buf[64];
    snprintf(buf, sizeof buf, "%.9f", r.latency_s);
    latency = buf;
    latency.erase(latency.find_last_not_of('0') + 1);
    if (latency.back() == '.') latency.pop_back();
  }
  nlohmann::json j = {
      {"requestMethod", r.method}, {"requestUrl", r.url},
      {"status", r.status},        {"responseSize", std::to_string(r.response_size)},
      {"latency", latency + "s"},
  };
  if (!r.remote_ip.empty()) j["remoteIp"] = r.remote_ip;
  if (!r.user_agent.empty()) j["userAgent"] = r.user_agent;
  return j;
}

std::optional<std::string> cloud_trace(std::string_view header, std::string_view project) {
  // HTTP allows blanks around a header value; some proxies keep them.
  while (!header.empty() && (header.front() == ' ' || header.front() == '\t')) header.remove_prefix(1);
  while (!header.empty() && (header.back() == ' ' || header.back() == '\t')) header.remove_suffix(1);
  if (header.size() < 32) return std::nullopt;
  std::string_view trace_id = header.substr(0, 32);
  bool all_zero = true;
  for (char c : trace_id) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
    if (c != '0') all_zero = false;
  }
  if (all_zero) return std::nullopt;  // the "invalid" trace id of W3C and OpenTelemetry

  std::string_view rest = header.substr(32);
  if (!rest.empty() && rest.front() == '/') {
    size_t end = rest.find(';');
    std::string_view span = rest.substr(1, end == std::string_view::npos ? std::string_view::npos : end - 1);
    uint64_t span_id = 0;
    auto [ptr, ec] = std::from_chars(span.data(), span.data() + span.size(), span_id);
    if (!all_digits(span) || ec != std::errc() || ptr != span.data() + span.size()) return std::nullopt;
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  }
  if (!rest.empty() && !(rest.substr(0, 3) == ";o=" && all_digits(rest.substr(3)))) return std::nullopt;

  if (project.empty()) return std::string(trace_id);
  return "projects/" + std::string(project) + "/traces/" + std::string(trace_id);
}

}  // namespace cutout::server
