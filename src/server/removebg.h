// POST /v1.0/removebg: remove.bg's public HTTP API (https://www.remove.bg/api), so that the apps
// and client libraries written for it work by changing the base URL (issue 16, part 1;
// docs/REMOVEBG.md lists every parameter as supported, accepted and ignored, or refused).
//
// The request is multipart (image_file, bg_image_file), form-encoded or JSON (image_file_b64);
// the photo goes through the same engine as /api/v2/process (cut_out_with_engine), then this
// module lays the result out as remove.bg does (roi, crop and crop_margin, scale, position, the
// size cap) and encodes it (format, channels, bg_color, bg_image_file). The answer is the image
// with X-Width, X-Height, X-Type, X-Foreground-{Top,Left,Width,Height} and X-Credits-Charged: 0,
// or with Accept: application/json {"data": {"result_b64", "foreground_top", ...}}; errors are
// {"errors": [{"title", "code", "detail"}]} with remove.bg's statuses (400, 403, 429, 5xx).
// The API key is X-Api-Key, the same key as the v2 API's. image_url and bg_image_url are fetched
// only when the operator names the hosts (--fetch-allow; url_fetch.h has the rules and limits):
// fetching URLs given by clients is a server-side request forgery door, refused (400) by default.
// The fetched bytes go the way of image_file and bg_image_file.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <opencv2/core.hpp>

#include "core/compose.h"
#include "server/engine.h"
#include "server/metrics.h"
#include "server/router.h"
#include "server/serve_config.h"
#include "server/url_fetch.h"

namespace cutout::server {

// An error in remove.bg's form.
struct RemoveBgError : std::runtime_error {
  RemoveBgError(int status, std::string title, std::string code, const std::string& detail)
      : std::runtime_error(detail), status(status), title(std::move(title)), code(std::move(code)) {}
  int status;
  std::string title, code;
};

// A length of remove.bg's geometry parameters: "30px", "10%" or a bare number (pixels).
struct Length {
  double value = 0;
  bool percent = false;
  double resolve(double whole) const { return percent ? value / 100.0 * whole : value; }
};

struct RemoveBgParams {
  std::string image;              // the photo's bytes (image_file or image_file_b64; empty for image_url)
  std::string bg_image;           // bg_image_file's bytes, or empty
  std::string image_url;          // image_url, when neither image_file nor image_file_b64 came
  std::string bg_image_url;       // bg_image_url, when bg_image_file did not come
  std::optional<Rgba> bg_color;   // bg_color
  int64_t max_output_pixels = 0;  // size: 0 for the photo's own size
  enum class Format { kAuto, kPng, kJpg, kWebp, kZip } format = Format::kAuto;
  bool alpha_only = false;  // channels=alpha
  bool crop = false;
  std::array<Length, 4> crop_margin;                  // top, right, bottom, left
  std::optional<double> scale;                        // 0.1 .. 1: the subject's size against the canvas
  std::optional<std::pair<double, double>> position;  // 0 .. 1 horizontally and vertically
  std::optional<std::array<Length, 4>> roi;           // x1 y1 x2 y2
  std::string type = "auto";
};

// Reads the request's fields (multipart, form-encoded or JSON body, and the query). Throws
// RemoveBgError(400) naming the parameter and what it accepts. URLs are only recorded here:
// RemoveBgRoute fetches them (or refuses them, without --fetch-allow).
RemoveBgParams parse_removebg(const HttpRequest& request);

// The laid-out result: the image (RGBA) and the subject's box in it.
struct RemoveBgLayout {
  cv::Mat rgba;
  cv::Rect foreground;
};

// roi, crop (+ margin), scale and position, then the size cap, on a straight-alpha RGBA cut-out.
// Throws RemoveBgError(400, unknown_foreground) when nothing is opaque enough to be a subject.
RemoveBgLayout lay_out_removebg(cv::Mat rgba, const RemoveBgParams& params);

// A ZIP archive of stored (uncompressed) files, as remove.bg's format=zip answers
// (color.jpg and alpha.png).
std::vector<uint8_t> zip_stored(const std::vector<std::pair<std::string, std::vector<uint8_t>>>& files);

class RemoveBgRoute {
 public:
  RemoveBgRoute(const ServeConfig& config, Engine& engine, MetricsRegistry& metrics,
                const std::atomic<bool>& draining);
  HttpResponse operator()(HttpRequest& request, RequestInfo& info) const;

 private:
  HttpResponse answer(HttpRequest& request, RequestInfo& info) const;
  // The body at `url` (the parameter `field`), or RemoveBgError: refused without --fetch-allow,
  // else the fetch's failure in remove.bg's terms. Counted in cutout_url_fetches_total{outcome}.
  std::string fetch(const std::string& field, const std::string& url, const std::string& instead) const;
  const ServeConfig& config_;
  const FetchAllowList fetch_allow_;
  const FetchLimits fetch_limits_;
  Engine& engine_;
  MetricsRegistry& metrics_;
  const std::atomic<bool>& draining_;
};

}  // namespace cutout::server
