#include "server/removebg.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <map>
#include <set>
#include <span>

#include <zlib.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "core/output_encode.h"
#include "core/pipeline.h"
#include "server/api_error.h"
#include "server/base64.h"
#include "server/http_parse.h"
#include "server/process_handler.h"
#include "server/service.h"

namespace cutout::server {
namespace {

RemoveBgError invalid(const std::string& detail) {
  return RemoveBgError(400, "Invalid parameters", "invalid_parameters", detail);
}

std::vector<std::string> words(const std::string& s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (std::isspace(static_cast<unsigned char>(s[i])) || s[i] == ',')) ++i;
    size_t j = i;
    while (j < s.size() && !std::isspace(static_cast<unsigned char>(s[j])) && s[j] != ',') ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

bool parse_number(std::string_view text, double& out) {
  if (text.empty()) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size() && std::isfinite(out);
}

Length parse_length(const std::string& name, const std::string& text) {
  Length l;
  std::string_view t = text;
  if (t.size() > 1 && t.back() == '%') {
    l.percent = true;
    t.remove_suffix(1);
  } else if (t.size() > 2 && t.substr(t.size() - 2) == "px") {
    t.remove_suffix(2);
  }
  if (!parse_number(t, l.value) || l.value < 0) {
    throw invalid("invalid " + name + " '" + text +
                  "' (allowed: a length in px, e.g. 30px, or in %, e.g. 10%)");
  }
  return l;
}

double parse_percent(const std::string& name, const std::string& text, double lo, double hi) {
  std::string_view t = text;
  double v = 0;
  if (t.empty() || t.back() != '%' || !parse_number(t.substr(0, t.size() - 1), v) || v < lo || v > hi) {
    throw invalid("invalid " + name + " '" + text + "' (allowed: " + std::to_string(static_cast<int>(lo)) +
                  "% to " + std::to_string(static_cast<int>(hi)) + "%)");
  }
  return v / 100.0;
}

bool parse_flag(const std::string& name, const std::string& text) {
  const std::string t = lowercase(text);
  if (t == "true" || t == "1") return true;
  if (t == "false" || t == "0") return false;
  throw invalid("invalid " + name + " '" + text + "' (allowed: true, false)");
}

// remove.bg's bg_color: a hex code with or without '#' (3, 6 or 8 digits) or a colour name.
Rgba parse_colour(const std::string& text) {
  static const std::map<std::string, std::string> names = {
      {"white", "ffffff"},   {"black", "000000"},  {"red", "ff0000"},          {"green", "008000"},
      {"blue", "0000ff"},    {"yellow", "ffff00"}, {"gray", "808080"},         {"grey", "808080"},
      {"orange", "ffa500"},  {"purple", "800080"}, {"pink", "ffc0cb"},         {"cyan", "00ffff"},
      {"magenta", "ff00ff"}, {"brown", "a52a2a"},  {"transparent", "00000000"}};
  std::string hex = lowercase(text);
  if (auto it = names.find(hex); it != names.end()) hex = it->second;
  if (!hex.empty() && hex[0] == '#') hex.erase(0, 1);
  if (hex.size() == 3) hex = {hex[0], hex[0], hex[1], hex[1], hex[2], hex[2]};
  try {
    if (hex.size() == 6 || hex.size() == 8) return parse_background("#" + hex);
  } catch (const Error&) {
  }
  throw invalid("invalid bg_color '" + text +
                "' (allowed: a hex colour such as 81d4fa or fff, or a colour name)");
}

std::string image_from_b64(const std::string& name, const std::string& text) {
  std::string bytes;
  if (!base64_decode(text, bytes) || bytes.empty()) throw invalid(name + " is not valid base64");
  return bytes;
}

// Every field of the request as text: JSON body, or form fields and files, then the query.
struct Fields {
  std::map<std::string, std::string> values;
  std::map<std::string, std::string> files;
};

Fields read_fields(const HttpRequest& request) {
  Fields f;
  for (const auto& [k, v] : request.form) f.values.emplace(k, v);
  for (const auto& [k, part] : request.files) f.files.emplace(k, part.content);
  const std::string type = lowercase(request.header("Content-Type"));
  if (type.rfind("application/json", 0) == 0) {
    const nlohmann::json body = nlohmann::json::parse(request.body, nullptr, false);
    if (!body.is_object()) throw invalid("the JSON body is not an object");
    for (const auto& [k, v] : body.items()) {
      if (v.is_string()) {
        f.values.emplace(k, v.get<std::string>());
      } else if (v.is_boolean() || v.is_number()) {
        f.values.emplace(k, v.dump());
      } else if (!v.is_null()) {
        throw invalid("field '" + k + "' must be a string, a number or a boolean");
      }
    }
  } else if (type.rfind("application/x-www-form-urlencoded", 0) == 0) {
    for (const auto& [k, v] : parse_query(request.body)) f.values.emplace(k, v);
  } else if (request.files.empty() && request.form.empty() && !request.body.empty()) {
    throw invalid(
        "send the photo as multipart/form-data (image_file), form-encoded or JSON (image_file_b64)");
  }
  for (const auto& [k, v] : request.query) f.values.emplace(k, v);
  return f;
}

const std::set<std::string>& known_fields() {
  static const std::set<std::string> names = {
      "image_file", "image_file_b64", "image_url",     "size",        "type",
      "type_level", "format",         "roi",           "crop",        "crop_margin",
      "scale",      "position",       "channels",      "add_shadow",  "semitransparency",
      "bg_color",   "bg_image_url",   "bg_image_file", "shadow_type", "shadow_opacity"};
  return names;
}

// `rgba` resized to `size` (straight alpha: shrunk on premultiplied colour, enlarged bilinearly).
cv::Mat resize_rgba(const cv::Mat& rgba, cv::Size size) {
  if (size == rgba.size()) return rgba;
  if (size.width <= rgba.cols && size.height <= rgba.rows) return shrink_rgba(rgba, size);
  cv::Mat out;
  cv::resize(rgba, out, size, 0, 0, cv::INTER_LINEAR);
  return out;
}

// The region of `rgba` (which may reach outside it: transparent there) as a new image.
cv::Mat region(const cv::Mat& rgba, cv::Rect r) {
  cv::Mat out(r.size(), CV_8UC4, cv::Scalar(0, 0, 0, 0));
  const cv::Rect inside = r & cv::Rect(0, 0, rgba.cols, rgba.rows);
  if (!inside.empty()) rgba(inside).copyTo(out(inside - r.tl()));
  return out;
}

}  // namespace

RemoveBgParams parse_removebg(const HttpRequest& request) {
  const Fields f = read_fields(request);
  for (const auto& [k, v] : f.values) {
    if (!known_fields().count(k)) throw invalid("unknown parameter '" + k + "' (see docs/REMOVEBG.md)");
  }
  for (const auto& [k, v] : f.files) {
    if (k != "image_file" && k != "bg_image_file") throw invalid("unknown file part '" + k + "'");
  }
  auto value = [&](const std::string& k) -> std::optional<std::string> {
    auto it = f.values.find(k);
    if (it == f.values.end()) return std::nullopt;
    return it->second;
  };
  RemoveBgParams p;
  if (auto it = f.files.find("image_file"); it != f.files.end()) {
    p.image = it->second;
  } else if (auto b64 = value("image_file_b64")) {
    p.image = image_from_b64("image_file_b64", *b64);
  } else if (auto url = value("image_url")) {
    if (url->empty()) throw invalid("image_url is empty");
    p.image_url = *url;
  } else if (value("image_file")) {
    throw invalid("image_file must be a file part of a multipart body");
  }
  if (p.image.empty() && p.image_url.empty()) {
    throw RemoveBgError(400, "No image given", "missing_source",
                        "No image given: send image_file (multipart), image_file_b64 or image_url");
  }
  if (auto it = f.files.find("bg_image_file"); it != f.files.end()) {
    p.bg_image = it->second;
  } else if (auto url = value("bg_image_url")) {
    if (url->empty()) throw invalid("bg_image_url is empty");
    p.bg_image_url = *url;
  }
  if (auto v = value("bg_color"); v && !v->empty()) p.bg_color = parse_colour(*v);

  if (auto v = value("size")) {
    const std::string s = lowercase(*v);
    if (s == "preview" || s == "small" || s == "regular") {
      p.max_output_pixels = 250'000;
    } else if (s == "medium") {
      p.max_output_pixels = 1'500'000;
    } else if (s == "hd") {
      p.max_output_pixels = 4'000'000;
    } else if (s != "auto" && s != "full" && s != "4k" && s != "50mp") {
      throw invalid("invalid size '" + *v +
                    "' (allowed: auto, preview, small, regular, medium, hd, full, 4k, 50MP)");
    }
  }
  if (auto v = value("type")) {
    static const std::set<std::string> types = {"auto",   "person",  "product",       "car",
                                                "animal", "graphic", "transportation"};
    if (!types.count(lowercase(*v))) {
      throw invalid("invalid type '" + *v +
                    "' (allowed: auto, person, product, car, animal, graphic, transportation)");
    }
    p.type = lowercase(*v);
  }
  if (auto v = value("format")) {
    const std::string s = lowercase(*v);
    using F = RemoveBgParams::Format;
    static const std::map<std::string, F> formats = {{"auto", F::kAuto}, {"png", F::kPng},
                                                     {"jpg", F::kJpg},   {"jpeg", F::kJpg},
                                                     {"webp", F::kWebp}, {"zip", F::kZip}};
    auto it = formats.find(s);
    if (it == formats.end())
      throw invalid("invalid format '" + *v + "' (allowed: auto, png, jpg, webp, zip)");
    p.format = it->second;
  }
  if (auto v = value("channels")) {
    const std::string s = lowercase(*v);
    if (s != "rgba" && s != "alpha") throw invalid("invalid channels '" + *v + "' (allowed: rgba, alpha)");
    p.alpha_only = s == "alpha";
  }
  if (auto v = value("crop")) p.crop = parse_flag("crop", *v);
  if (auto v = value("crop_margin")) {
    const auto w = words(*v);
    if (w.size() != 1 && w.size() != 2 && w.size() != 4) {
      throw invalid("invalid crop_margin '" + *v + "' (allowed: one, two or four lengths)");
    }
    std::vector<Length> l;
    for (const auto& x : w) l.push_back(parse_length("crop_margin", x));
    p.crop_margin = w.size() == 1   ? std::array<Length, 4>{l[0], l[0], l[0], l[0]}
                    : w.size() == 2 ? std::array<Length, 4>{l[0], l[1], l[0], l[1]}
                                    : std::array<Length, 4>{l[0], l[1], l[2], l[3]};
  }
  if (auto v = value("scale"); v && lowercase(*v) != "original")
    p.scale = parse_percent("scale", *v, 10, 100);
  if (auto v = value("position"); v && lowercase(*v) != "original") {
    if (lowercase(*v) == "center") {
      p.position = std::pair{0.5, 0.5};
    } else {
      const auto w = words(*v);
      if (w.size() != 1 && w.size() != 2)
        throw invalid("invalid position '" + *v + "' (allowed: original, center, or one or two %)");
      const double x = parse_percent("position", w[0], 0, 100);
      p.position = std::pair{x, w.size() == 2 ? parse_percent("position", w[1], 0, 100) : x};
    }
  }
  if (p.scale && !p.position) p.position = std::pair{0.5, 0.5};  // as remove.bg: scale implies center
  if (auto v = value("roi")) {
    const auto w = words(*v);
    if (w.size() != 4) throw invalid("invalid roi '" + *v + "' (allowed: x1 y1 x2 y2, each in px or %)");
    p.roi = std::array<Length, 4>{parse_length("roi", w[0]), parse_length("roi", w[1]),
                                  parse_length("roi", w[2]), parse_length("roi", w[3])};
  }
  for (const char* flag : {"semitransparency", "add_shadow"}) {
    if (auto v = value(flag)) parse_flag(flag, *v);  // accepted (checked), no effect: docs/REMOVEBG.md
  }
  return p;
}

RemoveBgLayout lay_out_removebg(cv::Mat rgba, const RemoveBgParams& p) {
  const double W = rgba.cols, H = rgba.rows;
  if (p.roi) {
    const auto& r = *p.roi;
    const int x1 = std::clamp(static_cast<int>(std::lround(r[0].resolve(W))), 0, rgba.cols);
    const int y1 = std::clamp(static_cast<int>(std::lround(r[1].resolve(H))), 0, rgba.rows);
    const int x2 = std::clamp(static_cast<int>(std::lround(r[2].resolve(W))), 0, rgba.cols);
    const int y2 = std::clamp(static_cast<int>(std::lround(r[3].resolve(H))), 0, rgba.rows);
    if (x2 <= x1 || y2 <= y1) throw invalid("roi is empty: x2 must exceed x1 and y2 exceed y1");
    cv::Mat keep(rgba.size(), CV_8UC1, cv::Scalar(0));
    keep(cv::Rect(x1, y1, x2 - x1, y2 - y1)).setTo(255);
    rgba.setTo(cv::Scalar(0, 0, 0, 0), ~keep);
  }
  cv::Rect fg = visible_box(rgba);  // as crop=subject finds the subject
  if (fg.empty()) {
    throw RemoveBgError(400, "Could not identify foreground in image", "unknown_foreground",
                        "no subject was found in the photo (nothing is opaque enough to cut out)");
  }
  if (p.crop) {
    // Each side's margin: px, or % of the subject's size; at most 50 % of it or 500 px, as remove.bg.
    auto margin = [&](const Length& l, double side) {
      return static_cast<int>(std::lround(std::min({l.resolve(side), 0.5 * side, 500.0})));
    };
    const int top = margin(p.crop_margin[0], fg.height), right = margin(p.crop_margin[1], fg.width);
    const int bottom = margin(p.crop_margin[2], fg.height), left = margin(p.crop_margin[3], fg.width);
    const cv::Rect canvas(fg.x - left, fg.y - top, fg.width + left + right, fg.height + top + bottom);
    rgba = region(rgba, canvas);
    fg -= canvas.tl();
  }
  if (p.position) {
    // The subject moved (and, with scale, resized to that share of the canvas) on a clear canvas.
    double s = 1.0;
    if (p.scale)
      s = *p.scale *
          std::min(static_cast<double>(rgba.cols) / fg.width, static_cast<double>(rgba.rows) / fg.height);
    const cv::Size size = scaled_size(fg.size(), s);
    const cv::Mat subject = resize_rgba(rgba(fg).clone(), size);
    cv::Mat canvas(rgba.size(), CV_8UC4, cv::Scalar(0, 0, 0, 0));
    const cv::Point at(static_cast<int>(std::lround(p.position->first * (canvas.cols - size.width))),
                       static_cast<int>(std::lround(p.position->second * (canvas.rows - size.height))));
    const cv::Rect placed(at, size);
    const cv::Rect inside = placed & cv::Rect(0, 0, canvas.cols, canvas.rows);
    subject(inside - at).copyTo(canvas(inside));
    rgba = canvas;
    fg = inside;
  }
  const double pixels = static_cast<double>(rgba.cols) * rgba.rows;
  if (p.max_output_pixels > 0 && pixels > p.max_output_pixels) {
    const double k = std::sqrt(p.max_output_pixels / pixels);
    const cv::Size size(std::max(1, static_cast<int>(rgba.cols * k)),
                        std::max(1, static_cast<int>(rgba.rows * k)));
    const double kx = static_cast<double>(size.width) / rgba.cols,
                 ky = static_cast<double>(size.height) / rgba.rows;
    rgba = shrink_rgba(rgba, size);
    const int x = static_cast<int>(std::floor(fg.x * kx)), y = static_cast<int>(std::floor(fg.y * ky));
    fg = cv::Rect(x, y, std::max(1, static_cast<int>(std::ceil(fg.br().x * kx)) - x),
                  std::max(1, static_cast<int>(std::ceil(fg.br().y * ky)) - y)) &
         cv::Rect(0, 0, size.width, size.height);
  }
  return {rgba, fg};
}

std::vector<uint8_t> zip_stored(const std::vector<std::pair<std::string, std::vector<uint8_t>>>& files) {
  std::vector<uint8_t> out, central;
  auto put16 = [](std::vector<uint8_t>& v, uint32_t x) {
    v.push_back(x & 0xff);
    v.push_back((x >> 8) & 0xff);
  };
  auto put32 = [&](std::vector<uint8_t>& v, uint32_t x) {
    put16(v, x & 0xffff);
    put16(v, x >> 16);
  };
  for (const auto& [name, data] : files) {
    const uint32_t crc = static_cast<uint32_t>(crc32(0L, data.data(), static_cast<uInt>(data.size())));
    const uint32_t offset = static_cast<uint32_t>(out.size());
    const uint32_t size = static_cast<uint32_t>(data.size());
    // Local file header: version 2.0, no flags, stored, 1980-01-01 00:00.
    put32(out, 0x04034b50);
    put16(out, 20), put16(out, 0), put16(out, 0), put16(out, 0), put16(out, 0x21);
    put32(out, crc), put32(out, size), put32(out, size);
    put16(out, static_cast<uint32_t>(name.size())), put16(out, 0);
    out.insert(out.end(), name.begin(), name.end());
    out.insert(out.end(), data.begin(), data.end());
    put32(central, 0x02014b50);
    put16(central, 20), put16(central, 20), put16(central, 0), put16(central, 0), put16(central, 0),
        put16(central, 0x21);
    put32(central, crc), put32(central, size), put32(central, size);
    put16(central, static_cast<uint32_t>(name.size())), put16(central, 0), put16(central, 0),
        put16(central, 0), put16(central, 0);
    put32(central, 0), put32(central, offset);
    central.insert(central.end(), name.begin(), name.end());
  }
  const uint32_t central_offset = static_cast<uint32_t>(out.size());
  out.insert(out.end(), central.begin(), central.end());
  put32(out, 0x06054b50);
  put16(out, 0), put16(out, 0), put16(out, static_cast<uint32_t>(files.size())),
      put16(out, static_cast<uint32_t>(files.size()));
  put32(out, static_cast<uint32_t>(central.size())), put32(out, central_offset), put16(out, 0);
  return out;
}

RemoveBgRoute::RemoveBgRoute(const ServeConfig& config, Engine& engine, MetricsRegistry& metrics,
                             const std::atomic<bool>& draining)
    : config_(config),
      fetch_allow_(config.fetch_allow),
      fetch_limits_{config.fetch_max_bytes ? config.fetch_max_bytes : config.max_body_bytes,
                    config.fetch_timeout_s},
      engine_(engine),
      metrics_(metrics),
      draining_(draining) {}

std::string RemoveBgRoute::fetch(const std::string& field, const std::string& url,
                                 const std::string& instead) const {
  if (!fetch_allow_.enabled()) {
    throw invalid(field +
                  " is not enabled on this server (its operator allows hosts with --fetch-allow): send " +
                  instead);
  }
  auto count = [&](std::string_view outcome) {
    metrics_
        .counter("cutout_url_fetches_total", "image_url and bg_image_url fetches, by outcome",
                 {{"outcome", std::string(outcome)}})
        .inc();
  };
  try {
    std::string bytes = fetch_url(url, fetch_allow_, fetch_limits_);
    count("ok");
    return bytes;
  } catch (const FetchError& e) {
    count(fetch_failure_name(e.failure));
    const std::string detail = field + ": " + e.what();
    switch (e.failure) {
      case FetchFailure::kInvalidUrl:
        throw invalid(detail);
      case FetchFailure::kNotAllowed:
        throw RemoveBgError(400, "URL not allowed", "url_not_allowed", detail);
      case FetchFailure::kTooLarge:
        throw RemoveBgError(400, "File too large", "file_too_large", detail);
      default:
        throw RemoveBgError(400, "Failed to download image", "failed_to_download", detail);
    }
  }
}

HttpResponse RemoveBgRoute::operator()(HttpRequest& request, RequestInfo& info) const {
  HttpResponse r;
  int status = 0;
  std::string title, code, detail;
  try {
    return answer(request, info);
  } catch (const RemoveBgError& e) {
    status = e.status, title = e.title, code = e.code, detail = e.what();
  } catch (const std::exception& e) {
    // The service's own errors in remove.bg's terms: client errors are 400 there, a full queue
    // 429, the key 403; the rest keep their status.
    const ApiError error = api_error_from(e);
    const int ours = error.status();
    status = ours == 401 ? 403 : ours == 429 || ours >= 500 ? ours : 400;
    title = std::string(api_code_info(error.code).name);
    code = title;
    detail = error.message;
    if (error.retry_after() > 0) r.headers.emplace_back("Retry-After", std::to_string(error.retry_after()));
  }
  info.error_code = code;
  r.status = status;
  r.body = nlohmann::json{{"errors", {{{"title", title}, {"code", code}, {"detail", detail}}}}}.dump();
  return r;
}

HttpResponse RemoveBgRoute::answer(HttpRequest& request, RequestInfo& info) const {
  if (!config_.api_key.empty()) {
    const std::string given = api_key_of(request);
    if (given.empty())
      throw RemoveBgError(403, "Missing API Key", "auth_failed", "send the key as X-Api-Key");
    if (!constant_time_equal(given, config_.api_key))
      throw RemoveBgError(403, "Invalid API Key", "auth_failed", "the X-Api-Key is not this service's key");
  }
  if (draining_) throw ApiException(ApiCode::kNotReady, "the server is shutting down");
  RemoveBgParams p = parse_removebg(request);
  // Both URLs are fetched before the photo is queued: a bad background fails without an inference.
  const auto fetch_start = std::chrono::steady_clock::now();
  if (!p.image_url.empty()) p.image = fetch("image_url", p.image_url, "image_file or image_file_b64");
  if (!p.bg_image_url.empty()) p.bg_image = fetch("bg_image_url", p.bg_image_url, "bg_image_file");
  const double fetch_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - fetch_start).count();
  RemoveOptions options;
  options.decode.max_pixels = config_.max_pixels;
  options.max_side = config_.max_output_side;
  EngineCutout cut = cut_out_with_engine(config_, engine_, metrics_, options, p.image, request, info);
  RemoveBgLayout layout = lay_out_removebg(std::move(cut.rgba), p);
  const cv::Mat& rgba = layout.rgba;

