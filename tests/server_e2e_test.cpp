// End-to-end tests of `cutout serve` (SPEC §3, §5, §6): the real binary with the real model on a
// free port, a real HTTP client. Each test starts its own server (~2-4 s with the warm-up), so the
// tests are few and each checks a whole story.
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <future>
#include <latch>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "inference/ort_core.h"
#include "server_e2e_helpers.h"
#include "server_fixture.h"
#include "test_support.h"

namespace cutout {
namespace {

using namespace e2e;  // NOLINT: the tests' vocabulary

// /healthz, /readyz, /api/v2/status, /api/v2/warmup and /metrics through the model's lifecycle; a
// request that arrives while the model loads waits for it and is the cold one.
TEST(ServerE2E, ColdStartReadinessWarmupStatusAndMetrics) {
  ServerOptions options;
  options.wait_ready = false;
  ServerProcess server(options);
  auto c = server.client();

  auto health = c.Get("/healthz", ua());
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(json::parse(health->body), json({{"status", "ok"}}));
  EXPECT_FALSE(health->get_header_value("X-Request-Id").empty());
  const std::set<std::string> not_yet = {"loading", "warming"};
  auto ready = c.Get("/readyz", ua());
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 503);
  EXPECT_TRUE(not_yet.count(json::parse(ready->body).value("status", ""))) << ready->body;
  json early = status_of(server);
  EXPECT_TRUE(not_yet.count(early.value("model_status", ""))) << early;
  EXPECT_TRUE(early["cold_start_ms"].is_null()) << early;
  auto ping = c.Post("/api/v2/warmup?wait=false", ua(), "", "text/plain");
  ASSERT_TRUE(ping);
  EXPECT_EQ(ping->status, 202);
  EXPECT_TRUE(not_yet.count(json::parse(ping->body).value("status", ""))) << ping->body;

  // A process request now waits for the model; a warm-up ping waits until it is ready.
  auto cold = std::async(std::launch::async, [&] {
    auto client = server.client();
    return post_image(client, "/api/v2/process?effects=color", photo(), {{"X-Request-Id", "e2e-cold"}});
  });
  auto waited = c.Post("/api/v2/warmup", ua(), "", "text/plain");
  ASSERT_TRUE(waited);
  EXPECT_EQ(waited->status, 200);
  EXPECT_EQ(json::parse(waited->body), json({{"status", "ready"}}));
  auto cold_res = cold.get();
  ASSERT_TRUE(cold_res);
  ASSERT_EQ(cold_res->status, 200) << cold_res->body;
  const json cold_body = json::parse(cold_res->body);
  EXPECT_EQ(cold_body.value("cold_start", false), true);
  expect_result(cold_body, {"color"}, kPhotoWidth, kPhotoHeight);

  ready = c.Get("/readyz", ua());
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);
  EXPECT_EQ(json::parse(ready->body), json({{"status", "ready"}}));
  auto warm_ping = c.Post("/api/v2/warmup", ua(), "", "text/plain");
  ASSERT_TRUE(warm_ping);
  EXPECT_EQ(warm_ping->status, 200);
  auto warm = post_image(c, "/api/v2/process?effects=color", photo(), {{"X-Request-Id", "e2e-warm"}});
  ASSERT_TRUE(warm);
  ASSERT_EQ(warm->status, 200) << warm->body;
  EXPECT_EQ(json::parse(warm->body).value("cold_start", true), false);

  const json st = status_of(server);
  EXPECT_EQ(st.value("model", ""), "isnet-qdq");
  EXPECT_EQ(st.value("model_status", ""), "ready");
  EXPECT_EQ(st.value("provider", ""), "cpu");
  EXPECT_GE(st.value("threads", 0), 1);
  ASSERT_TRUE(st["cold_start_ms"].is_number()) << st;
  EXPECT_GT(st.value("model_load_ms", 0.0), 0);
  EXPECT_GT(st.value("warmup_ms", 0.0), 0);
  EXPECT_GT(st.value("cold_start_ms", 0.0), st.value("model_load_ms", 0.0));
  EXPECT_GT(st.value("uptime_s", 0.0), 0);
  EXPECT_EQ(st.value("queue_depth", -1), 0);
  EXPECT_EQ(st.value("in_flight", -1), 0);
  EXPECT_FALSE(st.value("version", "").empty());

  // Metrics: the counters moved with what happened, and each request counts once.
  const Samples m = scrape(server);
  EXPECT_EQ(sample(m, "cutout_cold_requests_total"), 1);
  EXPECT_EQ(sample(m, "cutout_warmup_pings_total"), 3);
  EXPECT_EQ(requests(m, "/api/v2/warmup", 202), 1);
  EXPECT_EQ(requests(m, "/api/v2/warmup", 200), 2);
  EXPECT_EQ(requests(m, "/readyz", 503), 1);
  EXPECT_EQ(requests(m, "/readyz", 200), 1);
  EXPECT_EQ(requests(m, "/api/v2/process", 200), 2);
  EXPECT_EQ(sample(m, "cutout_outputs_total", {{"effect", "color"}}), 2);
  EXPECT_EQ(sample(m, "cutout_request_duration_seconds_count", {{"endpoint", "/api/v2/process"}}), 2);
  // Successful ones by cold or warm: the cold one waited for the model, so it took longer.
  EXPECT_EQ(sample(m, "cutout_process_duration_seconds_count", {{"cold", "true"}}), 1);
  EXPECT_EQ(sample(m, "cutout_process_duration_seconds_count", {{"cold", "false"}}), 1);
  EXPECT_GT(sample(m, "cutout_process_duration_seconds_sum", {{"cold", "true"}}),
            sample(m, "cutout_process_duration_seconds_sum", {{"cold", "false"}}));
  EXPECT_EQ(sample(m, "cutout_stage_duration_seconds_count", {{"stage", "inference"}}), 2);
  EXPECT_EQ(sample(m, "cutout_model_status", {{"status", "ready"}}), 1);
  EXPECT_EQ(sample(m, "cutout_model_status", {{"status", "loading"}}), 0);
  EXPECT_EQ(sample(m, "cutout_queue_depth"), 0);
  EXPECT_GT(sample(m, "cutout_cold_start_seconds"), 0);
  EXPECT_GT(sample(m, "cutout_model_load_seconds"), 0);
  EXPECT_GT(sample(m, "cutout_warmup_seconds"), 0);
  EXPECT_GT(sample(m, "process_resident_memory_bytes"), 0);
  EXPECT_GT(sample(m, "process_cpu_seconds_total"), 0);
  EXPECT_GT(sample(m, "process_start_time_seconds"), 0);
  const double healthz_before = requests(m, "/healthz", 200), metrics_before = requests(m, "/metrics", 200);
  ASSERT_TRUE(c.Get("/healthz"));
  const Samples m2 = scrape(server);
  EXPECT_EQ(requests(m2, "/healthz", 200), healthz_before + 1);
  EXPECT_EQ(requests(m2, "/metrics", 200), metrics_before + 1);

