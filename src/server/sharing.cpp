// Sharing's routes, gauges and sweeper (sharing.h).
#include "server/sharing.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/image_io.h"
#include "inference/sha256.h"
#include "server/api_error.h"
#include "server/process_params.h"
#include "server/service.h"  // constant_time_equal

namespace cutout::server {
namespace {

std::string_view mime_of(ImageFormat format) {
  switch (format) {
    case ImageFormat::kJpeg:
      return "image/jpeg";
    case ImageFormat::kPng:
      return "image/png";
    case ImageFormat::kWebp:
      return "image/webp";
    case ImageFormat::kBmp:
      return "image/bmp";
    case ImageFormat::kTiff:
      return "image/tiff";
    case ImageFormat::kGif:
      return "image/gif";
    case ImageFormat::kUnknown:
      break;
  }
  return "application/octet-stream";
}

std::string sha256_of(std::string_view s) {
  return sha256_hex({reinterpret_cast<const uint8_t*>(s.data()), s.size()});
}

ApiException sharing_off() {
  return ApiException(ApiCode::kNotFound, "sharing is off on this server (--share-store none)");
}

ApiException store_unavailable() {
  return ApiException(ApiCode::kStoreUnavailable, "the share store is not available; retry later");
}

Counter& store_errors(MetricsRegistry& metrics, const std::string& store) {
  return metrics.counter("cutout_share_store_errors_total", "Share store operations that failed",
                         {{"store", store}});
}

}  // namespace

Sharing::Sharing(const ServeConfig& config, MetricsRegistry& metrics, Logger& logger,
                 std::unique_ptr<ShareStore> store)
    : config_(config),
      metrics_(metrics),
      logger_(logger),
      store_(std::move(store)),
      limiter_(config.share_rate_per_minute) {
  if (!store_) return;
  const std::string kind = store_->kind();
  metrics_.gauge_callback("cutout_share_objects", "Shared images in the store",
                          [this] { return static_cast<double>(stats().objects); }, {{"store", kind}});
  metrics_.gauge_callback("cutout_share_bytes", "Bytes of the shared images in the store",
                          [this] { return static_cast<double>(stats().bytes); }, {{"store", kind}});
  store_errors(metrics_, kind);
  rejected_counter(metrics_, "share_rate_limited");
  sweeper_ = std::jthread([this](std::stop_token stop) { sweep_every(stop); });
}

Sharing::~Sharing() = default;

void Sharing::add_routes(Router& router) {
  auto bind = [this](HttpResponse (Sharing::*fn)(HttpRequest&, RequestInfo&)) {
    return [this, fn](HttpRequest& r, RequestInfo& i) { return (this->*fn)(r, i); };
  };
  router.add("POST", "/api/v2/share-image", bind(&Sharing::share_image));
  router.add("GET", "/s/{id}", bind(&Sharing::shared_get));
  router.add("DELETE", "/s/{id}", bind(&Sharing::shared_delete));
}

std::string Sharing::client_address(const HttpRequest& request) const {
  if (config_.trust_forwarded_for) {
    const std::string forwarded = request.header("X-Forwarded-For");
    const std::string first = forwarded.substr(0, forwarded.find(','));
    const size_t b = first.find_first_not_of(' ');
    const size_t e = first.find_last_not_of(' ');
    if (b != std::string::npos) return first.substr(b, e - b + 1);
  }
  return request.remote_ip;
}

void Sharing::store_failed(const char* operation, const ShareStoreError& e) {
  store_errors(metrics_, store_->kind()).inc();
  logger_.error("share store failed",
                {{"store", store_->kind()}, {"operation", operation}, {"error", e.what()}});
}

HttpResponse Sharing::share_image(HttpRequest& request, RequestInfo&) {
  if (!store_) throw sharing_off();
  if (const int wait_s = limiter_.acquire(client_address(request)); wait_s > 0) {
    rejected_counter(metrics_, "share_rate_limited").inc();
    throw ApiException(ApiCode::kOverloaded, "too many shared images from this address; retry later", wait_s);
  }
  const int64_t ttl = request.has_param("ttl")
                          ? parse_int_param("ttl", request.param("ttl"), 1, config_.share_max_ttl_s)
                          : config_.share_ttl_s;
  const std::string_view bytes = image_bytes(request);
  if (bytes.size() > config_.share_max_bytes) {
    rejected_counter(metrics_, api_code_info(ApiCode::kPayloadTooLarge).reason).inc();
    throw ApiException(ApiCode::kPayloadTooLarge,
                       "shared images are limited to " + std::to_string(config_.share_max_bytes) + " bytes");
  }
  // Only images we can decode, of the formats we read, are stored; the type comes from the bytes.
  const std::span<const uint8_t> data(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  ImageFormat format;
  try {
    DecodeOptions options;
    options.max_pixels = config_.max_pixels;
    options.apply_orientation = false;
    format = decode_image(data, options).format;
  } catch (const Error& e) {
    throw ApiException(api_error_from(e));
  }

  ShareObject object;
  object.content_type = std::string(mime_of(format));
  object.data.assign(bytes);
  object.expires_at = unix_now() + ttl;
  object.data_sha256 = sha256_of(object.data);
  const std::string id = new_share_id();
  const std::string token = new_delete_token();
  object.token_sha256 = sha256_of(token);
  try {
    store_->put(id, object);
  } catch (const ShareStoreError& e) {
    store_failed("put", e);
    throw store_unavailable();
  }

  std::string base = config_.public_url;
  if (base.empty() && !request.header("Host").empty()) {
    const std::string proto = request.header("X-Forwarded-Proto");
    base = (proto == "https" ? "https://" : "http://") + request.header("Host");
  }
  while (!base.empty() && base.back() == '/') base.pop_back();
  const std::string url = base + "/s/" + id;
  HttpResponse r;
  r.status = 201;
  r.headers = {{"Location", url}, {"Cache-Control", "no-store"}};
  r.body = nlohmann::json{
      {"id", id},
      {"url", url},
      {"expires_at", rfc3339_utc(object.expires_at)},
      {"delete_token",
       token}}.dump();
  return r;
}

HttpResponse Sharing::shared_get(HttpRequest& request, RequestInfo&) {
  if (!store_) throw sharing_off();
  const std::string id = request.path.substr(3);
  // Anything that is not an id never reaches the store (no paths, no odd keys).
  if (!is_share_id(id)) throw ApiException(not_found("no such shared image"));
  std::optional<ShareObject> object;
  try {
    object = store_->get(id);
  } catch (const ShareStoreError& e) {
    store_failed("get", e);
    throw store_unavailable();
  }
  if (!object) throw ApiException(not_found("no such shared image (unknown, deleted or expired)"));
  const std::string etag = "\"" + object->data_sha256.substr(0, 32) + "\"";
  const int64_t max_age = std::clamp<int64_t>(object->expires_at - unix_now(), 0, 86400);
  HttpResponse r;
  r.content_type = object->content_type;
  r.headers = {{"ETag", etag},
               {"Cache-Control", "public, max-age=" + std::to_string(max_age)},
               {"X-Content-Type-Options", "nosniff"},
               {"Content-Security-Policy", "default-src 'none'; sandbox"},
               {"Content-Disposition", "inline"}};
  if (request.header("If-None-Match") == etag) {
    r.status = 304;
    return r;
  }
  r.body = std::move(object->data);
  return r;
}

HttpResponse Sharing::shared_delete(HttpRequest& request, RequestInfo&) {
  if (!store_) throw sharing_off();
  const std::string id = request.path.substr(3);
  if (!is_share_id(id)) throw ApiException(not_found("no such shared image"));
  const std::string token = request.header("X-Delete-Token");
  try {
    const std::optional<ShareObject> object = store_->get(id);
    if (!object) throw ApiException(not_found("no such shared image (unknown, deleted or expired)"));
    // Hashes of equal length, compared in constant time: the token's timing tells nothing.
    if (token.empty() || !constant_time_equal(sha256_of(token), object->token_sha256)) {
      throw ApiException(ApiCode::kForbidden, "missing or wrong X-Delete-Token");
    }
    if (!store_->remove(id)) throw ApiException(not_found("no such shared image"));
  } catch (const ShareStoreError& e) {
    store_failed("delete", e);
    throw store_unavailable();
  }
  HttpResponse r;
  r.status = 204;
  r.content_type.clear();
  return r;
}

ShareStoreStats Sharing::stats() {
  std::lock_guard lock(stats_mutex_);
  const auto now = std::chrono::steady_clock::now();
  if (now - stats_at_ >= std::chrono::seconds(1)) {
    try {
      stats_ = store_->stats();
      stats_at_ = now;
    } catch (const ShareStoreError& e) {
      store_failed("stats", e);
    }
  }
  return stats_;
}

void Sharing::sweep_every(std::stop_token stop) {
  std::mutex m;
  std::condition_variable_any wake;
  for (;;) {
    {
      std::unique_lock lock(m);
      if (wake.wait_for(lock, stop, std::chrono::seconds(config_.share_sweep_interval_s),
                        [] { return false; }))
        break;
      if (stop.stop_requested()) break;
    }
    try {
      const int swept = store_->sweep();
      if (swept > 0) logger_.info("shares swept", {{"store", store_->kind()}, {"removed", swept}});
    } catch (const ShareStoreError& e) {
      store_failed("sweep", e);
    }
  }
}

}  // namespace cutout::server