  cv::Mat image;  // what is encoded: grey (channels=alpha), RGB or RGBA
  if (p.alpha_only) {
    cv::extractChannel(rgba, image, 3);
  } else if (!p.bg_image.empty()) {
    DecodedImage bg;
    try {
      DecodeOptions bg_options;
      bg_options.max_pixels = config_.max_pixels;
      bg = decode_image(std::span(reinterpret_cast<const uint8_t*>(p.bg_image.data()), p.bg_image.size()),
                        bg_options);
    } catch (const Error& e) {
      throw invalid((p.bg_image_url.empty() ? "bg_image_file: " : "bg_image_url: ") + std::string(e.what()));
    }
    image = over_picture(rgba, cover_fit(bg.pixels, rgba.size()));
  } else if (p.bg_color) {
    image = flatten(rgba, *p.bg_color);
  } else {
    image = rgba;
  }
  using F = RemoveBgParams::Format;
  F format = p.format;
  if (format == F::kAuto) format = image.channels() == 4 ? F::kPng : F::kJpg;
  HttpResponse r;
  const EncodeSettings settings;
  if (format == F::kZip) {
    cv::Mat colour, alpha;
    cv::cvtColor(rgba, colour, cv::COLOR_RGBA2RGB);
    cv::extractChannel(rgba, alpha, 3);
    r.body.clear();
    const std::vector<uint8_t> zip =
        zip_stored({{"color.jpg", encode_image(colour, OutputFormat::kJpeg, settings).bytes},
                    {"alpha.png", encode_image(alpha, OutputFormat::kPng, settings).bytes}});
    r.body.assign(zip.begin(), zip.end());
    r.content_type = "application/zip";
  } else {
    if (format == F::kJpg && image.channels() == 4) image = flatten(image, Rgba{255, 255, 255, 255});
    const OutputFormat out = format == F::kJpg    ? OutputFormat::kJpeg
                             : format == F::kWebp ? OutputFormat::kWebp
                                                  : OutputFormat::kPng;
    const EncodedImage encoded = encode_image(image, out, settings);
    r.body.assign(encoded.bytes.begin(), encoded.bytes.end());
    r.content_type = std::string(output_mime_type(out));
  }
  const cv::Rect fg = layout.foreground;
  const std::string type = p.type == "auto" ? "other" : p.type;
  if (request.header("Accept").find("application/json") != std::string::npos) {
    std::string b64;
    append_base64(std::span(reinterpret_cast<const uint8_t*>(r.body.data()), r.body.size()), b64);
    r.body = nlohmann::json{{"data",
                             {{"result_b64", b64},
                              {"foreground_top", fg.y},
                              {"foreground_left", fg.x},
                              {"foreground_width", fg.width},
                              {"foreground_height", fg.height}}}}
                 .dump();
    r.content_type = "application/json";
  }
  r.headers = {{"X-Width", std::to_string(rgba.cols)},
               {"X-Height", std::to_string(rgba.rows)},
               {"X-Type", type},
               {"X-Foreground-Top", std::to_string(fg.y)},
               {"X-Foreground-Left", std::to_string(fg.x)},
               {"X-Foreground-Width", std::to_string(fg.width)},
               {"X-Foreground-Height", std::to_string(fg.height)},
               {"X-Credits-Charged", "0"}};
  metrics_.counter("cutout_outputs_total", "Outputs made, by effect", {{"effect", "removebg"}}).inc();
  info.timings = {
      {"queue", cut.queue_ms},
      {"decode", cut.timings.decode_ms},
      {"inference", cut.timings.preprocess_ms + cut.timings.inference_ms + cut.timings.postprocess_ms}};
  if (!p.image_url.empty() || !p.bg_image_url.empty()) info.timings["fetch"] = fetch_ms;
  return r;
}

}  // namespace cutout::server
