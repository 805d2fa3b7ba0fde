// Structured logs: one JSON object per line, in the form Cloud Logging reads from a container's stdout
// (severity, message, time, httpRequest, logging.googleapis.com/trace are its special fields).
//
// Thread-safety: a Logger may be used from any number of threads at once; each line is written with
// one fwrite and one fflush under the logger's mutex, so lines never interleave. The FILE it writes
// to must outlive it. The free functions are stateless and thread-safe.
#pragma once

#include <cstdint>
#include <cstdio>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace cutout::server {

enum class Severity { kDebug, kInfo, kWarning, kError };

// "debug", "info", "warning", "error" (any case); throws std::invalid_argument naming the four.
Severity parse_severity(std::string_view name);
// Cloud Logging's name of a severity: DEBUG, INFO, WARNING, ERROR.
std::string_view severity_name(Severity severity);

class Logger {
 public:
  explicit Logger(FILE* out = stdout, Severity min_severity = Severity::kInfo);

  // Whether a line of this severity would be written; lets callers skip building costly fields.
  bool enabled(Severity severity) const { return severity >= min_severity_; }

  // Writes one line (when severity >= the minimum): a JSON object with "severity", "message", "time"
  // (RFC 3339 UTC with nanoseconds, e.g. 2026-11-26T20:43:01.123456789Z), then the members of
  // `fields` merged in. Those three keys belong to the logger: a field of the same name is dropped.
  // A `fields` that is neither an object nor null is kept whole under "fields". Invalid UTF-8 in the
  // message or the fields is replaced by U+FFFD rather than throwing.
  void log(Severity severity, std::string_view message,
           const nlohmann::json& fields = nlohmann::json::object());
  void debug(std::string_view message, const nlohmann::json& fields = nlohmann::json::object()) {
    log(Severity::kDebug, message, fields);
  }
  void info(std::string_view message, const nlohmann::json& fields = nlohmann::json::object()) {
    log(Severity::kInfo, message, fields);
  }
  void warning(std::string_view message, const nlohmann::json& fields = nlohmann::json::object()) {
    log(Severity::kWarning, message, fields);
  }
  void error(std::string_view message, const nlohmann::json& fields = nlohmann::json::object()) {
    log(Severity::kError, message, fields);
  }

 private:
  FILE* const out_;
  const Severity min_severity_;
  std::mutex mutex_;
};

// RFC 3339 UTC: 2026-11-26T20:43:01Z, or with nanoseconds (>= 0) 2026-11-26T20:43:01.123456789Z.
std::string rfc3339_utc(int64_t unix_seconds, long nanoseconds = -1);
// The current time as RFC 3339 UTC with nanoseconds.
std::string rfc3339_utc_now();

// Cloud Logging's httpRequest object. requestMethod, requestUrl, status, responseSize (a string: it
// is an int64, which Cloud Logging takes as a string) and latency ("0.123s": seconds with up to nine
// decimals, no trailing zeros; negative or NaN as "0s") are always present; remoteIp and userAgent
// only when known (non-empty).
struct HttpRequestLog {
  std::string method;
  std::string url;
  int status = 0;
  uint64_t response_size = 0;
  double latency_s = 0;
  std::string remote_ip;
  std::string user_agent;
};
nlohmann::json http_request_json(const HttpRequestLog& r);

// The "logging.googleapis.com/trace" value for an X-Cloud-Trace-Context header "TRACE_ID/SPAN_ID;o=1"
// (span and options optional): "projects/<project>/traces/<TRACE_ID>" when project is non-empty, else
// the bare TRACE_ID. nullopt when the header is empty or malformed: the trace id must be 32 hex
// characters and not all zero, the span id decimal, the options "o=" and digits.
std::optional<std::string> cloud_trace(std::string_view header, std::string_view project);

}  // namespace cutout::server
