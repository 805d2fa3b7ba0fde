#include "warmer/traffic.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "server/log.h"

namespace cutout::warmer {
namespace {

[[noreturn]] void bad(const std::string& where, const std::string& what) {
  throw Error(ErrorCode::kInvalidArgument, where + ": " + what);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool parse_int(std::string_view s, long long* out) {
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size() && !s.empty();
}

bool digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

bool parse_rfc3339(std::string_view s, double* out) {
  int y, mo, d, h, mi, sec;
  if (!digits(s, 0, 4, &y) || s.size() < 20 || s[4] != '-' || !digits(s, 5, 2, &mo) || s[7] != '-' ||
      !digits(s, 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !digits(s, 11, 2, &h) ||
      s[13] != ':' || !digits(s, 14, 2, &mi) || s[16] != ':' || !digits(s, 17, 2, &sec)) {
    return false;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return false;
  size_t pos = 19;
  double fraction = 0;
  if (pos < s.size() && s[pos] == '.') {
    double scale = 0.1;
    ++pos;
    const size_t start = pos;
    while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) {
      fraction += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start) return false;
  }
  long offset = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (!digits(s, pos + 1, 2, &oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !digits(s, pos + 4, 2, &om)) {
      return false;
    }
    offset = (oh * 3600L + om * 60L) * (s[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return false;  // RFC 3339 requires a zone
  }
  if (pos != s.size()) return false;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  *out = static_cast<double>(timegm(&tm) - offset) + fraction;
  return true;
}

// Calls fn(line_number, trimmed line) for each non-empty line.
template <typename Fn>
void for_each_line(std::string_view text, Fn&& fn) {
  size_t line_no = 0, pos = 0;
  while (pos <= text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    const std::string_view line = trim(text.substr(pos, eol - pos));
    pos = eol + 1;
    ++line_no;
    if (!line.empty()) fn(line_no, line);
  }
}

// Cloud Logging's "0.123s" latency, 0 when absent or unreadable.
double latency_s(const nlohmann::json& http) {
  if (!http.is_object() || !http.contains("latency") || !http["latency"].is_string()) return 0;
  std::string text = http["latency"].get<std::string>();
  if (text.empty() || text.back() != 's') return 0;
  text.pop_back();
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  return end && *end == 0 && std::isfinite(v) && v > 0 ? v : 0;
}

// One log entry: adds its arrival when it is a process request. `where` names it in errors.
void add_log_entry(const nlohmann::json& entry, const std::string& where, std::vector<double>& arrivals) {
  if (!entry.is_object()) bad(where, "a log entry must be a JSON object");
  const bool exported = entry.contains("jsonPayload");
  const nlohmann::json& payload = exported ? entry["jsonPayload"] : entry;
  // Not value("endpoint", ""): it throws json's type_error when the endpoint is not a string.
  if (!payload.is_object() || !payload.contains("endpoint") || payload["endpoint"] != "/api/v2/process") {
    return;
  }
  const char* time_key = exported ? "timestamp" : "time";
  if (!entry.contains(time_key) || !entry[time_key].is_string())
    bad(where, std::string("no \"") + time_key + "\"");
  double t = 0;
  if (!parse_rfc3339(entry[time_key].get<std::string>(), &t)) {
    bad(where, std::string("\"") + time_key + "\" is not RFC 3339: " + entry[time_key].get<std::string>());
  }
  // The log line is written when the answer is; the request arrived its latency earlier.
  const nlohmann::json& http = exported ? entry.value("httpRequest", nlohmann::json())
                                        : payload.value("httpRequest", nlohmann::json());
  arrivals.push_back(t - latency_s(http));
}

}  // namespace

bool parse_time(std::string_view text, double* unix_seconds) {
  text = trim(text);
  long long whole = 0;
  if (parse_int(text, &whole)) {
    *unix_seconds = static_cast<double>(whole);
    return whole >= 0;
  }
  return parse_rfc3339(text, unix_seconds);
}

std::string format_utc(double unix_seconds) {
  return server::rfc3339_utc(static_cast<int64_t>(std::floor(unix_seconds)));
}

Traffic parse_counts_csv(std::string_view text) {
  std::vector<double> arrivals;
  std::map<long long, size_t> minute_line;  // minute -> line, to refuse a minute given twice
  bool header = false;
  for_each_line(text, [&](size_t line_no, std::string_view line) {
    const std::string where = "line " + std::to_string(line_no);
    if (!header) {
      if (line != "time,requests") bad(where, "the counts format starts with the header `time,requests`");
      header = true;
      return;
    }
    const size_t comma = line.find(',');
    if (comma == std::string_view::npos || line.find(',', comma + 1) != std::string_view::npos) {
      bad(where, "want two fields, time,requests: " + std::string(line));
    }
    double t = 0;
    if (!parse_time(line.substr(0, comma), &t)) {
      bad(where, "the time is neither RFC 3339 (2026-11-02T08:03:00Z) nor unix seconds: " +
                     std::string(line.substr(0, comma)));
    }
    long long n = 0;
    if (!parse_int(trim(line.substr(comma + 1)), &n) || n < 0 || n > 1'000'000) {
      bad(where, "requests must be a whole number from 0 to 1000000: " + std::string(line.substr(comma + 1)));
    }
    const auto minute = static_cast<long long>(std::floor(t / 60));
    if (auto [it, inserted] = minute_line.emplace(minute, line_no); !inserted) {
      bad(where, "minute " + format_utc(static_cast<double>(minute) * 60) + " is also on line " +
                     std::to_string(it->second));
    }
    for (long long i = 0; i < n; ++i) {
      arrivals.push_back(static_cast<double>(minute) * 60 +
                         (static_cast<double>(i) + 0.5) * 60 / static_cast<double>(n));
    }
  });
  if (!header) bad("line 1", "empty: the counts format starts with the header `time,requests`");
  std::sort(arrivals.begin(), arrivals.end());
  return Traffic{std::move(arrivals)};
}

Traffic parse_request_logs(std::string_view text) {
  std::vector<double> arrivals;
  const std::string_view body = trim(text);
  if (!body.empty() && body.front() == '[') {
    nlohmann::json all;
    try {
      all = nlohmann::json::parse(body);
    } catch (const nlohmann::json::exception& e) {
      bad("the JSON array", std::string("not JSON: ") + e.what());
    }
    for (size_t i = 0; i < all.size(); ++i) add_log_entry(all[i], "entry " + std::to_string(i + 1), arrivals);
  } else {
    for_each_line(text, [&](size_t line_no, std::string_view line) {
      nlohmann::json entry;
      try {
        entry = nlohmann::json::parse(line);
      } catch (const nlohmann::json::exception&) {
        bad("line " + std::to_string(line_no), "not a JSON log line: " + std::string(line.substr(0, 60)));
      }
      add_log_entry(entry, "line " + std::to_string(line_no), arrivals);
    });
  }
  std::sort(arrivals.begin(), arrivals.end());
  return Traffic{std::move(arrivals)};
}

Traffic parse_traffic(std::string_view text) {
  if (trim(text).empty()) bad("line 1", "empty: no traffic (want counts `time,requests` or JSON log lines)");
  const std::string_view first = trim(text.substr(0, text.find('\n')));
  return first == "time,requests" ? parse_counts_csv(text) : parse_request_logs(text);
}

Traffic load_traffic(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::kIo, "cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  try {
    return parse_traffic(text.str());
  } catch (const Error& e) {
    throw Error(e.code(), path + ": " + e.what());
  }
}

std::string to_counts_csv(const Traffic& traffic) {
  std::map<long long, int> per_minute;
  for (double t : traffic.arrivals) ++per_minute[static_cast<long long>(std::floor(t / 60))];
  std::string out = "time,requests\n";
  for (const auto& [minute, n] : per_minute)
    out += format_utc(static_cast<double>(minute) * 60) + "," + std::to_string(n) + "\n";
  return out;
}

double parse_duration_s(std::string_view text) {
  const std::string_view s = trim(text);
  if (s.empty()) throw Error(ErrorCode::kInvalidArgument, "empty duration");
  double total = 0;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t end = pos;
    while (end < s.size() && (std::isdigit(static_cast<unsigned char>(s[end])) || s[end] == '.')) ++end;
    if (end == pos)
      throw Error(ErrorCode::kInvalidArgument,
                  "bad duration '" + std::string(s) + "' (e.g. 300, 90s, 5m, 1h30m)");
    const double v = std::strtod(std::string(s.substr(pos, end - pos)).c_str(), nullptr);
    double unit = 1;
    if (end < s.size()) {
      switch (s[end]) {
        case 's':
          unit = 1;
          break;
        case 'm':
          unit = 60;
          break;
        case 'h':
          unit = 3600;
          break;
        case 'd':
          unit = 86400;
          break;
        default:
          throw Error(ErrorCode::kInvalidArgument,
                      "bad duration unit in '" + std::string(s) + "' (s, m, h, d)");
      }
      ++end;
    } else if (pos != 0) {
      throw Error(ErrorCode::kInvalidArgument,
                  "bad duration '" + std::string(s) + "': a unit after every number");
    }
    total += v * unit;
    pos = end;
  }
  return total;
}

void check_zone(const std::string& zone) {
  if (zone.empty() || zone == "UTC") return;
  const std::filesystem::path file = std::filesystem::path("/usr/share/zoneinfo") / zone;
  std::error_code ec;
  if (zone.find("..") != std::string::npos || !std::filesystem::is_regular_file(file, ec)) {
    throw Error(ErrorCode::kInvalidArgument,
                "unknown time zone '" + zone + "' (an IANA name, e.g. Europe/Berlin)");
  }
}

LocalTime local_time(double unix_seconds, const std::string& zone) {
  static std::string current = "\x01";
  if (zone != current) {
    const std::string tz = zone.empty() ? "UTC" : zone;
    setenv("TZ", (":" + tz).c_str(), 1);
    tzset();
    current = zone;
  }
  const auto t = static_cast<std::time_t>(std::floor(unix_seconds));
  std::tm tm{};
  localtime_r(&t, &tm);
  LocalTime lt;
  lt.weekday = (tm.tm_wday + 6) % 7;
  lt.minute_of_day = tm.tm_hour * 60 + tm.tm_min;
  lt.year = tm.tm_year + 1900;
  lt.month = tm.tm_mon + 1;
  lt.day = tm.tm_mday;
  lt.hour = tm.tm_hour;
  lt.minute = tm.tm_min;
  lt.second = tm.tm_sec;
  lt.utc_offset_s = tm.tm_gmtoff;
  lt.zone_abbreviation = tm.tm_zone ? tm.tm_zone : "";
  return lt;
}

}  // namespace cutout::warmer