  // Logs: the model's status changes with durations, then the requests with their fields.
  const auto lines = server.log_lines();
  const size_t loading = index_of(lines, message_is("model loading"));
  const size_t warming = index_of(lines, message_is("model warming"));
  const size_t ready_line = index_of(lines, message_is("model ready"));
  ASSERT_LT(ready_line, lines.size()) << server.log_text();
  EXPECT_LT(loading, warming);
  EXPECT_LT(warming, ready_line);
  EXPECT_GT(lines[warming].value("duration_ms", 0.0), 0);
  EXPECT_GT(lines[ready_line].value("duration_ms", 0.0), 0);
  EXPECT_EQ(lines[ready_line].value("model_status", ""), "ready");
  const json* cold_line = find_request_log(lines, "e2e-cold");
  const json* warm_line = find_request_log(lines, "e2e-warm");
  ASSERT_TRUE(cold_line && warm_line) << server.log_text();
  expect_request_log_line(*cold_line, "POST", "/api/v2/process?effects=color", 200);
  EXPECT_EQ(cold_line->at("httpRequest").value("userAgent", ""), kUserAgent);
  EXPECT_EQ(cold_line->value("cold_start", false), true);
  EXPECT_EQ(warm_line->value("cold_start", true), false);
  EXPECT_EQ(warm_line->value("model_status", ""), "ready");
  EXPECT_EQ(warm_line->value("endpoint", ""), "/api/v2/process");
  EXPECT_EQ(warm_line->at("httpRequest").value("responseSize", ""), std::to_string(warm->body.size()));
  expect_timings(warm_line->at("timings_ms"), {"color"});
}

