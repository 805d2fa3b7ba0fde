// POST /api/v2/share-image, GET /s/{id}, DELETE /s/{id}: store an image for a link, serve it,
// delete it with its token. The store is share_store.h; this file is the HTTP side: limits, the
// image check, headers, errors.
#include <algorithm>
#include <chrono>
#include <condition_variable>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/image_io.h"
#include "inference/sha256.h"
#include "server/process_params.h"
#include "server/service.h"

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

ApiError sharing_off() {
  return {404, "not_found", "sharing is off on this server (--share-store none)", 0};
}

ApiError store_unavailable() {
  return {503, "store_unavailable", "the share store is not available; retry later", 1};
}

}  // namespace

std::string Service::client_address(const HttpRequest& request) const {
  if (config_.trust_forwarded_for) {
    const std::string forwarded = request.header("X-Forwarded-For");
    const std::string first = forwarded.substr(0, forwarded.find(','));
    const size_t b = first.find_first_not_of(' ');
    const size_t e = first.find_last_not_of(' ');
    if (b != std::string::npos) return first.substr(b, e - b + 1);
  }
  return request.remote_ip;
}

void Service::share_store_failed(const char* operation, const ShareStoreError& e) {
  metrics_
      .counter("cutout_share_store_errors_total", "Share store operations that failed",
               {{"store", share_->kind()}})
      .inc();
  logger_.error("share store failed",
                {{"store", share_->kind()}, {"operation", operation}, {"error", e.what()}});
}

HttpResponse Service::share_image(HttpRequest& request, RequestInfo& info) {
  if (!share_) return error_response(sharing_off(), info);
  if (const int wait_s = share_limiter_.acquire(client_address(request)); wait_s > 0) {
    metrics_
        .counter("cutout_rejected_total", "Requests refused, by reason", {{"reason", "share_rate_limited"}})
        .inc();
    throw ApiException({429, "overloaded", "too many shared images from this address; retry later", wait_s});
  }
  const int64_t ttl = request.has_param("ttl")
                          ? parse_int_param("ttl", request.param("ttl"), 1, config_.share_max_ttl_s)
                          : config_.share_ttl_s;
  const std::string_view bytes = image_bytes(request);
  if (bytes.size() > config_.share_max_bytes) {
    metrics_
        .counter("cutout_rejected_total", "Requests refused, by reason", {{"reason", "payload_too_large"}})
        .inc();
    throw ApiException({413, "payload_too_large",
                        "shared images are limited to " + std::to_string(config_.share_max_bytes) + " bytes",
                        0});
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
    share_->put(id, object);
  } catch (const ShareStoreError& e) {
    share_store_failed("put", e);
    throw ApiException(store_unavailable());
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

HttpResponse Service::shared_get(HttpRequest& request, RequestInfo& info) {
  if (!share_) return error_response(sharing_off(), info);
  const std::string id = request.path.substr(3);
  // Anything that is not an id never reaches the store (no paths, no odd keys).
  if (!is_share_id(id)) return error_response(not_found("no such shared image"), info);
  std::optional<ShareObject> object;
  try {
    object = share_->get(id);
  } catch (const ShareStoreError& e) {
    share_store_failed("get", e);
    throw ApiException(store_unavailable());
  }
  if (!object) return error_response(not_found("no such shared image (unknown, deleted or expired)"), info);
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

HttpResponse Service::shared_delete(HttpRequest& request, RequestInfo& info) {
  if (!share_) return error_response(sharing_off(), info);
  const std::string id = request.path.substr(3);
  if (!is_share_id(id)) return error_response(not_found("no such shared image"), info);
  const std::string token = request.header("X-Delete-Token");
  try {
    const std::optional<ShareObject> object = share_->get(id);
    if (!object) return error_response(not_found("no such shared image (unknown, deleted or expired)"), info);
    // Hashes of equal length, compared in constant time: the token's timing tells nothing.
    if (token.empty() || !constant_time_equal(sha256_of(token), object->token_sha256)) {
      return error_response({403, "forbidden", "missing or wrong X-Delete-Token", 0}, info);
    }
    if (!share_->remove(id)) return error_response(not_found("no such shared image"), info);
  } catch (const ShareStoreError& e) {
    share_store_failed("delete", e);
    throw ApiException(store_unavailable());
  }
  HttpResponse r;
  r.status = 204;
  r.content_type.clear();
  return r;
}

ShareStoreStats Service::share_stats() {
  std::lock_guard lock(share_stats_mutex_);
  const auto now = std::chrono::steady_clock::now();
  if (now - share_stats_at_ >= std::chrono::seconds(1)) {
    try {
      share_stats_ = share_->stats();
      share_stats_at_ = now;
    } catch (const ShareStoreError& e) {
      share_store_failed("stats", e);
    }
  }
  return share_stats_;
}

void Service::sweep_shares_every(std::stop_token stop) {
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
      const int swept = share_->sweep();
      if (swept > 0) logger_.info("shares swept", {{"store", share_->kind()}, {"removed", swept}});
    } catch (const ShareStoreError& e) {
      share_store_failed("sweep", e);
    }
  }
}

Service::~Service() = default;

}  // namespace cutout::server
