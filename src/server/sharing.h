// Sharing (SPEC §3): POST /api/v2/share-image stores an image for a link, GET /s/{id} serves it,
// DELETE /s/{id} deletes it with its token. Sharing owns the store (share_store.h), the per-address
// rate limit, the store's gauges (cached a second: a Redis round trip per scrape is enough) and
// the thread that sweeps expired images; this file's .cpp is the HTTP side: limits, the image
// check, headers, errors. With no store (--share-store none) its routes answer 404.
//
// Thread-safety: the routes and the gauges run concurrently on the HTTP worker threads; the store
// is thread-safe, the stats cache has its own mutex. Lifetime: it holds references to the config,
// the metrics and the logger, which outlive it (cmd_serve); the destructor stops the sweeper.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "server/log.h"
#include "server/metrics.h"
#include "server/rate_limiter.h"
#include "server/router.h"
#include "server/serve_config.h"
#include "server/share_store.h"

namespace cutout::server {

class Sharing {
 public:
  // `store`: null when sharing is off. Creates the gauges and counters and starts the sweeper.
  Sharing(const ServeConfig& config, MetricsRegistry& metrics, Logger& logger,
          std::unique_ptr<ShareStore> store);
  ~Sharing();
  Sharing(const Sharing&) = delete;
  Sharing& operator=(const Sharing&) = delete;

  bool enabled() const { return store_ != nullptr; }
  // POST /api/v2/share-image, GET /s/{id}, DELETE /s/{id}.
  void add_routes(Router& router);

 private:
  HttpResponse share_image(HttpRequest&, RequestInfo&);
  HttpResponse shared_get(HttpRequest&, RequestInfo&);
  HttpResponse shared_delete(HttpRequest&, RequestInfo&);

  ShareStoreStats stats();
  void sweep_every(std::stop_token stop);
  void store_failed(const char* operation, const ShareStoreError& e);
  // The client's address for the rate limit: X-Forwarded-For's first hop behind a trusted proxy.
  std::string client_address(const HttpRequest& request) const;

  const ServeConfig& config_;
  MetricsRegistry& metrics_;
  Logger& logger_;
  std::unique_ptr<ShareStore> store_;
  RateLimiter limiter_;
  std::mutex stats_mutex_;
  ShareStoreStats stats_;
  std::chrono::steady_clock::time_point stats_at_{};
  std::jthread sweeper_;  // last: stopped and joined first
};

}  // namespace cutout::server
