#include "server/log.h"

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <limits>
#include <regex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace cutout::server {
namespace {

using nlohmann::json;

// A temporary file the logger writes to, read back after logging.
class Capture {
 public:
  Capture() : file_(std::tmpfile()) {}
  ~Capture() {
    if (file_) std::fclose(file_);
  }
  FILE* file() const { return file_; }
  std::string text() const {
    std::fseek(file_, 0, SEEK_SET);
    std::string out;
    char buf[4096];
    for (size_t n; (n = std::fread(buf, 1, sizeof buf, file_)) > 0;) out.append(buf, n);
    std::fseek(file_, 0, SEEK_END);
    return out;
  }
  std::vector<std::string> lines() const {
    std::vector<std::string> out;
    std::string all = text();
    for (size_t start = 0, end; start < all.size(); start = end + 1) {
      end = all.find('\n', start);
      if (end == std::string::npos) {
        ADD_FAILURE() << "last line has no newline";
        end = all.size();
      }
      out.push_back(all.substr(start, end - start));
    }
    return out;
  }

 private:
  FILE* file_;
};

const std::regex kTimeRegex(R"(^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z$)");

// Seconds since the epoch of an RFC 3339 UTC time, whole seconds.
time_t parse_utc(const std::string& t) {
  std::tm tm{};
  EXPECT_NE(strptime(t.c_str(), "%Y-%m-%dT%H:%M:%S", &tm), nullptr) << t;
  return timegm(&tm);
}

TEST(Logger, WritesOneJsonObjectPerLineWithTheRequiredFields) {
  Capture capture;
  Logger logger(capture.file());
  logger.info("hello");
  std::vector<std::string> lines = capture.lines();
  ASSERT_EQ(lines.size(), 1u);
  json line = json::parse(lines[0]);
  ASSERT_TRUE(line.is_object());
  EXPECT_EQ(line.size(), 3u);
  EXPECT_EQ(line.at("severity"), "INFO");
  EXPECT_EQ(line.at("message"), "hello");
  EXPECT_TRUE(std::regex_match(line.at("time").get<std::string>(), kTimeRegex)) << line.at("time");
  // The three first, for people reading raw lines.
  EXPECT_EQ(lines[0].rfind(R"({"severity":"INFO","message":"hello","time":")", 0), 0u) << lines[0];
}

TEST(Logger, TimeIsRfc3339UtcWithNanosecondsAndNow) {
  const std::string t = rfc3339_utc_now();
  EXPECT_TRUE(std::regex_match(t, kTimeRegex)) << t;
  EXPECT_LE(std::abs(parse_utc(t) - std::time(nullptr)), 2) << t;
  // Nanoseconds really vary (not a zero-padded millisecond or microsecond clock).
  std::set<std::string> nanos;
  for (int i = 0; i < 20; ++i) nanos.insert(rfc3339_utc_now().substr(20, 9));
  bool sub_microsecond = false;
  for (const std::string& n : nanos) sub_microsecond |= n.substr(6) != "000";
  EXPECT_TRUE(sub_microsecond);
}

TEST(Logger, MergesFieldsButKeepsItsOwnKeys) {
  Capture capture;
  Logger logger(capture.file());
  json fields = {{"endpoint", "/api/v2/process"},
                 {"request_id", "r-1"},
                 {"timings_ms", {{"total", 3.5}}},
                 {"gpu_memory_used", nullptr},
                 {"severity", "DEBUG"},
                 {"message", "not this"},
                 {"time", "yesterday"}};
  logger.warning("done", fields);
  json line = json::parse(capture.lines().at(0));
  EXPECT_EQ(line.at("severity"), "WARNING");
  EXPECT_EQ(line.at("message"), "done");
  EXPECT_TRUE(std::regex_match(line.at("time").get<std::string>(), kTimeRegex));
  EXPECT_EQ(line.at("endpoint"), "/api/v2/process");
  EXPECT_EQ(line.at("request_id"), "r-1");
  EXPECT_EQ(line.at("timings_ms").at("total"), 3.5);
  EXPECT_TRUE(line.at("gpu_memory_used").is_null());
  EXPECT_EQ(line.size(), 7u);
}

TEST(Logger, NonObjectFieldsAreKeptWhole) {
  Capture capture;
  Logger logger(capture.file());
  logger.info("array", json::array({1, 2}));
  logger.info("null", nullptr);
  std::vector<std::string> lines = capture.lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(json::parse(lines[0]).at("fields"), json::array({1, 2}));
  EXPECT_FALSE(json::parse(lines[1]).contains("fields"));
}

TEST(Logger, SeverityFilter) {
  Capture capture;
  Logger logger(capture.file(), Severity::kWarning);
  EXPECT_FALSE(logger.enabled(Severity::kInfo));
  EXPECT_TRUE(logger.enabled(Severity::kError));
  logger.debug("d");
  logger.info("i");
  logger.warning("w");
  logger.error("e");
  logger.log(Severity::kInfo, "i2");
  std::vector<std::string> lines = capture.lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(json::parse(lines[0]).at("severity"), "WARNING");
  EXPECT_EQ(json::parse(lines[1]).at("severity"), "ERROR");

  Capture all;
  Logger debug_logger(all.file(), Severity::kDebug);
  debug_logger.debug("d");
  ASSERT_EQ(all.lines().size(), 1u);
  EXPECT_EQ(json::parse(all.lines()[0]).at("severity"), "DEBUG");

  Capture defaults;
  Logger default_logger(defaults.file());  // info and above
  default_logger.debug("d");
  default_logger.info("i");
  EXPECT_EQ(defaults.lines().size(), 1u);
}

TEST(Severity, ParsesTheFourNamesAndRejectsOthers) {
  EXPECT_EQ(parse_severity("debug"), Severity::kDebug);
  EXPECT_EQ(parse_severity("info"), Severity::kInfo);
  EXPECT_EQ(parse_severity("warning"), Severity::kWarning);
  EXPECT_EQ(parse_severity("error"), Severity::kError);
  EXPECT_EQ(parse_severity("WARNING"), Severity::kWarning);
  EXPECT_EQ(severity_name(Severity::kWarning), "WARNING");
  for (const char* bad : {"", "warn", "fatal", "info "}) {
    try {
      parse_severity(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("debug, info, warning or error"), std::string::npos) << e.what();
    }
  }
}

TEST(Logger, ConcurrentLinesNeverInterleave) {
  Capture capture;
  Logger logger(capture.file(), Severity::kDebug);
  constexpr int kThreads = 8, kLines = 1000;
  // Long lines make a torn write likely if the logger did not write each line at once.
  const std::string padding(300, 'x');
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kLines; ++i) logger.info("line", {{"thread", t}, {"i", i}, {"padding", padding}});
    });
  }
  for (auto& th : threads) th.join();
  std::vector<std::string> lines = capture.lines();
  ASSERT_EQ(lines.size(), size_t{kThreads} * kLines);
  std::set<std::pair<int, int>> seen;
  for (const std::string& l : lines) {
    json line;
    ASSERT_NO_THROW(line = json::parse(l)) << l;
    ASSERT_EQ(line.at("padding"), padding);
    seen.emplace(line.at("thread").get<int>(), line.at("i").get<int>());
  }
  EXPECT_EQ(seen.size(), size_t{kThreads} * kLines);
}

