// The HTTP API of SPEC §3 on plain requests: routing, request ids, the API key, errors, access
// logs and metrics. The work itself is in the core and the Engine; process_handler.cpp holds
// POST /api/v2/process.
//
// Thread-safety: handle() runs concurrently on the HTTP worker threads; the service's state is
// the engine (thread-safe), metrics (thread-safe) and atomics.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "server/api_error.h"
#include "server/engine.h"
#include "server/gpu_monitor.h"
#include "server/http_server.h"
#include "server/log.h"
#include "server/metrics.h"
#include "server/rate_limiter.h"
#include "server/serve_config.h"
#include "server/share_store.h"

namespace cutout::server {

// What a handler learnt about its request, for the access log and the metrics.
struct RequestInfo {
  std::string request_id;
  std::string endpoint;              // the route, e.g. "/api/v2/process"; "other" for unknown paths
  bool cold_start = false;           // waited for the model
  nlohmann::json timings = nullptr;  // timings_ms of a process request
  std::string error_code;            // of an error response
  // A streamed answer: set by a route instead of HttpResponse::stream. It runs after the headers
  // (status 200) and records its outcome here: `outcome_status` is the status of the error that
  // ended the stream (e.g. 504), or 200. The access log and metrics are written when it ends, so
  // a stream's duration and errors are counted like any other request's.
  std::function<void(EventSink&, RequestInfo&)> stream;
  int outcome_status = 200;
};

class Service {
 public:
  // `share`: the share store, or null when sharing is off (its endpoints then answer 404).
  Service(const ServeConfig& config, Engine& engine, MetricsRegistry& metrics, Logger& logger,
          std::unique_ptr<ShareStore> share = nullptr);
  ~Service();

  HttpResponse handle(HttpRequest& request);
  // For requests the transport refuses before any handler runs (oversize, malformed, too slow,
  // too many connections): SPEC §3's JSON, a request id, a log line and the metrics.
  HttpResponse transport_error(HttpRequest& request, const TransportError& error);

  // Called by the engine's status listener: logs the change and updates the gauges.
  void on_model_status(ModelStatus status, double duration_ms, const std::string& detail);
  // SIGTERM: /readyz answers 503 and new process requests are refused while in-flight ones finish.
  void start_draining();

 private:
  using Route = std::function<HttpResponse(HttpRequest&, RequestInfo&)>;

  HttpResponse healthz(HttpRequest&, RequestInfo&);
  HttpResponse readyz(HttpRequest&, RequestInfo&);
  HttpResponse status(HttpRequest&, RequestInfo&);
  HttpResponse warmup(HttpRequest&, RequestInfo&);
  HttpResponse metrics(HttpRequest&, RequestInfo&);
  HttpResponse page(HttpRequest&, RequestInfo&);         // GET /, /dashboard and /static/<file>
  HttpResponse process(HttpRequest&, RequestInfo&);      // process_handler.cpp
  HttpResponse share_image(HttpRequest&, RequestInfo&);  // share_handler.cpp
  HttpResponse shared_get(HttpRequest&, RequestInfo&);
  HttpResponse shared_delete(HttpRequest&, RequestInfo&);

  HttpResponse error_response(const ApiError& error, RequestInfo& info);
  // Access log and metrics of a finished request (`status` as counted; `sent_status` as sent).
  void finish(const HttpRequestLog& http, const std::string& trace_header, int status,
              const RequestInfo& info, std::chrono::steady_clock::time_point start);
  bool authorized(const HttpRequest& request) const;
  nlohmann::json status_json() const;
  // Observes a finished process request's stages (seconds) in the stage histogram.
  void observe_stages(const StageTimings& timings, double queue_ms);
  // Sharing (share_handler.cpp): the store's figures for the gauges (cached a second: a Redis
  // round trip per scrape is enough), the periodic sweep, and the client address for rate limits.
  ShareStoreStats share_stats();
  void sweep_shares_every(std::stop_token stop);
  // The GPU gauges of SPEC §5 (one series per GPU that NVML sees); none, with a log line, without NVML.
  void add_gpu_metrics();
  // The families of the request metrics, one place for each name, help text and buckets.
  Counter& request_counter(const std::string& endpoint, const std::string& code);
  Histogram& request_histogram(const std::string& endpoint);
  Histogram& process_histogram(bool cold);
  Histogram& stage_histogram(const std::string& stage);
  void share_store_failed(const char* operation, const ShareStoreError& e);
  std::string client_address(const HttpRequest& request) const;

  const ServeConfig& config_;
  Engine& engine_;
  MetricsRegistry& metrics_;
  Logger& logger_;
  std::map<std::pair<std::string, std::string>, Route> routes_;  // (method, path)
  std::atomic<bool> draining_{false};
  std::atomic<double> cold_start_ms_{-1};
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  const double process_start_s_;
  std::unique_ptr<ShareStore> share_;
  std::unique_ptr<GpuMonitor> gpu_;  // only when the model runs on a GPU (--device other than cpu)
  RateLimiter share_limiter_;
  std::mutex share_stats_mutex_;
  ShareStoreStats share_stats_;
  std::chrono::steady_clock::time_point share_stats_at_{};
  std::jthread share_sweeper_;  // last: stopped and joined first

  friend class ProcessHandler;
};

// A random request id (32 hex characters), or the client's X-Request-Id when it is sane.
std::string make_request_id(const std::string& from_header);

// Constant-time comparison, for API keys.
bool constant_time_equal(const std::string& a, const std::string& b);

}  // namespace cutout::server