// The outputs of /api/v2/process in every form a client can ask for.
TEST(ServerE2E, ProcessAnswersJsonImagesAndEvents) {
  ServerProcess server;
  auto c = server.client();
  std::string webp_request_id;
  size_t webp_bytes = 0;

  {  // multipart, all four effects and the mask; the client's request id is kept
    httplib::MultipartFormDataItems items = {{"image", photo(), "person.jpg", "application/octet-stream"},
                                             {"mask", "true", "", ""}};
    auto res = c.Post("/api/v2/process", ua({{"X-Request-Id", "e2e-multipart"}}), items);
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body.substr(0, 300);
    EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
    EXPECT_EQ(res->get_header_value("X-Request-Id"), "e2e-multipart");
    const json body = json::parse(res->body);
    EXPECT_EQ(body.value("request_id", ""), "e2e-multipart");
    EXPECT_EQ(body.value("cold_start", true), false);
    auto images = expect_result(body, {"color", "bw", "popart", "dither", "mask"}, kPhotoWidth, kPhotoHeight);
    for (const auto& [name, out] : body.at("outputs").items())
      EXPECT_EQ(out.value("mime", ""), "image/png") << name;
    const cv::Mat& color = images["color"];
    const cv::Mat& mask = images["mask"];
    ASSERT_EQ(color.type(), CV_8UC4);
    ASSERT_EQ(mask.type(), CV_8UC1);
    std::vector<cv::Mat> channels;
    cv::split(color, channels);
    EXPECT_LE(cv::norm(channels[3], mask, cv::NORM_INF), 1) << "the cut-out's alpha is the mask";
    double lo = 0, hi = 0;
    cv::minMaxLoc(mask, &lo, &hi);
    EXPECT_EQ(lo, 0) << "a person photo has background";
    EXPECT_EQ(hi, 255) << "and a subject";
  }
  {  // raw body, response=image, WebP
    auto res = post_image(c, "/api/v2/process?effects=color&format=webp&response=image", photo());
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body.substr(0, 300);
    EXPECT_EQ(res->get_header_value("Content-Type"), "image/webp");
    EXPECT_EQ(res->get_header_value("X-Cutout-Model"), "isnet-qdq");
    EXPECT_EQ(res->get_header_value("X-Cutout-Output"), "color");
    EXPECT_EQ(res->get_header_value("X-Cutout-Width"), std::to_string(kPhotoWidth));
    EXPECT_EQ(res->get_header_value("X-Cutout-Height"), std::to_string(kPhotoHeight));
    EXPECT_EQ(res->get_header_value("X-Cutout-Cold-Start"), "false");
    expect_timings(json::parse(res->get_header_value("X-Cutout-Timings-Ms")), {"color"});
    webp_request_id = res->get_header_value("X-Request-Id");
    EXPECT_TRUE(std::regex_match(webp_request_id, std::regex("[0-9a-f]{32}"))) << webp_request_id;
    webp_bytes = res->body.size();
    const cv::Mat image = decode(res->body);
    EXPECT_EQ(image.size(), cv::Size(kPhotoWidth, kPhotoHeight));
    EXPECT_EQ(image.channels(), 4);
  }
  {  // Accept: image/png selects the image answer; max_side scales the outputs
    auto res = post_image(c, "/api/v2/process?effects=bw&max_side=300", photo(), {{"Accept", "image/png"}});
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body.substr(0, 300);
    EXPECT_EQ(res->get_header_value("Content-Type"), "image/png");
    EXPECT_EQ(res->get_header_value("X-Cutout-Output"), "bw");
    EXPECT_EQ(decode(res->body).size(), cv::Size(300, 225));
  }
  {  // JPEG (no alpha), cropped to the subject
    auto res =
        post_image(c, "/api/v2/process?effects=color&format=jpeg&crop=subject&response=image", photo());
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body.substr(0, 300);
    EXPECT_EQ(res->get_header_value("Content-Type"), "image/jpeg");
    const cv::Mat image = decode(res->body);
    EXPECT_EQ(image.channels(), 3);
    EXPECT_EQ(res->get_header_value("X-Cutout-Width"), std::to_string(image.cols));
    EXPECT_EQ(res->get_header_value("X-Cutout-Height"), std::to_string(image.rows));
    EXPECT_LE(image.cols, kPhotoWidth);
    EXPECT_LE(image.rows, kPhotoHeight);
    EXPECT_LT(image.cols * image.rows, kPhotoWidth * kPhotoHeight) << "the crop is tighter than the photo";
  }
  {  // the edge stages: timed in timings_ms and observed in the stage histogram; the shape stays
    auto plain =
        post_image(c, "/api/v2/process?effects=color&mask=true&refine=none&decontaminate=false", photo());
    auto edges =
        post_image(c, "/api/v2/process?effects=color&mask=true&refine=guided&decontaminate=true", photo());
    ASSERT_TRUE(plain && edges);
    ASSERT_EQ(edges->status, 200) << edges->body.substr(0, 300);
    const json p = json::parse(plain->body), e = json::parse(edges->body);
    EXPECT_EQ(p["timings_ms"].value("refine", -1.0), 0.0);
    EXPECT_GT(e["timings_ms"].value("refine", 0.0), 0.0) << e["timings_ms"];
    EXPECT_GT(e["timings_ms"].value("decontaminate", 0.0), 0.0) << e["timings_ms"];
    const auto plain_out = expect_result(p, {"color", "mask"}, kPhotoWidth, kPhotoHeight);
    const auto edges_out = expect_result(e, {"color", "mask"}, kPhotoWidth, kPhotoHeight);
    cv::Mat a = plain_out.at("mask"), b = edges_out.at("mask");
    if (a.channels() > 1) cv::extractChannel(a, a, 0), cv::extractChannel(b, b, 0);
    EXPECT_GT(cv::norm(a, b, cv::NORM_L1), 0.0) << "refine=guided changed nothing";
    EXPECT_EQ(cv::countNonZero((a >= 128) != (b >= 128)), 0) << "refinement moved the cut-out's shape";
    const Samples m = scrape(server);
    EXPECT_GE(sample(m, "cutout_stage_duration_seconds_count", {{"stage", "refine"}}), 1);
    EXPECT_GE(sample(m, "cutout_stage_duration_seconds_count", {{"stage", "decontaminate"}}), 1);
  }
  {  // parameters as form fields: a solid background shows exactly where the mask is 0
    httplib::MultipartFormDataItems items = {{"image", photo(), "person.jpg", "image/jpeg"},
                                             {"effects", "color", "", ""},
                                             {"background", "#00ff00", "", ""},
                                             {"mask", "true", "", ""}};
    auto res = c.Post("/api/v2/process", ua(), items);
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body.substr(0, 300);
    auto images = expect_result(json::parse(res->body), {"color", "mask"}, kPhotoWidth, kPhotoHeight);
    cv::Mat color = images["color"];
    if (color.channels() == 4) cv::cvtColor(color, color, cv::COLOR_BGRA2BGR);
    ASSERT_EQ(color.type(), CV_8UC3);
    const cv::Mat background = images["mask"] == 0;
    EXPECT_GT(cv::countNonZero(background), 1000);
    cv::Mat not_green;
    cv::inRange(color, cv::Scalar(0, 255, 0), cv::Scalar(0, 255, 0), not_green);
    cv::bitwise_not(not_green, not_green);
    EXPECT_EQ(cv::countNonZero(not_green & background), 0) << "where the mask is 0 the background shows";
  }
  std::string stream_request_id;
  double stream_inference_s = 0;
  {  // server-sent events: the real stages, in order, as they happen
    const SseResponse sse = post_sse(c, "/api/v2/process?stream=true&effects=color,bw", photo());
    EXPECT_EQ(sse.status, 200);
    EXPECT_EQ(sse.content_type, "text/event-stream");
    EXPECT_EQ(event_names(sse),
              (std::vector<std::string>{"queued", "decoded", "segmented", "effect", "effect", "result"}));
    ASSERT_EQ(sse.events.size(), 6u);
    EXPECT_EQ(sse.events[0].data.value("position", -1), 0);
    EXPECT_EQ(sse.events[1].data.value("width", 0), kPhotoWidth);
    EXPECT_EQ(sse.events[1].data.value("height", 0), kPhotoHeight);
    // One event per output as each finishes (in any order).
    EXPECT_EQ((std::set<std::string>{sse.events[3].data.value("effect", ""),
                                     sse.events[4].data.value("effect", "")}),
              (std::set<std::string>{"color", "bw"}));
    const json& result = sse.events[5].data;
    expect_result(result, {"color", "bw"}, kPhotoWidth, kPhotoHeight);
    // Streamed, not buffered: the segmentation arrives an inference after the queued event.
    const double inference_s = result["timings_ms"].value("inference", 0.0) / 1000.0;
    EXPECT_GT(sse.events[2].at_s - sse.events[0].at_s, 0.5 * inference_s);
    stream_request_id = result.value("request_id", "");
    stream_inference_s = inference_s;
  }

  // Image bytes never reach the logs: no base64 PNG/JPEG, no raw JPEG, no long lines.
  const std::string logs = server.log_text();
  EXPECT_EQ(logs.find("iVBORw0KGgo"), std::string::npos);
  EXPECT_EQ(logs.find("/9j/"), std::string::npos);
  EXPECT_EQ(logs.find("JFIF"), std::string::npos);
  const auto lines = server.log_lines();
  for (const auto& line : lines) EXPECT_LT(line.dump().size(), 4096u) << line.dump().substr(0, 200);
  // The request id the server made up is the one in the header and in the log line.
  const json* webp_line = find_request_log(lines, webp_request_id);
  ASSERT_TRUE(webp_line) << webp_request_id;
  expect_request_log_line(*webp_line, "POST", "/api/v2/process?effects=color&format=webp&response=image",
                          200);
  EXPECT_EQ(webp_line->at("httpRequest").value("responseSize", ""), std::to_string(webp_bytes));
  expect_timings(webp_line->at("timings_ms"), {"color"});
  // A stream is logged when it ends: its latency covers the inference, with its timings.
  const json* stream_line = find_request_log(lines, stream_request_id);
  ASSERT_TRUE(stream_line) << stream_request_id;
  const std::string stream_latency = stream_line->at("httpRequest").value("latency", "0s");
  EXPECT_GT(std::stod(stream_latency), stream_inference_s) << stream_latency;
  expect_timings(stream_line->at("timings_ms"), {"color", "bw"});
  const Samples m = scrape(server);
  EXPECT_EQ(sample(m, "cutout_outputs_total", {{"effect", "color"}}), 7);
  EXPECT_EQ(sample(m, "cutout_outputs_total", {{"effect", "bw"}}), 3);
  EXPECT_EQ(sample(m, "cutout_outputs_total", {{"effect", "mask"}}), 4);
  EXPECT_EQ(requests(m, "/api/v2/process", 200), 8);
}

