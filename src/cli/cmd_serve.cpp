// cutout serve: the HTTP service. This file holds the one table of its flags (each with its
// CUTOUT_* environment variable; flag > environment > default), starts the service, and waits
// for SIGTERM/SIGINT to drain it.
#include <signal.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "core/error.h"
#include "server/engine.h"
#include "server/http_server.h"
#include "server/log.h"
#include "server/metrics.h"
#include "server/service.h"
#include "server/share_store.h"
#include "server/url_fetch.h"

namespace cutout::cli {
namespace {

using server::ServeConfig;

// Cloud Run sets PORT; CUTOUT_PORT (or --port) wins over it.
void apply_cloud_run_port(ServeConfig& config, const CLI::App& cmd) {
  if (cmd.count("--port") == 0 && !std::getenv("CUTOUT_PORT")) {
    if (const char* port = std::getenv("PORT"); port && *port) {
      char* end = nullptr;
      const long p = std::strtol(port, &end, 10);
      if (!end || *end || p < 1 || p > 65535)
        throw Error(ErrorCode::kInvalidArgument, "PORT must be 1-65535");
      config.port = static_cast<int>(p);
    }
  }
}

// The share store of the configuration: "none" -> null; default file:<data dir>/shares.
std::unique_ptr<server::ShareStore> open_configured_share_store(ServeConfig& config) {
  if (config.share_ttl_s > config.share_max_ttl_s) {
    throw Error(ErrorCode::kInvalidArgument, "--share-ttl-s is over --share-max-ttl-s");
  }
  if (config.share_store == "none") return nullptr;
  if (config.data_dir.empty()) {
    const char* xdg = std::getenv("XDG_DATA_HOME");
    const char* home = std::getenv("HOME");
    config.data_dir = xdg && *xdg     ? std::string(xdg) + "/cutout"
                      : home && *home ? std::string(home) + "/.local/share/cutout"
                                      : std::string("cutout-data");
  }
  if (config.share_store.empty()) config.share_store = "file:" + config.data_dir + "/shares";
  try {
    return server::open_share_store(config.share_store);
  } catch (const std::invalid_argument& e) {
    throw Error(ErrorCode::kInvalidArgument, e.what());
  } catch (const server::ShareStoreError& e) {
    throw Error(ErrorCode::kInvalidArgument, std::string("cannot open the share store: ") + e.what());
  }
}

// Every connection is a descriptor: raise the soft limit to the hard one (as nginx's
// worker_rlimit_nofile would), and say so when even that is short of --max-connections.
void raise_file_limit(const server::ServeConfig& config, server::Logger& logger) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
    getrlimit(RLIMIT_NOFILE, &limit);
  }
  const rlim_t needed = static_cast<rlim_t>(config.max_connections) + 256;  // models, stores, logs
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < needed) {
    logger.warning(
        "the open-file limit is below --max-connections",
        {{"open_files", static_cast<double>(limit.rlim_cur)}, {"max_connections", config.max_connections}});
  }
}

