// Request traffic for the warmer: arrival times read from the service's own JSON request logs (its
// stdout lines, or a Cloud Logging export of them) or from a counts file, and the clock arithmetic
// the warmer needs (RFC 3339, local time of week in a time zone).
//
// Pure functions, apart from local_time(), which sets the process's TZ: call it from one thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cutout::warmer {

// Arrival times of process requests, seconds since the epoch (UTC), sorted.
struct Traffic {
  std::vector<double> arrivals;
  double first() const { return arrivals.empty() ? 0 : arrivals.front(); }
  double last() const { return arrivals.empty() ? 0 : arrivals.back(); }
};

// The counts format: a header line `time,requests`, then one row per minute that had requests,
// `time` in RFC 3339 UTC or unix seconds, `requests` a whole number >= 0. A minute's requests are
// spread evenly over it. Throws Error(kInvalidArgument) naming the line: no header, a bad time or
// count, a minute given twice.
Traffic parse_counts_csv(std::string_view text);

// The service's request log lines (JSON lines, or a JSON array as Cloud Logging exports them; an
// exported entry has the line under jsonPayload and its time in `timestamp`). Only process requests
// count (endpoint /api/v2/process); an arrival is the line's time less its httpRequest.latency.
// Other lines (model status, warm-ups, health checks) are skipped. Throws Error(kInvalidArgument)
// naming the line (or array entry) that is not JSON or has no readable time.
Traffic parse_request_logs(std::string_view text);

// Either of the above, by content: a first line `time,requests` is counts, anything else logs.
Traffic parse_traffic(std::string_view text);
// Reads the file; throws Error(kIo) when it cannot, Error(kInvalidArgument) with the file name.
Traffic load_traffic(const std::string& path);

// The counts format of a traffic (one row per minute with requests), for tools and tests.
std::string to_counts_csv(const Traffic& traffic);

// "2026-11-26T20:43:01Z", "2026-11-26T20:43:01.5+01:00", or unix seconds ("1764190981").
// Returns false when the text is none of those.
bool parse_time(std::string_view text, double* unix_seconds);
// RFC 3339 UTC with seconds: 2026-11-26T20:43:01Z.
std::string format_utc(double unix_seconds);

// A duration: "300", "300s", "5m", "1h30m", "2d". Throws Error(kInvalidArgument).
double parse_duration_s(std::string_view text);

// Local wall-clock time in an IANA zone ("Europe/Berlin"; "" or "UTC" for UTC).
struct LocalTime {
  int weekday = 0;        // 0 = Monday ... 6 = Sunday
  int minute_of_day = 0;  // 0..1439
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  long utc_offset_s = 0;
  std::string zone_abbreviation;  // "CET", "CEST", "UTC"
};
LocalTime local_time(double unix_seconds, const std::string& zone);
// Throws Error(kInvalidArgument) when the zone is not in the system's zoneinfo.
void check_zone(const std::string& zone);

}  // namespace cutout::warmer