// POST /api/v2/render: the photo and the mask a process request returned give the same outputs
// without the network, in a fraction of the time; a matte that does not fit is refused.
TEST(ServerE2E, RenderReusesAMatteWithoutTheNetwork) {
  ServerProcess server;
  auto c = server.client();
  const std::string query = "effects=color,popart&popart_palette=mint&mask=true";
  auto processed = post_image(c, "/api/v2/process?" + query, photo());
  ASSERT_TRUE(processed);
  ASSERT_EQ(processed->status, 200) << processed->body.substr(0, 300);
  const json p = json::parse(processed->body);
  const std::string mask = base64_decode(p["outputs"]["mask"].value("data", ""));
  const std::string colour = base64_decode(p["outputs"]["color"].value("data", ""));
  auto render = [&](const std::string& q, const std::string& matte) {
    httplib::MultipartFormDataItems items = {{"image", photo(), "person.jpg", "image/jpeg"},
                                             {"matte", matte, "mask.png", "image/png"}};
    return c.Post(("/api/v2/render?" + q).c_str(), ua(), items);
  };
  auto rendered = render(query, mask);
  ASSERT_TRUE(rendered);
  ASSERT_EQ(rendered->status, 200) << rendered->body.substr(0, 300);
  const json r = json::parse(rendered->body);
  EXPECT_EQ(r.value("width", 0), kPhotoWidth);
  EXPECT_EQ(r.value("height", 0), kPhotoHeight);
  for (const char* name : {"color", "popart", "mask"}) {
    EXPECT_EQ(r["outputs"][name].value("data", ""), p["outputs"][name].value("data", ""))
        << name << " differs";
  }
  EXPECT_FALSE(r["timings_ms"].contains("inference"));
  EXPECT_LT(r["timings_ms"].value("total", 1e9), p["timings_ms"].value("inference", 0.0))
      << "a render costs less than the inference alone";
  // Another palette and a background: a new poster and cut-out from the same matte.
  auto again = render("effects=popart&popart_palette=sunset&response=image", mask);
  ASSERT_TRUE(again);
  ASSERT_EQ(again->status, 200) << again->body.substr(0, 300);
  EXPECT_EQ(again->get_header_value("X-Cutout-Output"), "popart");
  EXPECT_NE(again->body, base64_decode(p["outputs"]["popart"].value("data", "")));
  // The colour cut-out itself (RGBA) serves as a matte: its alpha is read.
  auto from_cutout = render("effects=color", colour);
  ASSERT_TRUE(from_cutout);
  ASSERT_EQ(from_cutout->status, 200) << from_cutout->body.substr(0, 300);
  EXPECT_EQ(json::parse(from_cutout->body)["outputs"]["color"].value("data", ""),
            p["outputs"]["color"].value("data", ""));
  // A smaller mask of the same shape (a max_side output) is scaled to the photo.
  auto small = post_image(c, "/api/v2/process?effects=color&mask=true&max_side=300", photo());
  ASSERT_TRUE(small);
  const std::string small_mask = base64_decode(json::parse(small->body)["outputs"]["mask"].value("data", ""));
  auto scaled = render("effects=color", small_mask);
  ASSERT_TRUE(scaled);
  EXPECT_EQ(scaled->status, 200) << scaled->body.substr(0, 300);
  // Refusals: no matte, another shape, not an image, stream.
  httplib::MultipartFormDataItems photo_only = {{"image", photo(), "person.jpg", "image/jpeg"}};
  expect_api_error(c.Post("/api/v2/render", ua(), photo_only), 400, "bad_request");
  std::vector<uint8_t> square;
  cv::imencode(".png", cv::Mat(100, 100, CV_8UC1, cv::Scalar(255)), square);
  const json wrong_shape = expect_api_error(render("effects=color", as_string(square)), 400, "bad_request");
  const std::string message = wrong_shape["error"].value("message", "");
  EXPECT_NE(message.find("100x100"), std::string::npos) << message;
  expect_api_error(render("effects=color", "not an image"), 415, "unsupported_media_type");
  expect_api_error(render("stream=true", mask), 400, "bad_request");
  const Samples m = scrape(server);
  EXPECT_EQ(requests(m, "/api/v2/render", 200), 4);
  EXPECT_EQ(requests(m, "/api/v2/render", 400), 3);
}

// Backgrounds behind the colour cut-out (portrait-mode blur, a picture) and every output in a zip.
TEST(ServerE2E, BlurAndPictureBackgroundsAndZip) {
  ServerProcess server;
  auto c = server.client();
  auto plain = post_image(c, "/api/v2/process?effects=color&mask=true", photo());
  ASSERT_TRUE(plain);
  ASSERT_EQ(plain->status, 200) << plain->body.substr(0, 300);
  const json p = json::parse(plain->body);
  const std::string mask_png = base64_decode(p["outputs"]["mask"].value("data", ""));
  cv::Mat mask = decode(mask_png), cut = decode(base64_decode(p["outputs"]["color"].value("data", "")));
  if (mask.channels() > 1) cv::extractChannel(mask, mask, 0);
  const cv::Mat original = decode(photo());  // BGR
  ASSERT_EQ(mask.size(), original.size());
  const cv::Mat clear = mask == 0, opaque = mask == 255;
  ASSERT_GT(cv::countNonZero(clear), 1000);

  auto blur =
      post_image(c, "/api/v2/process?effects=color&background=blur&blur_radius=12&response=image", photo());
  ASSERT_TRUE(blur);
  ASSERT_EQ(blur->status, 200) << blur->body.substr(0, 300);
  const cv::Mat blurred = decode(blur->body);
  ASSERT_EQ(blurred.channels(), 3) << "a picture behind: opaque";
  // The subject is the cut-out's colour; the background is the photo's, smoothed.
  cv::Mat cut_bgr;
  cv::cvtColor(cut, cut_bgr, cv::COLOR_BGRA2BGR);
  cv::Mat diff;
  cv::absdiff(blurred, cut_bgr, diff);
  EXPECT_LE(cv::mean(diff, opaque)[0], 1.0);
  auto sharpness = [&](const cv::Mat& bgr) {
    cv::Mat grey, lap;
    cv::cvtColor(bgr, grey, cv::COLOR_BGR2GRAY);
    cv::Laplacian(grey, lap, CV_32F);
    cv::Scalar mean, dev;
    cv::meanStdDev(lap, mean, dev, clear);
    return dev[0];
  };
  EXPECT_LT(sharpness(blurred), 0.3 * sharpness(original));
  cv::absdiff(blurred, original, diff);
  EXPECT_LT(cv::mean(diff, clear)[0], 40.0) << "the blurred photo, not another picture";

  // A picture part: a solid red image shows wherever the cut-out is clear.
  std::vector<uint8_t> red;
  cv::imencode(".png", cv::Mat(48, 64, CV_8UC3, cv::Scalar(0, 0, 255)), red);
  httplib::MultipartFormDataItems items = {{"image", photo(), "person.jpg", "image/jpeg"},
                                           {"background_image", as_string(red), "red.png", "image/png"},
                                           {"effects", "color", "", ""},
                                           {"response", "image", "", ""}};
  auto pictured = c.Post("/api/v2/process", ua(), items);
  ASSERT_TRUE(pictured);
  ASSERT_EQ(pictured->status, 200) << pictured->body.substr(0, 300);
  const cv::Mat over = decode(pictured->body);
  cv::Mat is_red;
  cv::inRange(over, cv::Scalar(0, 0, 255), cv::Scalar(0, 0, 255), is_red);
  EXPECT_EQ(cv::countNonZero(is_red & clear), cv::countNonZero(clear));

  // shadow=true: the subject as it was, a soft dark shadow on some of the clear pixels.
  auto shadowed = post_image(c, "/api/v2/process?effects=color&shadow=true&response=image", photo());
  ASSERT_TRUE(shadowed);
  ASSERT_EQ(shadowed->status, 200) << shadowed->body.substr(0, 300);
  const cv::Mat with_shadow = decode(shadowed->body);
  ASSERT_EQ(with_shadow.channels(), 4);
  std::vector<cv::Mat> planes;
  cv::split(with_shadow, planes);
  const int shaded = cv::countNonZero((planes[3] > 0) & clear);
  EXPECT_GT(shaded, 100) << "no shadow on the clear pixels";
  EXPECT_LT(shaded, cv::countNonZero(clear)) << "the shadow covers everything";
  EXPECT_LE(cv::mean(planes[3], clear)[0], 128.0);

  // response=zip: every output, named by effect; from process and from render.
  auto zip = post_image(c, "/api/v2/process?effects=color,bw&mask=true&response=zip", photo());
  ASSERT_TRUE(zip);
  ASSERT_EQ(zip->status, 200) << zip->body.substr(0, 300);
  EXPECT_EQ(zip->get_header_value("Content-Type"), "application/zip");
  const std::string listing = zip_listing(zip->body);
  for (const char* name : {"color.png", "bw.png", "mask.png"})
    EXPECT_NE(listing.find(name), std::string::npos) << listing;
  httplib::MultipartFormDataItems again = {{"image", photo(), "person.jpg", "image/jpeg"},
                                           {"matte", mask_png, "mask.png", "image/png"}};
  auto rendered = c.Post("/api/v2/render?effects=popart,dither&response=zip&background=blur", ua(), again);
  ASSERT_TRUE(rendered);
  EXPECT_EQ(rendered->status, 200) << rendered->body.substr(0, 300);
  EXPECT_EQ(rendered->get_header_value("Content-Type"), "application/zip");
  expect_api_error(post_image(c, "/api/v2/process?response=zip&stream=true", photo()), 400, "bad_request");
  expect_api_error(post_image(c, "/api/v2/process?background=blur&blur_radius=0", photo()), 400,
                   "bad_request");
}

