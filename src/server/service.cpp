#include "server/service.h"

#include <fstream>
#include <iterator>
#include <random>

#include <nlohmann/json.hpp>

#include "core/timer.h"
#include "inference/ort_core.h"
#include "server/web_assets.h"

namespace cutout::server {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

double epoch_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

HttpResponse json_response(int status, const nlohmann::json& body) {
  HttpResponse r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

// What the access log says of a request (status, size and latency are added when it ends).
HttpRequestLog request_log(const HttpRequest& request) {
  HttpRequestLog http;
  http.method = request.method;
  http.url = request.target;
  http.remote_ip = request.remote_ip;
  http.user_agent = request.header("User-Agent");
  return http;
}

// Counts the bytes of a stream, for the access log's responseSize.
class CountingSink : public EventSink {
 public:
  explicit CountingSink(EventSink& to) : to_(to) {}
  bool write(std::string_view data) override {
    bytes += data.size();
    return to_.write(data);
  }
  uint64_t bytes = 0;

 private:
  EventSink& to_;
};

}  // namespace

std::string make_request_id(const std::string& from_header) {
  const bool sane = !from_header.empty() && from_header.size() <= 64 &&
                    std::all_of(from_header.begin(), from_header.end(), [](char c) {
                      return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
                    });
  if (sane) return from_header;
  thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(rng()),
                static_cast<unsigned long long>(rng()));
  return buf;
}

std::string api_key_of(const HttpRequest& request) {
  const std::string given = request.header("X-API-Key");
  if (!given.empty()) return given;
  const std::string auth = request.header("Authorization");
  return auth.rfind("Bearer ", 0) == 0 ? auth.substr(7) : std::string();
}

bool constant_time_equal(const std::string& a, const std::string& b) {
  // Compare every byte of the longer one, so the time does not tell how much matched.
  const size_t n = std::max(a.size(), b.size());
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= x ^ y;
  }
  return diff == 0;
}

Service::Service(const ServeConfig& config, Engine& engine, MetricsRegistry& metrics, Logger& logger,
                 std::unique_ptr<ShareStore> share)
    : config_(config),
      engine_(engine),
      metrics_(metrics),
      logger_(logger),
      process_start_s_(process_start_time_seconds()),
      process_(config, engine, metrics, draining_),
      render_(config, metrics, draining_),
      removebg_(config, engine, metrics, draining_),
      sharing_(config, metrics, logger, std::move(share)),
      cors_(config.cors_origins) {
  auto bind = [this](HttpResponse (Service::*fn)(HttpRequest&, RequestInfo&)) {
    return [this, fn](HttpRequest& r, RequestInfo& i) { return (this->*fn)(r, i); };
  };
  // The route table.
  router_.add("GET", "/healthz", bind(&Service::healthz));
  router_.add("GET", "/readyz", bind(&Service::readyz));
  router_.add("GET", "/api/v2/status", bind(&Service::status));
  router_.add("POST", "/api/v2/warmup", bind(&Service::warmup));
  router_.add("POST", "/api/v2/process", [this](HttpRequest& r, RequestInfo& i) { return process_(r, i); });
  router_.add("POST", "/api/v2/render", [this](HttpRequest& r, RequestInfo& i) { return render_(r, i); });
  router_.add("POST", "/v1.0/removebg", [this](HttpRequest& r, RequestInfo& i) { return removebg_(r, i); });
  router_.add("GET", "/metrics", bind(&Service::metrics));
  router_.add("GET", "/", bind(&Service::page));
  router_.add("GET", "/dashboard", bind(&Service::page));
  router_.add("GET", "/static/{file}", bind(&Service::page), "/static");
  sharing_.add_routes(router_);
  create_metrics();
}

Service::~Service() = default;