TEST(Logger, InvalidUtf8IsReplacedNotThrown) {
  Capture capture;
  Logger logger(capture.file());
  ASSERT_NO_THROW(logger.error("bad \xff\xfe end", {{"file\xc3", "name\x80.jpg"}, {"ok", "caf\xc3\xa9"}}));
  std::vector<std::string> lines = capture.lines();
  ASSERT_EQ(lines.size(), 1u);
  json line;
  ASSERT_NO_THROW(line = json::parse(lines[0])) << lines[0];
  const std::string replacement = "\xEF\xBF\xBD";  // U+FFFD
  const std::string message = line.at("message");
  EXPECT_EQ(message.rfind("bad ", 0), 0u);
  EXPECT_NE(message.find(replacement), std::string::npos);
  EXPECT_EQ(message.substr(message.size() - 4), " end");
  EXPECT_EQ(line.at("ok"), "caf\xc3\xa9");  // valid UTF-8 untouched
  EXPECT_TRUE(line.contains("file" + replacement));
  EXPECT_EQ(line.at("file" + replacement), "name" + replacement + ".jpg");
}

TEST(Logger, ControlCharactersStayOnOneLine) {
  Capture capture;
  Logger logger(capture.file());
  logger.info("two\nlines\r\tand \"quotes\"", {{"k", "a\nb"}});
  std::vector<std::string> lines = capture.lines();
  ASSERT_EQ(lines.size(), 1u);
  json line = json::parse(lines[0]);
  EXPECT_EQ(line.at("message"), "two\nlines\r\tand \"quotes\"");
  EXPECT_EQ(line.at("k"), "a\nb");
}