// Every client error has its status and JSON body, is answered before any inference, and the
// service keeps serving.
TEST(ServerE2E, BadRequestsGetJsonErrorsAndTheServiceSurvives) {
  ServerOptions options;
  options.args = {"--max-body-bytes", "65536", "--max-pixels", "4000000"};
  options.wait_ready = false;
  ServerProcess server(options);
  auto c = server.client();
  const std::string jpeg = small_jpeg();
  const std::string truncated_photo = photo().substr(0, 20'000);  // > 8 KiB: not a form either

  auto res = c.Get("/nope", ua({{"X-Request-Id", "e2e-404"}}));
  EXPECT_EQ(expect_api_error(res, 404, "not_found").value("request_id", ""), "e2e-404");
  expect_api_error(c.Get("/api/v2/process", ua()), 405, "method_not_allowed");
  expect_api_error(c.Delete("/healthz", ua()), 405, "method_not_allowed");
  expect_alive(server, "404 and 405");

  const std::string unknown_effect =
      expect_api_error(post_image(c, "/api/v2/process?effects=color,sepia", jpeg), 400,
                       "bad_request")["error"]
          .value("message", "");
  for (const char* word : {"sepia", "color", "bw", "popart", "dither"}) {
    EXPECT_NE(unknown_effect.find(word), std::string::npos) << word << " in: " << unknown_effect;
  }
  const std::vector<std::pair<std::string, std::string>> bad_values = {{"format=gif", "gif"},
                                                                       {"max_side=0", "max_side"},
                                                                       {"crop=left", "crop"},
                                                                       {"mask=maybe", "mask"},
                                                                       {"background=pink", "pink"},
                                                                       {"response=image", "one output"},
                                                                       {"colour=red", "colour"},
                                                                       {"stream=yes", "stream"},
                                                                       {"refine=closed-form", "guided"},
                                                                       {"decontaminate=2", "decontaminate"}};
  for (const auto& [query, word] : bad_values) {
    const std::string message =
        expect_api_error(post_image(c, "/api/v2/process?" + query, jpeg), 400, "bad_request")["error"].value(
            "message", "");
    EXPECT_NE(message.find(word), std::string::npos) << query << ": " << message;
  }
  httplib::MultipartFormDataItems unknown_field = {{"image", jpeg, "a.jpg", "image/jpeg"},
                                                   {"size", "big", "", ""}};
  expect_api_error(c.Post("/api/v2/process", ua(), unknown_field), 400, "bad_request");
  expect_api_error(post_image(c, "/api/v2/process", ""), 400, "bad_request");
  expect_alive(server, "400s");

  // Limits: the body's bytes, and the pixels a header claims (answered from the header, at once).
  expect_api_error(post_image(c, "/api/v2/process", std::string(70'000, 'x')), 413, "payload_too_large");
  for (const std::string& bomb : {png_header_bomb(2100, 2000), jpeg_header_bomb(3000, 2000)}) {
    const auto t0 = Clock::now();
    auto r = post_image(c, "/api/v2/process", bomb);
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    expect_api_error(r, 413, "image_too_large");
    EXPECT_LT(seconds, 1.0);
  }
  expect_alive(server, "413s");

  // Broken and non-images; Content-Type is not trusted, not even a form's.
  expect_api_error(post_image(c, "/api/v2/process", truncated_photo), 422, "undecodable_image");
  expect_api_error(post_image(c, "/api/v2/process", "\xff\xd8\xff\xe0 this is no JPEG"), 422,
                   "undecodable_image");
  expect_api_error(post_image(c, "/api/v2/process", "hello, I am text", {}, "image/png"), 415,
                   "unsupported_media_type");
  expect_api_error(post_image(c, "/api/v2/process", "hello=text", {}, "application/x-www-form-urlencoded"),
                   415, "unsupported_media_type");
  expect_api_error(post_image(c, "/api/v2/process", truncated_photo, {}, "application/x-www-form-urlencoded"),
                   422, "undecodable_image");
  expect_alive(server, "422 and 415");

  // Each error counted once, under its endpoint and code, and logged as a warning with its code.
  const Samples m = scrape(server);
  EXPECT_EQ(requests(m, "other", 404), 1);
  EXPECT_EQ(requests(m, "/api/v2/process", 405), 1);
  EXPECT_EQ(requests(m, "/healthz", 405), 1);
  EXPECT_EQ(requests(m, "/api/v2/process", 400), 13);
  EXPECT_EQ(requests(m, "/api/v2/process", 413), 3);
  EXPECT_EQ(requests(m, "/api/v2/process", 422), 3);
  EXPECT_EQ(requests(m, "/api/v2/process", 415), 2);
  EXPECT_EQ(sample(m, "cutout_rejected_total", {{"reason", "payload_too_large"}}), 1);
  EXPECT_EQ(sample(m, "cutout_rejected_total", {{"reason", "image_too_large"}}), 2);
  EXPECT_EQ(sample(m, "cutout_rejected_total", {{"reason", "undecodable"}}), 3);
  EXPECT_EQ(sample(m, "cutout_rejected_total", {{"reason", "unsupported_media_type"}}), 2);
  EXPECT_EQ(sample(m, "cutout_rejected_total", {{"reason", "queue_full"}}), 0);  // present from the start
  std::map<std::string, int> logged;
  for (const auto& l : server.log_lines()) {
    if (!l.contains("error_code")) continue;
    ++logged[l.value("error_code", "")];
    EXPECT_EQ(l.value("severity", ""), "WARNING") << l.dump();
  }
  EXPECT_EQ(logged, (std::map<std::string, int>{{"not_found", 1},
                                                {"method_not_allowed", 2},
                                                {"bad_request", 13},
                                                {"payload_too_large", 1},
                                                {"image_too_large", 2},
                                                {"undecodable_image", 3},
                                                {"unsupported_media_type", 2}}));

  // And it still does real work.
  auto good = post_image(c, "/api/v2/process?effects=color", jpeg);
  ASSERT_TRUE(good);
  EXPECT_EQ(good->status, 200) << good->body.substr(0, 300);
}

// The API key guards /api/* only; trace ids reach the logs; every line is structured.
TEST(ServerE2E, ApiKeyGuardsTheApiAndLogsAreStructured) {
  ServerOptions options;
  options.env = {{"CUTOUT_API_KEY", "s3cret-key"}, {"GOOGLE_CLOUD_PROJECT", "myproj"}};
  options.wait_ready = false;
  ServerProcess server(options);
  auto c = server.client();

  for (const char* path : {"/healthz", "/metrics"}) {
    auto res = c.Get(path, ua());
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200) << path;
  }
  auto ready = c.Get("/readyz", ua());
  ASSERT_TRUE(ready);
  EXPECT_NE(ready->status, 401);

  expect_api_error(c.Get("/api/v2/status", ua()), 401, "unauthorized");
  expect_api_error(c.Get("/api/v2/status", ua({{"Authorization", "Bearer wrong"}})), 401, "unauthorized");
  expect_api_error(c.Get("/api/v2/status", ua({{"Authorization", "s3cret-key"}})), 401, "unauthorized");
  expect_api_error(post_image(c, "/api/v2/process", photo()), 401, "unauthorized");
  for (const auto& header : {httplib::Headers{{"Authorization", "Bearer s3cret-key"}},
                             httplib::Headers{{"X-API-Key", "s3cret-key"}}}) {
    auto res = c.Get("/api/v2/status", ua(header));
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200) << res->body;
  }
  auto ping =
      c.Post("/api/v2/warmup?wait=false", ua({{"Authorization", "Bearer s3cret-key"}}), "", "text/plain");
  ASSERT_TRUE(ping);
  EXPECT_TRUE(ping->status == 202 || ping->status == 200) << ping->status;
  EXPECT_EQ(sample(scrape(server), "cutout_rejected_total", {{"reason", "unauthorized"}}), 4);

  const std::string trace_id = "105445aa7843bc8bf206b12000100000";
  ASSERT_TRUE(
      c.Get("/healthz", ua({{"X-Cloud-Trace-Context", trace_id + "/1;o=1"}, {"X-Request-Id", "e2e-trace"}})));
  ASSERT_TRUE(c.Get("/healthz", ua({{"X-Request-Id", "e2e-no-trace"}})));

  const auto lines = server.log_lines();
  const json* traced = find_request_log(lines, "e2e-trace");
  const json* untraced = find_request_log(lines, "e2e-no-trace");
  ASSERT_TRUE(traced && untraced) << server.log_text();
  EXPECT_EQ(traced->value("logging.googleapis.com/trace", ""), "projects/myproj/traces/" + trace_id);
  EXPECT_FALSE(untraced->contains("logging.googleapis.com/trace"));
  expect_request_log_line(*traced, "GET", "/healthz", 200);
  EXPECT_EQ(traced->at("httpRequest").value("userAgent", ""), kUserAgent);
  EXPECT_EQ(traced->value("endpoint", ""), "/healthz");

  const std::regex rfc3339(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z)");
  const std::set<std::string> severities = {"DEBUG", "INFO", "WARNING", "ERROR"};
  int request_lines = 0;
  for (const auto& l : lines) {
    ASSERT_TRUE(l.is_object()) << l.dump();
    EXPECT_TRUE(severities.count(l.value("severity", ""))) << l.dump();
    EXPECT_FALSE(l.value("message", "").empty()) << l.dump();
    EXPECT_TRUE(std::regex_match(l.value("time", ""), rfc3339)) << l.dump();
    if (l.contains("httpRequest")) {
      ++request_lines;
      const auto& h = l.at("httpRequest");
      expect_request_log_line(l, h.value("requestMethod", ""), h.value("requestUrl", ""),
                              h.value("status", 0));
      const std::string id = l.value("request_id", "");
      EXPECT_TRUE(std::regex_match(id, std::regex("[0-9a-f]{32}")) || id.rfind("e2e-", 0) == 0) << id;
    }
  }
  EXPECT_GE(request_lines, 12);
  EXPECT_EQ(server.log_text().find("s3cret"), std::string::npos) << "the API key must never be logged";
}

// A request that outlives --request-timeout-ms gets 504; in a stream, an `error` event.
TEST(ServerE2E, SlowRequestsTimeOutWith504AndStreamsEndWithAnErrorEvent) {
  // 100 ms: shorter than any CPU inference of the 1024x1024 model.
  ServerProcess server(with_args({"--request-timeout-ms", "100"}));
  auto c = server.client();

  expect_api_error(post_image(c, "/api/v2/process?effects=color", photo()), 504, "timeout");
  expect_alive(server, "a 504");

  const SseResponse sse = post_sse(c, "/api/v2/process?stream=true&effects=color", photo());
  EXPECT_EQ(sse.status, 200);
  EXPECT_EQ(event_names(sse), (std::vector<std::string>{"queued", "decoded", "error"}));
  if (sse.events.size() == 3) {
    const json& error = sse.events[2].data;
    EXPECT_EQ(error["error"].value("code", ""), "timeout") << error;
    EXPECT_FALSE(error.value("request_id", "").empty()) << error;
  }
  expect_alive(server, "a stream's timeout");

  // A stream is counted by its outcome (its status line said 200), once it has ended.
  const Samples m = scrape(server);
  EXPECT_EQ(requests(m, "/api/v2/process", 504), 2);
  EXPECT_EQ(requests(m, "/api/v2/process", 200), 0);
  EXPECT_EQ(sample(m, "cutout_rejected_total", {{"reason", "timeout"}}), 2);
  const auto lines = server.log_lines();
  const size_t timeout_line =
      index_of(lines, [](const json& l) { return l.value("error_code", "") == "timeout"; });
  ASSERT_LT(timeout_line, lines.size()) << server.log_text();
  expect_request_log_line(lines[timeout_line], "POST", "/api/v2/process?effects=color", 504);
  const size_t stream_line = index_of(lines, [](const json& l) {
    return l.value("error_code", "") == "timeout" &&
           l["httpRequest"].value("requestUrl", "").find("stream") != std::string::npos;
  });
  ASSERT_LT(stream_line, lines.size()) << server.log_text();
  expect_request_log_line(lines[stream_line], "POST", "/api/v2/process?stream=true&effects=color", 200, 504);
  EXPECT_EQ(lines[stream_line].value("message", ""), "POST /api/v2/process 504");
  EXPECT_GT(std::stoll(lines[stream_line]["httpRequest"].value("responseSize", "0")), 0)
      << lines[stream_line];
}

// A full queue answers 429 at once; a client that leaves while queued frees its place.
TEST(ServerE2E, FullQueueAnswers429AndAbandonedRequestsAreCancelled) {
  ServerProcess server(with_args({"--queue-limit", "1"}));
  constexpr int kRequests = 6;
  std::vector<std::optional<httplib::Result>> results(kRequests);
  {
    std::latch go(kRequests);
    std::vector<std::thread> threads;
    for (int i = 0; i < kRequests; ++i) {
      threads.emplace_back([&, i] {
        auto client = server.client();
        go.arrive_and_wait();
        results[i].emplace(post_image(client, "/api/v2/process?effects=color", photo()));
      });
    }
    for (auto& t : threads) t.join();
  }
  int ok = 0, overloaded = 0;
  for (const auto& result : results) {
    ASSERT_TRUE(result && *result);
    const httplib::Result& r = *result;
    if (r->status == 200) {
      ++ok;
    } else {
      expect_api_error(r, 429, "overloaded");
      ++overloaded;
      const std::string retry = r->get_header_value("Retry-After");
      EXPECT_TRUE(std::regex_match(retry, std::regex("[1-9][0-9]*"))) << "Retry-After: " << retry;
    }
  }
  EXPECT_GE(ok, 1);
  EXPECT_GE(overloaded, 1) << "one runs and one waits; the other " << kRequests - 2 << " have no room";
  Samples m = scrape(server);
  EXPECT_EQ(sample(m, "cutout_rejected_total", {{"reason", "queue_full"}}), overloaded);
  EXPECT_EQ(requests(m, "/api/v2/process", 429), overloaded);
  EXPECT_EQ(sample(m, "cutout_outputs_total", {{"effect", "color"}}), ok);

  // A runs; B queues behind it, then its client hangs up; C, sent after A, must not wait for B.
  auto a = std::async(std::launch::async, [&] {
    auto client = server.client();
    return post_image(client, "/api/v2/process?effects=color", photo());
  });
  ASSERT_TRUE(wait_status(server, "in_flight", 1, 20s));
  const int b = connect_to(server.port());
  ASSERT_GE(b, 0);
  const std::string request =
      "POST /api/v2/process?effects=color HTTP/1.1\r\nHost: 127.0.0.1\r\n"
      "X-Request-Id: e2e-abandoned\r\nContent-Type: application/octet-stream\r\n"
      "Content-Length: " +
      std::to_string(photo().size()) + "\r\n\r\n" + photo();
  ASSERT_EQ(send(b, request.data(), request.size(), MSG_NOSIGNAL), static_cast<ssize_t>(request.size()));
  const bool queued = wait_status(server, "queue_depth", 1, 10s);
  close(b);
  ASSERT_TRUE(queued) << "B never queued";
  ASSERT_TRUE(
      server.wait_for_log([](const json& l) { return l.value("request_id", "") == "e2e-abandoned"; }, 5s))
      << server.log_text();
  EXPECT_EQ(status_of(server).value("queue_depth", -1), 0) << "B left the queue";
  auto a_res = a.get();
  ASSERT_TRUE(a_res);
  ASSERT_EQ(a_res->status, 200);
  auto client = server.client();
  auto c_res = post_image(client, "/api/v2/process?effects=color", photo());
  ASSERT_TRUE(c_res);
  ASSERT_EQ(c_res->status, 200);
  const double a_inference_ms = json::parse(a_res->body)["timings_ms"].value("inference", 0.0);
  const double c_queue_ms = json::parse(c_res->body)["timings_ms"].value("queue", 1e9);
  EXPECT_LT(c_queue_ms, 0.5 * a_inference_ms) << "C waited for the abandoned B";

  m = scrape(server);
  EXPECT_EQ(sample(m, "cutout_rejected_total", {{"reason", "client_gone"}}), 1);
  const auto lines = server.log_lines();
  const json* gone = find_request_log(lines, "e2e-abandoned");
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->value("error_code", ""), "client_gone");
  EXPECT_EQ(gone->at("httpRequest").value("status", 0), 499);
}

// SIGTERM stops new connections, lets the request in flight finish, then exits 0.
TEST(ServerE2E, SigtermDrainsInFlightWorkAndExitsCleanly) {
  ServerProcess server(with_args({"--drain-timeout-ms", "20000"}));
  auto in_flight = std::async(std::launch::async, [&] {
    auto client = server.client();
    return post_image(client, "/api/v2/process?effects=color", photo(), {{"X-Request-Id", "e2e-drained"}});
  });
  ASSERT_TRUE(wait_status(server, "in_flight", 1, 20s));
  const auto t0 = Clock::now();
  server.signal(SIGTERM);
  ASSERT_TRUE(server.wait_for_log(message_is("draining"), 5s)) << server.log_text();

  bool refused = false;
  while (!refused && Clock::now() - t0 < 5s) {
    const int fd = connect_to(server.port());
    refused = fd < 0;
    if (fd >= 0) close(fd);
    if (!refused) std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(refused) << "new connections are still accepted while draining";

  auto res = in_flight.get();
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  expect_result(json::parse(res->body), {"color"}, kPhotoWidth, kPhotoHeight);
  EXPECT_EQ(server.wait_exit(20s), std::optional<int>(0)) << server.stderr_text();
  EXPECT_LT(Clock::now() - t0, 20s);

  const auto lines = server.log_lines();
  const size_t draining = index_of(lines, message_is("draining"));
  const size_t finished =
      index_of(lines, [](const json& l) { return l.value("request_id", "") == "e2e-drained"; });
  const size_t stopped = index_of(lines, message_is("stopped"));
  ASSERT_LT(stopped, lines.size()) << server.log_text();
  EXPECT_LT(draining, finished);
  EXPECT_LT(finished, stopped);
  EXPECT_EQ(lines[draining].value("signal", ""), "SIGTERM");
  EXPECT_EQ(lines[draining].value("drain_timeout_ms", 0), 20000);
}

// Bad configuration stops the start with a clear message and a non-zero exit, before listening.
TEST(ServerE2E, BadConfigurationStopsTheStart) {
  testing::TempDir empty_models;
  struct Case {
    std::vector<std::string> args;
    testing::Env env;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{"--port", "70000"}, {}, "--port"},
      {{"--port", "0"}, {{"CUTOUT_QUEUE_LIMIT", "abc"}}, "queue-limit"},
      {{"--port", "0", "--log-level", "loud"}, {}, "loud"},
      {{"--port", "0", "--request-timeout-ms", "5"}, {}, "request-timeout-ms"},
      {{"--port", "0", "--model", "/nonexistent/model.onnx"}, {}, "/nonexistent/model.onnx"},
      {{"--port", "0"}, {{"CUTOUT_MODELS_DIR", empty_models.path().string()}}, "isnet-qdq.onnx"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(::testing::PrintToString(c.args) + " " + ::testing::PrintToString(c.env));
    const auto run = testing::run_serve_until_exit(c.args, c.env, 15s);
    ASSERT_TRUE(run.exit_status.has_value()) << "still running; stdout:\n" << run.stdout_text;
    EXPECT_NE(*run.exit_status, 0);
    EXPECT_NE(run.stderr_text.find(c.says), std::string::npos) << run.stderr_text;
    EXPECT_EQ(run.stdout_text.find("listening"), std::string::npos) << run.stdout_text;
  }
}

// A model file that exists but cannot be loaded: the process stays up (an orchestrator sees it
// not ready) and answers 503 not_ready.
TEST(ServerE2E, ModelThatFailsToLoadAnswers503) {
  ServerOptions options;
  options.args = {"--model", (testing::test_models_dir() / "not_a_model.onnx").string()};
  options.wait_ready = false;
  ServerProcess server(options);
  ASSERT_TRUE(server.wait_for_log(message_is("model failed"), 30s)) << server.log_text();
  auto c = server.client();
  auto ready = c.Get("/readyz", ua());
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 503);
  EXPECT_EQ(json::parse(ready->body).value("status", ""), "failed");
  expect_api_error(c.Post("/api/v2/warmup", ua(), "", "text/plain"), 503, "not_ready");
  expect_api_error(post_image(c, "/api/v2/process", small_jpeg()), 503, "not_ready");
  expect_alive(server, "a failed model");
  const auto lines = server.log_lines();
  const size_t failed = index_of(lines, message_is("model failed"));
  EXPECT_EQ(lines[failed].value("severity", ""), "ERROR");
  EXPECT_FALSE(lines[failed].value("detail", "").empty());
  EXPECT_EQ(sample(scrape(server), "cutout_model_status", {{"status", "failed"}}), 1);
}

// On a GPU (--device other than cpu) the GPU gauges and the log's gpu_memory_used come from NVML.
// No NVIDIA driver here: a library with NVML's ABI (tests/fake_nvml.c, two GPUs) stands in, and a
// fake driver with empty CUDA libraries (tests/fake_cuda.c) passes the start's check, so the
// service runs on the CUDA-capable core; the model then fails to load (its CUDA provider cannot
// link against the empty libraries), which leaves the service up to check.
TEST(ServerE2E, GpuFiguresComeFromNvmlWhenTheDeviceIsAGpu) {
  ServerOptions options;
  options.args = {"--device", "cuda"};
  const char* path = std::getenv("LD_LIBRARY_PATH");
  options.env = {
      {"CUTOUT_NVML_LIBRARY", CUTOUT_FAKE_NVML},
      {"LD_LIBRARY_PATH", std::string(CUTOUT_FAKE_CUDA_DIR) + (path ? ":" + std::string(path) : "")}};
  options.wait_ready = false;
  ServerProcess server(options);
  const auto failed = server.wait_for_log(message_is("model failed"), 60s);
  ASSERT_TRUE(failed) << server.log_text();
  EXPECT_NE(failed->value("detail", "").find("libonnxruntime_providers_cuda.so"), std::string::npos)
      << failed->dump();
  const json status = json::parse(server.client().Get("/api/v2/status", ua())->body);
  EXPECT_EQ(status["provider"], "cuda");
  EXPECT_EQ(status["ort_core"], "microsoft");
  const Samples metrics = scrape(server);
  const double gib = 1024.0 * 1024 * 1024;
  EXPECT_EQ(sample(metrics, "cutout_gpu_memory_used_bytes", {{"gpu", "0"}}), 3 * gib);
  EXPECT_EQ(sample(metrics, "cutout_gpu_memory_total_bytes", {{"gpu", "1"}}), 24 * gib);
  EXPECT_DOUBLE_EQ(sample(metrics, "cutout_gpu_utilization_ratio", {{"gpu", "0"}}), 0.37);
  auto c = server.client();
  ASSERT_TRUE(c.Get("/healthz", ua()));
  auto line = server.wait_for_log([](const json& j) { return j.value("endpoint", "") == "/healthz"; }, 10s);
  ASSERT_TRUE(line) << server.log_text();
  EXPECT_EQ((*line)["gpu_memory_used"], 25 * (1ull << 30));
}

// Without a GPU, --device cuda stops at start naming what the machine lacks; --device auto serves
// on cpu and logs why.
TEST(ServerE2E, CudaWithoutAGpuStopsAtStartAndAutoFallsBack) {
  const std::string missing = cuda_missing(ort_core_path("microsoft"));
  if (missing.empty()) GTEST_SKIP() << "this machine can run CUDA";
  const std::string model = (testing::test_models_dir() / "tiny_isnet.onnx").string();
  try {
    ServerProcess server(ServerOptions{{"--device", "cuda", "--model", model}, {}, false});
    FAIL() << "it started";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("--device cuda: this machine lacks " + missing), std::string::npos)
        << e.what();
  }
  ServerProcess server(ServerOptions{{"--device", "auto", "--model", model}, {}, true});
  const auto line = server.wait_for_log(message_is("--device auto: running on cpu"), 10s);
  ASSERT_TRUE(line) << server.log_text();
  EXPECT_NE(line->value("reason", "").find(missing), std::string::npos) << line->dump();
  const json status = json::parse(server.client().Get("/api/v2/status", ua())->body);
  EXPECT_EQ(status["provider"], "cpu");
}

