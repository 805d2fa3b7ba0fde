// Configuration of `cutout serve`. Plain data; src/cli/cmd_serve.cpp holds the one table of
// flags, each with its CUTOUT_* environment variable (flag > environment > default); the model
// flags in it come from add_model_flags (cli_common.h), shared with the other commands.
#pragma once

#include <cstdint>
#include <string>

#include "inference/model_registry.h"
#include "inference/ort_session.h"

namespace cutout::server {

struct ServeConfig {
  std::string host = "0.0.0.0";
  int port = 8080;  // CUTOUT_PORT, else Cloud Run's PORT
  // Model
  std::string model = kDefaultModel;
  std::string model_kind;
  int base_size = 0;
  int threads = 0;  // 0: CUTOUT_THREADS / OMP_NUM_THREADS / cores
  std::string device = "cpu";
  std::string ort_core;  // CUTOUT_ORT_CORE: asus4, microsoft or a path; empty: the default
  // Limits
  uint64_t max_body_bytes = 25u << 20;
  uint64_t max_pixels = 50'000'000;
  int max_output_side = 8192;     // cap on the outputs' longest side
  int queue_limit = 4;            // jobs waiting for inference; more get 429
  int inference_concurrency = 1;  // inferences at once (each uses all `threads`)
  int max_batch = 1;              // CUTOUT_MAX_BATCH: queued photos run as one batch (1: off)
  double batch_delay_ms = 2;      // CUTOUT_BATCH_DELAY_MS: how long a batch waits for company
  int request_timeout_ms = 120'000;
  int ready_wait_ms = 30'000;     // how long /api/v2/warmup waits for the model
  int drain_timeout_ms = 25'000;  // SIGTERM: how long in-flight work may take
  int http_threads = 32;          // requests handled at once
  int max_connections = 1024;     // client connections open at once
  uint32_t max_header_bytes = 64u << 10;
  double header_timeout_s = 10;  // deadlines of the transport (src/server/http_server.h)
  double body_timeout_s = 60;
  double keepalive_timeout_s = 30;
  // ONNX Runtime's idle intra-op threads spin this long before sleeping (0: they never spin).
  int ort_spin_us = 0;
  std::string api_key;       // CUTOUT_API_KEY: required on /api/* when set
  std::string cors_origins;  // CUTOUT_CORS_ORIGINS: origins allowed cross-origin ("*", a comma list; "" none)
  // remove.bg's image_url and bg_image_url (src/server/url_fetch.h): the hosts they may fetch from
  // ("" off: they are refused), and the limits of one fetch.
  std::string fetch_allow;       // CUTOUT_FETCH_ALLOW: comma list of host[:port] or *.domain[:port]
  uint64_t fetch_max_bytes = 0;  // 0: max_body_bytes
  double fetch_timeout_s = 10;   // the whole fetch, redirects included
  std::string log_level = "info";
  std::string trace_project;  // GOOGLE_CLOUD_PROJECT: for logging.googleapis.com/trace
  double price_per_hour = 0;  // instance price, for cost per image (dashboard)
  std::string web_dir;        // serve web/ from this folder instead of the embedded copy (development)
  // Sharing (POST /api/v2/share-image, /s/{id})
  std::string data_dir;     // default: $XDG_DATA_HOME/cutout or ~/.local/share/cutout
  std::string share_store;  // file:DIR | redis://host:port/db | none; default file:<data_dir>/shares
  uint64_t share_max_bytes = 10u << 20;
  int64_t share_ttl_s = 7 * 24 * 3600;
  int64_t share_max_ttl_s = 30 * 24 * 3600;
  double share_rate_per_minute = 30;  // share uploads per client address (burst the same); 0: no limit
  int share_sweep_interval_s = 60;
  bool trust_forwarded_for = false;  // client address = first X-Forwarded-For entry (behind a proxy)
  std::string public_url;            // base of share URLs; default from Host / X-Forwarded-Proto
};

}  // namespace cutout::server