TEST(HttpRequestJson, HasCloudLoggingFields) {
  HttpRequestLog r{"POST", "/api/v2/process?effects=bw", 200, 123456, 0.123, "10.0.0.1", "curl/8.0"};
  json j = http_request_json(r);
  EXPECT_EQ(j, json({{"requestMethod", "POST"},
                     {"requestUrl", "/api/v2/process?effects=bw"},
                     {"status", 200},
                     {"responseSize", "123456"},
                     {"latency", "0.123s"},
                     {"remoteIp", "10.0.0.1"},
                     {"userAgent", "curl/8.0"}}));
  EXPECT_TRUE(j.at("status").is_number_integer());
}

TEST(HttpRequestJson, OmitsUnknownPeerAndWritesBigSizesAsStrings) {
  HttpRequestLog r;
  r.method = "GET";
  r.url = "/healthz";
  r.status = 503;
  r.response_size = std::numeric_limits<uint64_t>::max();
  json j = http_request_json(r);
  EXPECT_EQ(j.at("responseSize"), "18446744073709551615");
  EXPECT_EQ(j.at("latency"), "0s");
  EXPECT_FALSE(j.contains("remoteIp"));
  EXPECT_FALSE(j.contains("userAgent"));
  EXPECT_EQ(j.size(), 5u);
}

TEST(HttpRequestJson, FormatsLatencyAsDecimalSeconds) {
  const std::pair<double, const char*> cases[] = {
      {0.123, "0.123s"},
      {0, "0s"},
      {2, "2s"},
      {1.5, "1.5s"},
      {1e-9, "0.000000001s"},
      {12.3456789012, "12.345678901s"},
      {60.25, "60.25s"},
      {-1, "0s"},
      {std::numeric_limits<double>::quiet_NaN(), "0s"},
  };
  for (const auto& [seconds, expected] : cases) {
    HttpRequestLog r;
    r.latency_s = seconds;
    EXPECT_EQ(http_request_json(r).at("latency"), expected) << seconds;
  }
}

TEST(CloudTrace, BuildsTheTraceFieldFromTheHeader) {
  const std::string id = "105445aa7843bc8bf206b12000100000";
  EXPECT_EQ(cloud_trace(id + "/1;o=1", "my-proj"), "projects/my-proj/traces/" + id);
  EXPECT_EQ(cloud_trace(id + "/1;o=1", ""), id);
  EXPECT_EQ(cloud_trace(id, "p"), "projects/p/traces/" + id);
  EXPECT_EQ(cloud_trace(id + "/18446744073709551615", "p"), "projects/p/traces/" + id);
  EXPECT_EQ(cloud_trace(id + ";o=0", "p"), "projects/p/traces/" + id);
  EXPECT_EQ(cloud_trace(" " + id + "/5;o=1\t", "p"), "projects/p/traces/" + id);
  EXPECT_EQ(cloud_trace("105445AA7843BC8BF206B12000100000/1", ""), "105445AA7843BC8BF206B12000100000");
}

TEST(CloudTrace, RejectsMalformedHeaders) {
  const std::string id = "105445aa7843bc8bf206b12000100000";
  for (const std::string& bad : {
           std::string(), std::string("   "),
           id.substr(1) + "/1;o=1",          // 31 hex
           id + "0/1;o=1",                   // 33 hex
           "g" + id.substr(1) + "/1",        // not hex
           std::string(32, '0') + "/1;o=1",  // the invalid all-zero id
           id + "/abc;o=1",                  // span not decimal
           id + "/;o=1",                     // empty span
           id + "/-1",                       // negative span
           id + "/18446744073709551616",     // span over uint64
           id + "/1;o=",                     // empty options
           id + "/1;x=1",                    // unknown option
           id + "/1;o=1 junk",               // trailing junk
       }) {
    EXPECT_EQ(cloud_trace(bad, "p"), std::nullopt) << "'" << bad << "'";
  }
}

}  // namespace
}  // namespace cutout::server
