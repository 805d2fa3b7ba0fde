// TEST-ONLY: what the end-to-end tests of `cutout serve` share: test inputs (a real photo,
// header-only pixel bombs), HTTP helpers (raw posts, server-sent events, plain sockets, metrics and
// status), and the checks of SPEC §3 and §5 that several tests make (error bodies, results,
// timings, request log lines).
//
// Stateless functions; the expect_* ones report through GoogleTest and must run on a test's thread.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <httplib.h>
#include <zlib.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "prometheus_text.h"
#include "server_fixture.h"
#include "test_support.h"

namespace cutout::e2e {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using nlohmann::json;
using testing::ServerOptions;
using testing::ServerProcess;
using Samples = std::map<std::string, double>;
using server::parse_prometheus_text;
using server::prometheus_sample_or;
using server::prometheus_series_key;

constexpr const char* kUserAgent = "cutout-e2e/1";

inline std::string as_string(const std::vector<uint8_t>& bytes) {
  return {bytes.begin(), bytes.end()};
}

// A real photo, 600x450 JPEG: inference runs at the model's 1024x1024 whatever the size, and the
// effects and encoders stay cheap.
inline const std::string& photo() {
  static const std::string bytes =
      as_string(testing::read_file(testing::eval_dir() / "grabcut" / "images" / "person1.jpg"));
  return bytes;
}
constexpr int kPhotoWidth = 600, kPhotoHeight = 450;

// A small synthetic JPEG (under the error test's 64 KiB body limit).
inline std::string small_jpeg() {
  cv::Mat rgb = testing::make_test_rgb(160, 120), bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  std::vector<uint8_t> out;
  cv::imencode(".jpg", bgr, out);
  return as_string(out);
}

inline cv::Mat decode(const std::string& bytes) {
  return cv::imdecode(std::vector<uint8_t>(bytes.begin(), bytes.end()), cv::IMREAD_UNCHANGED);
}

inline std::string base64_decode(const std::string& in) {
  static const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    const size_t v = alphabet.find(c);
    if (v == std::string::npos) throw std::runtime_error("not base64");
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

inline uint32_t crc32(const std::string& data) {
  return static_cast<uint32_t>(
      ::crc32(0, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size())));
}

inline std::string be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

// A PNG that is only a header claiming width x height pixels: a decompression bomb's first bytes.
inline std::string png_header_bomb(uint32_t width, uint32_t height) {
  auto chunk = [](const std::string& type, const std::string& data) {
    return be32(static_cast<uint32_t>(data.size())) + type + data + be32(crc32(type + data));
  };
  const std::string ihdr = be32(width) + be32(height) + std::string("\x08\x02\x00\x00\x00", 5);
  return std::string("\x89PNG\r\n\x1a\n", 8) + chunk("IHDR", ihdr) + chunk("IEND", "");
}

// A real small JPEG whose frame header (SOF0) is patched to claim width x height.
inline std::string jpeg_header_bomb(uint16_t width, uint16_t height) {
  std::string jpeg = small_jpeg();
  const size_t sof = jpeg.find("\xff\xc0");
  if (sof == std::string::npos) throw std::runtime_error("no SOF0 marker");
  jpeg[sof + 5] = static_cast<char>(height >> 8);
  jpeg[sof + 6] = static_cast<char>(height & 0xff);
  jpeg[sof + 7] = static_cast<char>(width >> 8);
  jpeg[sof + 8] = static_cast<char>(width & 0xff);
  return jpeg;
}

inline Samples scrape(const ServerProcess& server) {
  auto res = server.client().Get("/metrics");
  if (!res || res->status != 200) throw std::runtime_error("GET /metrics failed");
  return parse_prometheus_text(res->body);
}

inline double sample(const Samples& s, const std::string& name,
                     std::vector<std::pair<std::string, std::string>> labels = {}) {
  return prometheus_sample_or(s, prometheus_series_key(name, std::move(labels)), 0);
}

inline double requests(const Samples& s, const std::string& endpoint, int code) {
  return sample(s, "cutout_requests_total", {{"endpoint", endpoint}, {"code", std::to_string(code)}});
}

inline ServerOptions with_args(std::vector<std::string> args) {
  ServerOptions options;
  options.args = std::move(args);
  return options;
}

inline httplib::Headers ua(httplib::Headers extra = {}) {
  extra.emplace("User-Agent", kUserAgent);
  return extra;
}

inline httplib::Result post_image(httplib::Client& c, const std::string& target, const std::string& body,
                                  httplib::Headers headers = {},
                                  const std::string& type = "application/octet-stream") {
  return c.Post(target.c_str(), ua(std::move(headers)), body, type.c_str());
}

// The names in a ZIP answer, from Python's zipfile (which also tests every entry's CRC); fails
// the test when the archive is not valid.
inline std::string zip_listing(const std::string& body) {
  const auto file =
      std::filesystem::temp_directory_path() / ("cutout-e2e-" + std::to_string(getpid()) + ".zip");
  testing::write_file(file, std::vector<uint8_t>(body.begin(), body.end()));
  std::string listing;
  EXPECT_EQ(testing::run_command("/usr/bin/python3 -m zipfile -t " + file.string() +
                                     " && /usr/bin/python3 -m zipfile -l " + file.string(),
                                 &listing),
            0)
      << listing;
  std::filesystem::remove(file);
  return listing;
}

// Checks an error answer: the status, the JSON body {"error":{"code","message"},"request_id"} and
// the X-Request-Id header matching it. Returns the body.
inline json expect_api_error(const httplib::Result& res, int status, const std::string& code) {
  if (!res) {
    ADD_FAILURE() << "no response: " << httplib::to_string(res.error());
    return {};
  }
  EXPECT_EQ(res->status, status) << res->body;
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
  json body = json::parse(res->body, nullptr, false);
  EXPECT_TRUE(body.is_object()) << res->body;
  if (!body.is_object()) return {};
  EXPECT_EQ(body.size(), 2u) << res->body;
  EXPECT_EQ(body["error"].value("code", ""), code) << res->body;
  EXPECT_FALSE(body["error"].value("message", "").empty()) << res->body;
  EXPECT_EQ(body["error"].size(), 2u) << res->body;
  EXPECT_FALSE(body.value("request_id", "").empty());
  EXPECT_EQ(res->get_header_value("X-Request-Id"), body.value("request_id", "")) << res->body;
  return body;
}

inline void expect_alive(ServerProcess& server, const std::string& after) {
  auto res = server.client(5s).Get("/healthz");
  ASSERT_TRUE(res) << "the server died after " << after << "\n" << server.stderr_text();
  EXPECT_EQ(res->status, 200) << "after " << after;
}

inline void expect_timings(const json& t, const std::set<std::string>& effects) {
  ASSERT_TRUE(t.is_object()) << t;
  for (const char* key : {"queue", "decode", "inference", "encode", "total"}) {
    ASSERT_TRUE(t.contains(key) && t[key].is_number()) << key << " in " << t;
    EXPECT_GE(t[key].get<double>(), 0) << key;
  }
  ASSERT_TRUE(t.at("effects").is_object()) << t;
  std::set<std::string> keys;
  for (const auto& [k, v] : t.at("effects").items()) keys.insert(k);
  EXPECT_EQ(keys, effects);
  EXPECT_GT(t.at("inference").get<double>(), 0);
  EXPECT_GE(t.at("total").get<double>(), t.at("inference").get<double>());
}

// A JSON process result: its fields, and each output decoded. Returns the decoded outputs.
inline std::map<std::string, cv::Mat> expect_result(const json& r, const std::set<std::string>& outputs,
                                                    int width, int height) {
  std::map<std::string, cv::Mat> images;
  std::set<std::string> keys;
  for (const auto& [key, value] : r.items()) keys.insert(key);
  EXPECT_EQ(keys, (std::set<std::string>{"request_id", "model", "width", "height", "cold_start", "timings_ms",
                                         "outputs"}));
  EXPECT_FALSE(r.value("request_id", "").empty());
  EXPECT_EQ(r.value("model", ""), "isnet-qdq");
  EXPECT_EQ(r.value("width", 0), width);
  EXPECT_EQ(r.value("height", 0), height);
  EXPECT_TRUE(r.contains("cold_start") && r.at("cold_start").is_boolean());
  std::set<std::string> effects = outputs;
  effects.erase("mask");
  expect_timings(r.at("timings_ms"), effects);
  std::set<std::string> names;
  for (const auto& [name, out] : r.at("outputs").items()) {
    names.insert(name);
    const std::string bytes = base64_decode(out.value("data", ""));
    EXPECT_EQ(out.value("bytes", 0u), bytes.size()) << name;
    cv::Mat image = decode(bytes);
    EXPECT_FALSE(image.empty()) << name << " does not decode";
    EXPECT_EQ(image.cols, width) << name;
    EXPECT_EQ(image.rows, height) << name;
    const std::string mime = out.value("mime", "");
    const std::map<std::string, std::pair<size_t, std::string>> magic = {
        {"image/png", {1, "PNG"}}, {"image/jpeg", {0, "\xff\xd8"}}, {"image/webp", {8, "WEBP"}}};
    if (!magic.count(mime)) {
      ADD_FAILURE() << name << ": unexpected mime " << mime;
      continue;
    }
    EXPECT_EQ(bytes.substr(magic.at(mime).first, magic.at(mime).second.size()), magic.at(mime).second)
        << name;
    images[name] = image;
  }
  EXPECT_EQ(names, outputs);
  return images;
}

struct SseEvent {
  std::string name;
  json data;
  double at_s = 0;  // arrival, seconds after the request was sent
};
struct SseResponse {
  int status = 0;
  std::string content_type;
  std::vector<SseEvent> events;
};

// POSTs the raw image and reads the answer as server-sent events while they arrive.
inline SseResponse post_sse(httplib::Client& c, const std::string& target, const std::string& body) {
  SseResponse out;
  std::string pending;
  const auto t0 = Clock::now();
  httplib::Request req;
  req.method = "POST";
  req.path = target;
  req.body = body;
  req.headers = ua({{"Content-Type", "application/octet-stream"}});
  req.response_handler = [&](const httplib::Response& r) {
    out.status = r.status;
    out.content_type = r.get_header_value("Content-Type");
    return true;
  };
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    pending.append(data, n);
    for (size_t end; (end = pending.find("\n\n")) != std::string::npos; pending.erase(0, end + 2)) {
      SseEvent e;
      e.at_s = std::chrono::duration<double>(Clock::now() - t0).count();
      std::istringstream block(pending.substr(0, end));
      for (std::string line; std::getline(block, line);) {
        if (line.rfind("event: ", 0) == 0) e.name = line.substr(7);
        if (line.rfind("data: ", 0) == 0) e.data = json::parse(line.substr(6), nullptr, false);
      }
      out.events.push_back(std::move(e));
    }
    return true;
  };
  auto res = c.send(req);
  EXPECT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_TRUE(pending.empty()) << "unterminated event: " << pending;
  return out;
}

