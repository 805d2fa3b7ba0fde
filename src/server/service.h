// The HTTP API of SPEC §3 on plain requests: the route table, request ids, the API key, errors
// (every route throws ApiException; handle() renders it), access logs and request metrics. It
// serves the small endpoints itself (health, readiness, status, warm-up, metrics, the pages);
// POST /api/v2/process is ProcessRoute (process_handler.h) and sharing is Sharing (sharing.h).
//
// Thread-safety: handle() and transport_error() run concurrently on the HTTP threads; the
// service's own state is the router (const after construction), atomics and thread-safe parts.
// Lifetime: it holds references to the config, engine, metrics and logger, which cmd_serve keeps
// alive until the HTTP server has stopped; the metrics' gauge callbacks refer to the service, so
// the registry must not be rendered after it is destroyed.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "server/api_error.h"
#include "server/cors.h"
#include "server/engine.h"
#include "server/gpu_monitor.h"
#include "server/http_server.h"
#include "server/log.h"
#include "server/metrics.h"
#include "server/process_handler.h"
#include "server/removebg.h"
#include "server/router.h"
#include "server/serve_config.h"
#include "server/share_store.h"
#include "server/sharing.h"

namespace cutout::server {

class Service {
 public:
  // `share`: the share store, or null when sharing is off (its endpoints then answer 404).
  Service(const ServeConfig& config, Engine& engine, MetricsRegistry& metrics, Logger& logger,
          std::unique_ptr<ShareStore> share = nullptr);
  ~Service();

  HttpResponse handle(HttpRequest& request);
  // For requests the transport refuses before any handler runs (oversize, malformed, too slow,
  // too many connections): SPEC §3's JSON, a request id, a log line and the metrics.
  HttpResponse transport_error(HttpRequest& request, const ApiError& error);

  // Called by the engine's status listener: logs the change and updates the gauges.
  void on_model_status(ModelStatus status, double duration_ms, const std::string& detail);
  // SIGTERM: /readyz answers 503 and new process requests are refused while in-flight ones finish.
  void start_draining();

 private:
  HttpResponse healthz(HttpRequest&, RequestInfo&);
  HttpResponse readyz(HttpRequest&, RequestInfo&);
  HttpResponse status(HttpRequest&, RequestInfo&);
  HttpResponse warmup(HttpRequest&, RequestInfo&);
  HttpResponse metrics(HttpRequest&, RequestInfo&);
  HttpResponse page(HttpRequest&, RequestInfo&);  // GET /, /dashboard and /static/<file>

  HttpResponse error_response(const ApiError& error, RequestInfo& info);
  // Access log and metrics of a finished request (`status` as counted; `sent_status` as sent).
  void finish(const HttpRequestLog& http, const std::string& trace_header, int status,
              const RequestInfo& info, std::chrono::steady_clock::time_point start);
  bool authorized(const HttpRequest& request) const;
  nlohmann::json status_json() const;
  // The series that exist from the start at 0 (see the constructor).
  void create_metrics();
  // The GPU gauges of SPEC §5 (one series per GPU that NVML sees); none, with a log line, without NVML.
  void add_gpu_metrics();
  // The families of the request metrics, one place for each name, help text and buckets.
  Counter& request_counter(const std::string& endpoint, const std::string& code);
  Histogram& request_histogram(const std::string& endpoint);
  Histogram& process_histogram(bool cold);

  const ServeConfig& config_;
  Engine& engine_;
  MetricsRegistry& metrics_;
  Logger& logger_;
  std::atomic<bool> draining_{false};
  std::atomic<double> cold_start_ms_{-1};
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  const double process_start_s_;
  std::unique_ptr<GpuMonitor> gpu_;  // only when the model runs on a GPU (--device other than cpu)
  ProcessRoute process_;
  RenderRoute render_;
  RemoveBgRoute removebg_;
  Sharing sharing_;
  Router router_;
  const CorsPolicy cors_;
};

// A random request id (32 hex characters), or the client's X-Request-Id when it is sane.
std::string make_request_id(const std::string& from_header);

// The API key a request carries: X-API-Key, else "Authorization: Bearer KEY"; "" when none.
std::string api_key_of(const HttpRequest& request);

// Constant-time comparison, for API keys.
bool constant_time_equal(const std::string& a, const std::string& b);

}  // namespace cutout::server