int run_serve(ServeConfig config, const CLI::App& cmd) {
  apply_cloud_run_port(config, cmd);
  std::unique_ptr<server::ShareStore> share = open_configured_share_store(config);
  // Validate before anything starts.
  const ModelOptions model{config.model,   config.model_kind, config.base_size,
                           config.threads, config.device,     config.ort_core};
  server::EngineOptions engine_options;
  engine_options.model = model.descriptor();
  // A missing model file is a configuration error: stop now rather than listen and answer 503s.
  // (A file that is there but does not load fails in the background; /readyz then says why.)
  if (std::error_code ec; !std::filesystem::is_regular_file(engine_options.model.path, ec)) {
    throw Error(ErrorCode::kInvalidArgument, "model file not found: " + engine_options.model.path.string() +
                                                 " (run scripts/setup.sh to fetch the built-in models)");
  }
  // cuda lacking anything stops here, naming it; auto decides here, and says why when it is cpu.
  std::string cpu_because;
  engine_options.session = model.session_config(&cpu_because);
  config.device = std::string(device_name(engine_options.session.device));
  // Idle ONNX Runtime threads must not spin here: HTTP, decoding and rendering threads share the
  // cores, and a preempted spinning worker stalls every barrier of the run. Measured while
  // /readyz was polled every 10 ms: model ready after 8.7 s spinning, 2.7 s not.
  engine_options.session.allow_spinning = config.ort_spin_us > 0;
  engine_options.session.spin_duration_us = config.ort_spin_us;
  engine_options.queue_limit = config.queue_limit;
  engine_options.concurrency = config.inference_concurrency;
  engine_options.max_batch = config.max_batch;
  engine_options.batch_delay_ms = config.batch_delay_ms;
  server::Severity level;
  try {
    level = server::parse_severity(config.log_level);
  } catch (const std::invalid_argument& e) {
    throw Error(ErrorCode::kInvalidArgument, e.what());
  }
  model.apply_cv_threads();

  // Signals are taken by sigwait below; every thread created from here on inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  server::Logger logger(stdout, level);
  raise_file_limit(config, logger);
  if (!cpu_because.empty()) logger.warning("--device auto: running on cpu", {{"reason", cpu_because}});
  server::MetricsRegistry metrics;
  std::unique_ptr<server::Service> service;
  server::Engine engine(engine_options, [&](server::ModelStatus s, double ms, const std::string& detail) {
    if (service) service->on_model_status(s, ms, detail);
  });
  if (share) {
    // Expired shares and a crashed process's temp files go before the first request; a Redis that
    // is not up yet is retried by the periodic sweeper.
    try {
      const int swept = share->sweep();
      logger.info("share store", {{"store", share->kind()}, {"spec", config.share_store}, {"swept", swept}});
    } catch (const server::ShareStoreError& e) {
      logger.warning("share store not reachable yet", {{"store", share->kind()}, {"error", e.what()}});
    }
  }
  service = std::make_unique<server::Service>(config, engine, metrics, logger, std::move(share));

  server::HttpServerOptions http;
  http.host = config.host;
  http.port = config.port;
  http.threads = config.http_threads;
  http.max_body_bytes = config.max_body_bytes;
  http.max_header_bytes = config.max_header_bytes;
  http.max_connections = config.max_connections;
  http.header_timeout_s = config.header_timeout_s;
  http.body_timeout_s = config.body_timeout_s;
  http.keepalive_timeout_s = config.keepalive_timeout_s;
  http.on_error = [&](server::HttpRequest& r, const server::ApiError& e) {
    return service->transport_error(r, e);
  };
  server::HttpServer http_server(http, [&](server::HttpRequest& r) { return service->handle(r); });
  metrics.gauge_callback("cutout_http_connections", "Client connections open",
                         [&http_server] { return static_cast<double>(http_server.open_connections()); });
  std::string error;
  if (!http_server.bind(&error)) {
    logger.error("cannot start", {{"error", error}});
    return kExitFailed;
  }
  // Listen first, then load: /healthz answers (and cold requests queue) while the model loads.
  std::thread serving([&] { http_server.run(); });
  logger.info("listening", {{"host", config.host},
                            {"port", http_server.bound_port()},
                            {"model", engine_options.model.name},
                            {"threads", engine.threads()},
                            {"queue_limit", config.queue_limit},
                            {"inference_concurrency", config.inference_concurrency},
                            {"max_batch", config.max_batch}});
  engine.start();

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  logger.info("draining", {{"signal", signal_number == SIGTERM ? "SIGTERM" : "SIGINT"},
                           {"drain_timeout_ms", config.drain_timeout_ms}});
  service->start_draining();
  // Stop accepting, and give in-flight requests until the drain timeout to finish.
  auto drained = std::async(std::launch::async, [&] {
    http_server.stop();
    serving.join();
    engine.shutdown();
  });
  if (drained.wait_for(std::chrono::milliseconds(config.drain_timeout_ms)) != std::future_status::ready) {
    logger.warning("drain timed out; exiting with work in flight", {});
    std::fflush(stdout);
    std::_Exit(0);
  }
  logger.info("stopped", {});
  return kExitOk;
}

}  // namespace