inline std::vector<std::string> event_names(const SseResponse& r) {
  std::vector<std::string> names;
  for (const auto& e : r.events) names.push_back(e.name);
  return names;
}

// A plain TCP connection to the server; -1 when refused.
inline int connect_to(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

inline json status_of(const ServerProcess& server) {
  auto res = server.client(5s).Get("/api/v2/status");
  if (!res || res->status != 200) throw std::runtime_error("GET /api/v2/status failed");
  return json::parse(res->body);
}

// Polls /api/v2/status until `field` reaches `value`; false after the timeout.
inline bool wait_status(const ServerProcess& server, const std::string& field, int value,
                        std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (status_of(server).value(field, -1) == value) return true;
    std::this_thread::sleep_for(5ms);
  }
  return false;
}

inline const json* find_request_log(const std::vector<json>& lines, const std::string& request_id) {
  for (const auto& l : lines) {
    if (l.value("request_id", "") == request_id && l.contains("httpRequest")) return &l;
  }
  return nullptr;
}

inline size_t index_of(const std::vector<json>& lines, const std::function<bool(const json&)>& match) {
  for (size_t i = 0; i < lines.size(); ++i)
    if (match(lines[i])) return i;
  return lines.size();
}

inline auto message_is(const std::string& message) {
  return [message](const json& l) { return l.value("message", "") == message; };
}