void Service::create_metrics() {
  // Scrape-time gauges.
  metrics_.gauge_callback("cutout_queue_depth", "Process requests waiting for inference",
                          [this] { return engine_.queue_depth(); });
  metrics_.gauge_callback("cutout_in_flight", "Inferences running", [this] { return engine_.in_flight(); });
  metrics_.gauge_callback("cutout_cold_start_seconds", "Process start to model ready (NaN until ready)",
                          [this] {
                            const double ms = cold_start_ms_;
                            return ms < 0 ? std::nan("") : ms / 1000.0;
                          });
  // 0 ms means "not measured yet": NaN, like the cold start, rather than a false 0.
  metrics_.gauge_callback("cutout_model_load_seconds", "Model session creation (NaN until loaded)", [this] {
    const double ms = engine_.model_load_ms();
    return ms > 0 ? ms / 1000.0 : std::nan("");
  });
  metrics_.gauge_callback("cutout_warmup_seconds", "Warm-up inference (NaN until warm)", [this] {
    const double ms = engine_.warmup_ms();
    return ms > 0 ? ms / 1000.0 : std::nan("");
  });
  // Counters exist from the start at 0, so rate() and alert rules see their first increment. That
  // matters most with scale-to-zero, where every instance starts new series: a series created by
  // its first request loses that request to rate(), and ratios of counters born at different times
  // (cold requests over process requests, errors over requests) come out skewed.
  request_counter("/api/v2/process", "200");
  for (ApiCode code : {ApiCode::kBadRequest, ApiCode::kUnauthorized, ApiCode::kPayloadTooLarge,
                       ApiCode::kUnsupportedMediaType, ApiCode::kUndecodableImage, ApiCode::kOverloaded,
                       ApiCode::kClientGone, ApiCode::kInternal, ApiCode::kNotReady, ApiCode::kTimeout}) {
    request_counter("/api/v2/process", std::to_string(api_code_info(code).status));
  }
  for (const char* code : {"200", "202"}) request_counter("/api/v2/warmup", code);
  request_counter("/api/v2/warmup", std::to_string(api_code_info(ApiCode::kNotReady).status));
  for (const char* endpoint : {"/api/v2/process", "/api/v2/warmup", "/healthz", "/readyz"})
    request_histogram(endpoint);
  process_histogram(true);
  process_histogram(false);
  metrics_.gauge_callback("cutout_queue_limit",
                          "Process requests that may wait for inference (--queue-limit)",
                          [this] { return static_cast<double>(config_.queue_limit); });
  metrics_.gauge_callback("cutout_build_info", "Always 1; the version and model as labels",
                          [] { return 1.0; }, {{"version", CUTOUT_VERSION}, {"model", config_.model}});
  metrics_.counter("cutout_warmup_pings_total", "Warm-up pings (POST /api/v2/warmup)");
  for (const ApiCodeInfo& code : api_codes()) {
    if (!code.reason.empty()) rejected_counter(metrics_, code.reason);
  }
  for (ModelStatus s :
       {ModelStatus::kLoading, ModelStatus::kWarming, ModelStatus::kReady, ModelStatus::kFailed}) {
    metrics_.gauge_callback("cutout_model_status", "1 for the model's current status",
                            [this, s] { return engine_.status() == s ? 1.0 : 0.0; },
                            {{"status", std::string(model_status_name(s))}});
  }
  if (config_.device != "cpu") add_gpu_metrics();
  metrics_.gauge_callback("cutout_price_per_hour_usd", "Configured instance price, for cost per image",
                          [this] { return config_.price_per_hour; });
}

void Service::add_gpu_metrics() {
  gpu_ = std::make_unique<GpuMonitor>();
  if (!gpu_->available()) {
    logger_.warning("no GPU metrics: " + gpu_->unavailable_reason(), {{"device", config_.device}});
    gpu_.reset();
    return;
  }
  for (int i = 0; i < gpu_->device_count(); ++i) {
    const Labels gpu = {{"gpu", std::to_string(i)}};
    auto reading = [this, i](auto field) {
      return [this, i, field] {
        auto r = gpu_->read(i);
        return r ? field(*r) : std::nan("");
      };
    };
    metrics_.gauge_callback(
        "cutout_gpu_memory_used_bytes", "GPU memory in use (NVML), bytes",
        reading([](const GpuReading& r) { return static_cast<double>(r.memory_used_bytes); }), gpu);
    metrics_.gauge_callback(
        "cutout_gpu_memory_total_bytes", "GPU memory in all (NVML), bytes",
        reading([](const GpuReading& r) { return static_cast<double>(r.memory_total_bytes); }), gpu);
    metrics_.gauge_callback("cutout_gpu_utilization_ratio", "Share of time a GPU kernel ran (NVML), 0 to 1",
                            reading([](const GpuReading& r) { return r.utilization_ratio; }), gpu);
  }
  logger_.info("GPU metrics from NVML", {{"gpus", gpu_->device_count()}});
}