void add_serve_command(CLI::App& app, int& exit_status) {
  auto config = std::make_shared<ServeConfig>();
  CLI::App* cmd = app.add_subcommand("serve", "run the HTTP service (SPEC §3)");
  ServeConfig& c = *config;
  // The table: flag, variable, help. Bad values (from either) stop the start with a message. The
  // model flags are those of every command that runs the model (add_model_flags), with variables.
  cmd->add_option("--host", c.host, "address to listen on")->envname("CUTOUT_HOST")->capture_default_str();
  cmd->add_option("--port", c.port, "port (also Cloud Run's PORT)")
      ->envname("CUTOUT_PORT")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  add_model_flags(*cmd, {c.model, c.model_kind, c.base_size, c.threads, c.device, c.ort_core}, true);
  cmd->add_option("--max-body-bytes", c.max_body_bytes, "largest request body")
      ->envname("CUTOUT_MAX_BODY_BYTES")
      ->check(CLI::Range(uint64_t{1024}, uint64_t{1} << 32))
      ->capture_default_str();
  cmd->add_option("--max-pixels", c.max_pixels, "largest image, in pixels (checked from the header)")
      ->envname("CUTOUT_MAX_PIXELS")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 40))
      ->capture_default_str();
  cmd->add_option("--max-output-side", c.max_output_side, "cap on the outputs' longest side")
      ->envname("CUTOUT_MAX_OUTPUT_SIDE")
      ->check(CLI::Range(16, 65535))
      ->capture_default_str();
  cmd->add_option("--queue-limit", c.queue_limit, "process requests that may wait for inference")
      ->envname("CUTOUT_QUEUE_LIMIT")
      ->check(CLI::Range(0, 10000))
      ->capture_default_str();
  cmd->add_option("--inference-concurrency", c.inference_concurrency, "inferences at once")
      ->envname("CUTOUT_INFERENCE_CONCURRENCY")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  cmd->add_option("--max-batch", c.max_batch,
                  "dynamic batching: up to this many queued photos run the model together (1: off; the "
                  "model's batch dimension must allow it)")
      ->envname("CUTOUT_MAX_BATCH")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  cmd->add_option("--batch-delay-ms", c.batch_delay_ms,
                  "with --max-batch: how long a photo waits for others to batch with")
      ->envname("CUTOUT_BATCH_DELAY_MS")
      ->check(CLI::Range(0.0, 100.0))
      ->capture_default_str();
  cmd->add_option("--request-timeout-ms", c.request_timeout_ms, "deadline of a process request (504)")
      ->envname("CUTOUT_REQUEST_TIMEOUT_MS")
      ->check(CLI::Range(100, 3'600'000))
      ->capture_default_str();
  cmd->add_option("--ready-wait-ms", c.ready_wait_ms, "how long /api/v2/warmup waits for the model")
      ->envname("CUTOUT_READY_WAIT_MS")
      ->check(CLI::Range(0, 600'000))
      ->capture_default_str();
  cmd->add_option("--drain-timeout-ms", c.drain_timeout_ms, "SIGTERM: time allowed to finish in-flight work")
      ->envname("CUTOUT_DRAIN_TIMEOUT_MS")
      ->check(CLI::Range(0, 600'000))
      ->capture_default_str();
  cmd->add_option("--http-threads", c.http_threads, "requests handled at once (slow clients hold none)")
      ->envname("CUTOUT_HTTP_THREADS")
      ->check(CLI::Range(2, 4096))
      ->capture_default_str();
  cmd->add_option("--max-connections", c.max_connections, "client connections open at once; more get 503")
      ->envname("CUTOUT_MAX_CONNECTIONS")
      ->check(CLI::Range(1, 1'000'000))
      ->capture_default_str();
  cmd->add_option("--max-header-bytes", c.max_header_bytes, "request line and headers; more get 431")
      ->envname("CUTOUT_MAX_HEADER_BYTES")
      ->check(CLI::Range(1024u, 16u << 20))
      ->capture_default_str();
  cmd->add_option("--header-timeout-s", c.header_timeout_s,
                  "a request's headers must arrive within this (408)")
      ->envname("CUTOUT_HEADER_TIMEOUT_S")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  cmd->add_option("--body-timeout-s", c.body_timeout_s, "its body within this after the headers (408)")
      ->envname("CUTOUT_BODY_TIMEOUT_S")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  cmd->add_option("--keepalive-timeout-s", c.keepalive_timeout_s,
                  "idle keep-alive connections close after this")
      ->envname("CUTOUT_KEEPALIVE_TIMEOUT_S")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  cmd->add_option("--ort-spin-us", c.ort_spin_us, "microseconds idle inference threads spin before sleeping")
      ->envname("CUTOUT_ORT_SPIN_US")
      ->check(CLI::Range(0, 100'000))
      ->capture_default_str();
  cmd->add_option("--api-key", c.api_key, "require this key on /api/* (Authorization: Bearer KEY)")
      ->envname("CUTOUT_API_KEY");
  cmd->add_option(
         "--cors-origins", c.cors_origins,
         "origins whose pages may call the API (comma list of scheme://host[:port], or *; default none)")
      ->envname("CUTOUT_CORS_ORIGINS")
      ->check([](const std::string& value) {
        try {
          server::CorsPolicy{value};
          return std::string();
        } catch (const std::invalid_argument& e) {
          return std::string(e.what());
        }
      });
  cmd->add_option("--fetch-allow", c.fetch_allow,
                  "hosts remove.bg's image_url and bg_image_url may fetch from (comma list of host[:port] or "
                  "*.domain[:port]; without a port, 80 and 443 only; default none: refused)")
      ->envname("CUTOUT_FETCH_ALLOW")
      ->check([](const std::string& value) {
        try {
          server::FetchAllowList{value};
          return std::string();
        } catch (const std::invalid_argument& e) {
          return std::string(e.what());
        }
      });
  cmd->add_option("--fetch-max-bytes", c.fetch_max_bytes,
                  "largest image fetched from a URL (0: --max-body-bytes)")
      ->envname("CUTOUT_FETCH_MAX_BYTES")
      ->check(CLI::Range(uint64_t{0}, uint64_t{1} << 32))
      ->capture_default_str();
  cmd->add_option("--fetch-timeout-s", c.fetch_timeout_s, "time limit of one URL fetch, redirects included")
      ->envname("CUTOUT_FETCH_TIMEOUT_S")
      ->check(CLI::Range(0.1, 600.0))
      ->capture_default_str();
  cmd->add_option("--log-level", c.log_level, "debug, info, warning or error")
      ->envname("CUTOUT_LOG_LEVEL")
      ->capture_default_str();
  cmd->add_option("--trace-project", c.trace_project, "Google Cloud project, for trace fields in logs")
      ->envname("GOOGLE_CLOUD_PROJECT");
  cmd->add_option("--price-per-hour", c.price_per_hour, "instance price in USD per hour (cost per image)")
      ->envname("CUTOUT_PRICE_PER_HOUR")
      ->check(CLI::Range(0.0, 1e6));
  cmd->add_option("--data-dir", c.data_dir, "where the default file share store lives")
      ->envname("CUTOUT_DATA_DIR");
  cmd->add_option("--share-store", c.share_store,
                  "file:DIR, redis://host:port/db or none (default file:DATA_DIR/shares)")
      ->envname("CUTOUT_SHARE_STORE");
  cmd->add_option("--share-max-bytes", c.share_max_bytes, "largest shared image")
      ->envname("CUTOUT_SHARE_MAX_BYTES")
      ->check(CLI::Range(uint64_t{1024}, uint64_t{1} << 32))
      ->capture_default_str();
  cmd->add_option("--share-ttl-s", c.share_ttl_s, "default lifetime of a shared image, seconds")
      ->envname("CUTOUT_SHARE_TTL_S")
      ->check(CLI::Range(int64_t{1}, int64_t{10} * 365 * 86400))
      ->capture_default_str();
  cmd->add_option("--share-max-ttl-s", c.share_max_ttl_s, "longest lifetime a client may ask for, seconds")
      ->envname("CUTOUT_SHARE_MAX_TTL_S")
      ->check(CLI::Range(int64_t{1}, int64_t{10} * 365 * 86400))
      ->capture_default_str();
  cmd->add_option("--share-rate-per-minute", c.share_rate_per_minute,
                  "share uploads per client address (0: no limit)")
      ->envname("CUTOUT_SHARE_RATE_PER_MINUTE")
      ->check(CLI::Range(0.0, 1e6))
      ->capture_default_str();
  cmd->add_option("--share-sweep-interval-s", c.share_sweep_interval_s,
                  "how often expired shares are removed")
      ->envname("CUTOUT_SHARE_SWEEP_INTERVAL_S")
      ->check(CLI::Range(1, 86400))
      ->capture_default_str();
  cmd->add_flag("--trust-forwarded-for", c.trust_forwarded_for,
                "client address from X-Forwarded-For (behind a proxy)")
      ->envname("CUTOUT_TRUST_FORWARDED_FOR");
  cmd->add_option("--public-url", c.public_url, "base URL of share links (default: from the Host header)")
      ->envname("CUTOUT_PUBLIC_URL");
  cmd->add_option("--web-dir", c.web_dir,
                  "serve the page from this folder, not the embedded copy (development)")
      ->envname("CUTOUT_WEB_DIR")
      ->check(CLI::ExistingDirectory);
  set_command_run(*cmd, exit_status, "serve", [config, cmd] { return run_serve(*config, *cmd); });
}

}  // namespace cutout::cli