// On CPU there is no GPU series and gpu_memory_used is null, even where NVML could be loaded.
TEST(ServerE2E, NoGpuFiguresOnCpu) {
  ServerOptions options;
  options.args = {"--model", (testing::test_models_dir() / "tiny_isnet.onnx").string()};
  options.env = {{"CUTOUT_NVML_LIBRARY", CUTOUT_FAKE_NVML}};
  ServerProcess server(options);
  for (const auto& [key, value] : scrape(server)) EXPECT_NE(key.rfind("cutout_gpu_", 0), 0u) << key;
  auto c = server.client();
  ASSERT_TRUE(c.Get("/healthz", ua()));
  auto line = server.wait_for_log([](const json& j) { return j.value("endpoint", "") == "/healthz"; }, 10s);
  ASSERT_TRUE(line) << server.log_text();
  EXPECT_TRUE((*line)["gpu_memory_used"].is_null());
}

// `cutout healthcheck`, the container's HEALTHCHECK: 0 for a 200, 1 otherwise or without a server.
TEST(ServerE2E, HealthcheckCommandProbesTheServer) {
  ServerOptions options;
  options.args = {"--model", (testing::test_models_dir() / "tiny_isnet.onnx").string()};
  ServerProcess server(options);
  const std::string bin =
      testing::cutout_binary().string() + " healthcheck -q --port " + std::to_string(server.port());
  EXPECT_EQ(testing::run_command(bin), 0);
  EXPECT_EQ(testing::run_command(bin + " --path /readyz"), 0);
  EXPECT_EQ(testing::run_command(bin + " --path /no/such/route"), 1);
  EXPECT_EQ(testing::run_command("PORT=" + std::to_string(server.port()) + " " +
                                 testing::cutout_binary().string() + " healthcheck -q"),
            0);
  server.signal(SIGTERM);
  ASSERT_TRUE(server.wait_exit(30s));
  EXPECT_EQ(testing::run_command(bin + " --timeout-ms 500"), 1);
}

}  // namespace
}  // namespace cutout