// Every field SPEC §5 asks of a request's log line.
// `outcome`: a stream's status as counted (its status line said `status`); -1: the same.
inline void expect_request_log_line(const json& l, const std::string& method, const std::string& url,
                                    int status, int outcome = -1) {
  SCOPED_TRACE(l.dump());
  const json& h = l.at("httpRequest");
  EXPECT_EQ(h.value("requestMethod", ""), method);
  EXPECT_EQ(h.value("requestUrl", ""), url);
  EXPECT_EQ(h.value("status", 0), status);
  EXPECT_TRUE(h.contains("responseSize") && h["responseSize"].is_string());
  EXPECT_TRUE(std::regex_match(h.value("latency", ""), std::regex(R"(\d+(\.\d{1,9})?s)")));
  EXPECT_EQ(h.value("remoteIp", ""), "127.0.0.1");
  EXPECT_FALSE(h.value("userAgent", "").empty());
  for (const char* key :
       {"endpoint", "request_id", "model_status", "cold_start", "timings_ms", "gpu_memory_used"}) {
    EXPECT_TRUE(l.contains(key)) << key;
  }
  EXPECT_TRUE(l.at("gpu_memory_used").is_null());  // no GPU in these tests
  EXPECT_TRUE(l.at("cold_start").is_boolean());
  // Errors are warnings (4xx) or errors (5xx); a 503 from /readyz is an answer, not an error.
  if (outcome < 0) outcome = status;
  const char* severity = !l.contains("error_code") ? "INFO" : outcome >= 500 ? "ERROR" : "WARNING";
  EXPECT_EQ(l.value("severity", ""), severity);
}

}  // namespace cutout::e2e