HttpResponse Service::handle(HttpRequest& request) {
  const auto start = Clock::now();
  RequestInfo info;
  info.request_id = make_request_id(request.header("X-Request-Id"));
  const Router::Match route = router_.match(request.method, request.path);
  info.endpoint = route.endpoint;
  HttpResponse response;
  try {
    if (cors_.is_preflight(request) && route.path_known) {
      response = cors_.preflight(request, route.methods);  // before the key: preflights carry none
    } else if (!route.handler && route.path_known) {
      throw ApiException(ApiCode::kMethodNotAllowed, request.method + " is not allowed on " + request.path);
    } else if (!route.handler) {
      throw ApiException(not_found("no such endpoint: " + request.path));
    } else {
      if (request.path.rfind("/api/", 0) == 0 && !authorized(request)) {
        rejected_counter(metrics_, api_code_info(ApiCode::kUnauthorized).reason).inc();
        throw ApiException(ApiCode::kUnauthorized, "missing or wrong API key (Authorization: Bearer KEY)");
      }
      response = (*route.handler)(request, info);
    }
  } catch (const ApiException& e) {
    response = error_response(e.error(), info);
  } catch (const std::exception& e) {
    logger_.error("unhandled error", {{"request_id", info.request_id}, {"error", e.what()}});
    response = error_response(api_error_from(e), info);
  }
  response.headers.emplace_back("X-Request-Id", info.request_id);
  cors_.decorate(request, response);  // errors too: a cross-origin client reads them
  HttpRequestLog http = request_log(request);
  const std::string trace = request.header("X-Cloud-Trace-Context");
  if (!info.stream) {
    http.status = response.status;
    http.response_size = response.body.size();
    finish(http, trace, response.status, info, start);
    return response;
  }
  // The log line and the metrics of a stream are written when its last event is.
  response.content_type = "text/event-stream";
  response.stream = [this, http, trace, start,
                     shared = std::make_shared<RequestInfo>(std::move(info))](EventSink& sink) mutable {
    CountingSink counted(sink);
    shared->stream(counted, *shared);
    http.status = 200;
    http.response_size = counted.bytes;
    finish(http, trace, shared->outcome_status, *shared, start);
  };
  return response;
}

HttpResponse Service::transport_error(HttpRequest& request, const ApiError& error) {
  const auto start = Clock::now();
  RequestInfo info;
  info.request_id = make_request_id(request.header("X-Request-Id"));
  info.endpoint = router_.match(request.method, request.path).endpoint;
  const std::string_view reason = api_code_info(error.code).reason;
  if (!reason.empty()) {
    rejected_counter(metrics_, reason).inc();
  }
  HttpResponse response = error_response(error, info);
  response.headers.emplace_back("X-Request-Id", info.request_id);
  cors_.decorate(request, response);
  HttpRequestLog http = request_log(request);
  http.status = response.status;
  http.response_size = response.body.size();
  finish(http, request.header("X-Cloud-Trace-Context"), response.status, info, start);
  return response;
}

HttpResponse Service::error_response(const ApiError& error, RequestInfo& info) {
  info.error_code = error.name();
  HttpResponse r;
  r.status = error.status();
  r.body = error_body(error, info.request_id);
  if (error.retry_after() > 0) r.headers.emplace_back("Retry-After", std::to_string(error.retry_after()));
  return r;
}

bool Service::authorized(const HttpRequest& request) const {
  if (config_.api_key.empty()) return true;
  const std::string given = api_key_of(request);
  return !given.empty() && constant_time_equal(given, config_.api_key);
}

