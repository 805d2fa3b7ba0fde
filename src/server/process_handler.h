// POST /api/v2/process (SPEC §3): parse, decode on the request's thread, queue the inference in
// the Engine, wait (bounded by --request-timeout-ms, abandoned if the client leaves), then render
// and encode the outputs on the request's thread -- so one request's effects and encoding overlap
// with the next request's inference. Answers JSON, one image, or server-sent events.
//
// Thread-safety: operator() runs concurrently on the HTTP worker threads; the route's own state
// is const after construction, and what it uses (the Engine, the metrics) is thread-safe.
// Lifetime: it holds references to the config, the engine, the metrics and the draining flag,
// which the caller (cmd_serve, through Service) keeps alive until the HTTP server has stopped.
#pragma once

#include <atomic>
#include <string_view>

#include "core/pipeline.h"

#include "server/engine.h"
#include "server/metrics.h"
#include "server/router.h"
#include "server/serve_config.h"

namespace cutout::server {

class ProcessRoute {
 public:
  // Creates the route's metric series (stages, outputs, cold requests) at 0.
  ProcessRoute(const ServeConfig& config, Engine& engine, MetricsRegistry& metrics,
               const std::atomic<bool>& draining);

  HttpResponse operator()(HttpRequest& request, RequestInfo& info) const;

 private:
  const ServeConfig& config_;
  Engine& engine_;
  MetricsRegistry& metrics_;
  const std::atomic<bool>& draining_;
};

// One photo through the engine as POST /api/v2/process runs it, up to the cut-out: decode on the
// caller's thread, queue and wait for the matte (bounded by --request-timeout-ms; abandoned if the
// client leaves), the edge stages, crop and max_side as `options` ask. For other APIs over the
// same engine (the remove.bg one). Throws ApiException as process does, with the same refusals
// counted.
struct EngineCutout {
  cv::Mat rgba;  // the cut-out, straight alpha
  StageTimings timings;
  double queue_ms = 0;
  bool cold_start = false;
};
EngineCutout cut_out_with_engine(const ServeConfig& config, Engine& engine, MetricsRegistry& metrics,
                                 const RemoveOptions& options, std::string_view bytes,
                                 const HttpRequest& request, RequestInfo& info);

// POST /api/v2/render (issue 16): the photo and a matte the client already has (the `mask`
// output), with the process parameters, rendered without the network: decode, edges as asked,
// effects, encode, on the request's thread. Stateless, so any instance behind a load balancer
// answers it. At most 2 x cores renders at once; more get 429.
class RenderRoute {
 public:
  RenderRoute(const ServeConfig& config, MetricsRegistry& metrics, const std::atomic<bool>& draining);

  HttpResponse operator()(HttpRequest& request, RequestInfo& info) const;

 private:
  const ServeConfig& config_;
  MetricsRegistry& metrics_;
  const std::atomic<bool>& draining_;
  const int limit_;
  mutable std::atomic<int> active_{0};
};

}  // namespace cutout::server