void Service::finish(const HttpRequestLog& sent, const std::string& trace_header, int status,
                     const RequestInfo& info, Clock::time_point start) {
  const double latency = seconds_since(start);
  const std::string code = std::to_string(status);
  request_counter(info.endpoint, code).inc();
  request_histogram(info.endpoint).observe(latency);
  // Successful process requests, cold (waited for the model) or warm: the "warm p95" of the
  // operations plan, without fast refusals pulling the quantiles down.
  if (info.endpoint == "/api/v2/process" && status == 200)
    process_histogram(info.cold_start).observe(latency);

  HttpRequestLog http = sent;
  http.latency_s = latency;
  nlohmann::json fields = {{"httpRequest", http_request_json(http)},
                           {"endpoint", info.endpoint},
                           {"request_id", info.request_id},
                           {"model_status", model_status_name(engine_.status())},
                           {"cold_start", info.cold_start},
                           {"timings_ms", info.timings},
                           {"gpu_memory_used", nullptr}};
  if (gpu_) {
    if (auto used = gpu_->memory_used_bytes()) fields["gpu_memory_used"] = *used;
  }
  if (!info.error_code.empty()) fields["error_code"] = info.error_code;
  if (auto trace = cloud_trace(trace_header, config_.trace_project)) {
    fields["logging.googleapis.com/trace"] = *trace;
  }
  // Errors we return are warnings (4xx) or errors (5xx); a 503 from /readyz while the model
  // loads is a normal answer, not an error.
  const Severity severity = info.error_code.empty() ? Severity::kInfo
                            : status >= 500         ? Severity::kError
                                                    : Severity::kWarning;
  logger_.log(severity, http.method + " " + http.url.substr(0, http.url.find('?')) + " " + code, fields);
}

void Service::on_model_status(ModelStatus status, double duration_ms, const std::string& detail) {
  nlohmann::json fields = {{"model_status", model_status_name(status)},
                           {"model", engine_.model().name},
                           {"duration_ms", duration_ms}};
  if (!detail.empty()) fields["detail"] = detail;
  if (status == ModelStatus::kReady) {
    cold_start_ms_ = (epoch_seconds() - process_start_s_) * 1000.0;
    fields["cold_start_ms"] = cold_start_ms_.load();
    fields["model_load_ms"] = engine_.model_load_ms();
  }
  logger_.log(status == ModelStatus::kFailed ? Severity::kError : Severity::kInfo,
              "model " + std::string(model_status_name(status)), fields);
}

void Service::start_draining() {
  draining_ = true;
}

HttpResponse Service::healthz(HttpRequest&, RequestInfo&) {
  return json_response(200, {{"status", "ok"}});
}

HttpResponse Service::readyz(HttpRequest&, RequestInfo&) {
  if (draining_) return json_response(503, {{"status", "draining"}});
  const ModelStatus s = engine_.status();
  nlohmann::json body = {{"status", model_status_name(s)}};
  if (s == ModelStatus::kFailed) body["reason"] = engine_.failure();
  return json_response(s == ModelStatus::kReady ? 200 : 503, body);
}

nlohmann::json Service::status_json() const {
  const double cold = cold_start_ms_;
  return {{"model", engine_.model().name},
          {"model_status", model_status_name(engine_.status())},
          {"provider", engine_.provider()},
          {"ort_core", loaded_ort_core() ? nlohmann::json(loaded_ort_core()->name) : nlohmann::json(nullptr)},
          {"threads", engine_.threads()},
          {"cold_start_ms", cold < 0 ? nlohmann::json(nullptr) : nlohmann::json(cold)},
          {"model_load_ms", engine_.model_load_ms()},
          {"warmup_ms", engine_.warmup_ms()},
          {"uptime_s", seconds_since(started_)},
          {"queue_depth", engine_.queue_depth()},
          {"queue_limit", engine_.queue_limit()},
          {"in_flight", engine_.in_flight()},
          {"max_batch", engine_.max_batch()},
          {"version", CUTOUT_VERSION},
          {"share_store", sharing_.enabled()},  // the page shows its Share button when true
          {"max_body_bytes", config_.max_body_bytes},
          {"max_pixels", config_.max_pixels},
          {"price_per_hour", config_.price_per_hour}};
}

HttpResponse Service::status(HttpRequest&, RequestInfo&) {
  nlohmann::json body = status_json();
  if (engine_.status() == ModelStatus::kFailed) body["failure"] = engine_.failure();
  return json_response(200, body);
}

HttpResponse Service::warmup(HttpRequest& request, RequestInfo&) {
  // A failed model does not come back by retrying: no Retry-After.
  auto model_failed = [this] {
    return ApiException(ApiCode::kNotReady, "the model failed: " + engine_.failure(), 0);
  };
  metrics_.counter("cutout_warmup_pings_total", "Warm-up pings (POST /api/v2/warmup)").inc();
  const std::string wait = request.param("wait");
  if (!wait.empty() && wait != "true" && wait != "false") {
    throw ApiException(bad_request("invalid wait '" + wait + "' (allowed: true, false)"));
  }
  ModelStatus s = engine_.status();
  if (s == ModelStatus::kReady) return json_response(200, {{"status", "ready"}});
  if (s == ModelStatus::kFailed) throw model_failed();
  if (wait == "false") return json_response(202, {{"status", model_status_name(s)}});
  s = engine_.wait_until_settled(Clock::now() + std::chrono::milliseconds(config_.ready_wait_ms));
  if (s == ModelStatus::kReady) return json_response(200, {{"status", "ready"}});
  if (s == ModelStatus::kFailed) throw model_failed();
  // Not settled within --ready-wait-ms: a load takes a few seconds more.
  throw ApiException(ApiCode::kNotReady, "the model is still " + std::string(model_status_name(s)), 2);
}

HttpResponse Service::metrics(HttpRequest&, RequestInfo&) {
  HttpResponse r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = metrics_.render();
  return r;
}

HttpResponse Service::page(HttpRequest& request, RequestInfo&) {
  const std::string name = request.path == "/" ? "index.html"
                           : request.path == "/dashboard"
                               ? "dashboard.html"
                               : request.path.substr(std::string_view("/static/").size());
  if (!web_file_name_ok(name)) throw ApiException(not_found("no such file: " + request.path));
  // The embedded files carry an ETag made at build time; files from --web-dir (development) are
  // read and hashed on each request, so an edit shows on reload.
  std::string content;
  std::string etag;
  const WebAsset* asset = nullptr;
  if (!config_.web_dir.empty()) {
    std::ifstream in(config_.web_dir + "/" + name, std::ios::binary);
    if (!in) throw ApiException(not_found("no such file: " + request.path));
    content.assign(std::istreambuf_iterator<char>(in), {});
    etag = "\"" + std::to_string(std::hash<std::string>{}(content)) + "\"";
  } else if ((asset = find_web_asset(name))) {
    etag = std::string(asset->etag);
  } else {
    throw ApiException(not_found("no such file: " + request.path));
  }
  HttpResponse r;
  r.content_type = std::string(web_content_type(name));
  r.headers = {{"ETag", etag}, {"Cache-Control", "no-cache"}, {"X-Content-Type-Options", "nosniff"}};
  if (name.ends_with(".html")) {
    // Everything is served from here: no inline script, nothing from elsewhere.
    r.headers.emplace_back(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
    r.headers.emplace_back("Referrer-Policy", "no-referrer");
  }
  if (request.header("If-None-Match") == etag) {
    r.status = 304;
    return r;
  }
  r.body = asset ? std::string(asset->data, asset->size) : std::move(content);
  return r;
}

Counter& Service::request_counter(const std::string& endpoint, const std::string& code) {
  return metrics_.counter("cutout_requests_total",
                          "HTTP requests by endpoint and status code (streams: their outcome)",
                          {{"endpoint", endpoint}, {"code", code}});
}

Histogram& Service::request_histogram(const std::string& endpoint) {
  return metrics_.histogram("cutout_request_duration_seconds",
                            "HTTP request duration (streams: until the last event)", latency_buckets(),
                            {{"endpoint", endpoint}});
}

Histogram& Service::process_histogram(bool cold) {
  return metrics_.histogram("cutout_process_duration_seconds", "Successful process requests, cold or warm",
                            latency_buckets(), {{"cold", cold ? "true" : "false"}});
}

}  // namespace cutout::server
