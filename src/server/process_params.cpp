#include "server/process_params.h"

#include <algorithm>
#include <charconv>
#include <set>
#include <span>

#include "core/error.h"
#include "server/api_error.h"

namespace cutout::server {
namespace {

const std::set<std::string>& known_params() {
  static const std::set<std::string> names = [] {
    std::set<std::string> n = {"effects", "format",      "background", "max_side",      "crop",
                               "margin",  "mask",        "refine",     "decontaminate", "response",
                               "stream",  "blur_radius", "shadow"};
    for (const auto& p : effect_param_names()) n.insert(p);
    return n;
  }();
  return names;
}

std::string known_list() {
  std::string out;
  for (const auto& n : known_params()) out += (out.empty() ? "" : ", ") + n;
  return out;
}

bool parse_bool(const std::string& name, const std::string& v) {
  if (v == "true" || v == "1") return true;
  if (v == "false" || v == "0") return false;
  throw ApiException(bad_request("invalid " + name + " '" + v + "' (allowed: true, false)"));
}

}  // namespace

int64_t parse_int_param(const std::string& name, const std::string& v, int64_t lo, int64_t hi) {
  int64_t n = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || end != v.data() + v.size() || n < lo || n > hi) {
    throw ApiException(bad_request("invalid " + name + " '" + v + "' (allowed: an integer from " +
                                   std::to_string(lo) + " to " + std::to_string(hi) + ")"));
  }
  return n;
}

ProcessParams parse_process_params(const HttpRequest& request, int max_output_side, uint64_t max_pixels,
                                   bool render) {
  if (render && request.has_param("stream")) {
    throw ApiException(bad_request("stream is for /api/v2/process: a render answers at once"));
  }
  for (const auto& [name, value] : request.query) {
    if (!known_params().count(name)) {
      throw ApiException(bad_request("unknown parameter '" + name + "' (known: " + known_list() + ")"));
    }
  }
  for (const auto& [name, value] : request.form) {
    if (render && name == "matte") continue;  // a matte sent without a file name: read as a part below
    if (!known_params().count(name)) {
      throw ApiException(bad_request("unknown field '" + name + "' (known: image, " +
                                     std::string(render ? "matte, " : "") + known_list() + ")"));
    }
  }
  ProcessParams p;
  RemoveOptions& o = p.options;
  o.decode.max_pixels = max_pixels;
  try {
    o.effects = request.has_param("effects") ? parse_effect_list(request.param("effects")) : all_effects();
    if (request.has_param("format")) o.format = parse_output_format(request.param("format"));
    if (request.has_param("background")) {
      if (request.param("background") == "blur") {
        o.blur_background = true;
      } else {
        try {
          o.background = parse_background(request.param("background"));
        } catch (const Error& e) {
          throw Error(ErrorCode::kInvalidArgument, std::string(e.what()) + ", or blur");
        }
      }
    }
    // A render's matte is already final (the mask output of a process, refined there): it is
    // used as sent unless refine= asks for more.
    if (render) o.refine = RefineMethod::kNone;
    if (request.has_param("refine")) o.refine = parse_refine(request.param("refine"));
    for (const auto& name : effect_param_names()) {
      if (request.has_param(name)) set_effect_param(o.effect_params, name, request.param(name));
    }
    effective_background(o);
  } catch (const Error& e) {
    throw ApiException(bad_request(e.what()));
  }
  o.max_side =
      request.has_param("max_side")
          ? static_cast<int>(parse_int_param("max_side", request.param("max_side"), 1, max_output_side))
          : max_output_side;
  if (request.has_param("crop")) {
    const std::string crop = request.param("crop");
    if (crop != "none" && crop != "subject") {
      throw ApiException(bad_request("invalid crop '" + crop + "' (allowed: none, subject)"));
    }
    o.crop_subject = crop == "subject";
  }
  if (request.has_param("shadow")) o.shadow = parse_bool("shadow", request.param("shadow"));
  if (request.has_param("blur_radius")) {
    o.blur_radius = static_cast<int>(parse_int_param("blur_radius", request.param("blur_radius"), 1, 1000));
  }
  if (auto it = request.files.find("background_image"); it != request.files.end()) {
    try {
      DecodeOptions d;
      d.max_pixels = max_pixels;
      o.background_image = decode_image(std::span(reinterpret_cast<const uint8_t*>(it->second.content.data()),
                                                  it->second.content.size()),
                                        d)
                               .pixels;
    } catch (const Error& e) {
      ApiError error = api_error_from(e);
      error.message = "background_image: " + error.message;
      throw ApiException(error);
    }
  }
  if (request.has_param("margin"))
    o.margin_percent = static_cast<int>(parse_int_param("margin", request.param("margin"), 0, 100));
  if (request.has_param("mask")) o.mask = parse_bool("mask", request.param("mask"));
  if (request.has_param("decontaminate"))
    o.decontaminate = parse_bool("decontaminate", request.param("decontaminate"));
  if (request.has_param("stream")) p.stream = parse_bool("stream", request.param("stream"));

  if (request.has_param("response")) {
    const std::string r = request.param("response");
    if (r != "json" && r != "image" && r != "zip") {
      throw ApiException(bad_request("invalid response '" + r + "' (allowed: json, image, zip)"));
    }
    p.image_response = r == "image";
    p.zip_response = r == "zip";
    if (p.zip_response && p.stream)
      throw ApiException(bad_request("response=zip cannot be streamed (stream=true)"));
  } else {
    const std::string accept = request.header("Accept");
    p.image_response = accept.rfind("image/", 0) == 0;
  }
  if (p.image_response) {
    if (p.stream) throw ApiException(bad_request("response=image cannot be streamed (stream=true)"));
    if (o.effects.size() + (o.mask ? 1 : 0) != 1) {
      throw ApiException(
          bad_request("response=image returns one output: ask for exactly one effect (effects=...) "
                      "and no mask"));
    }
  }
  return p;
}

std::string_view image_bytes(const HttpRequest& request) {
  if (auto it = request.files.find("image"); it != request.files.end()) {
    if (it->second.content.empty()) throw ApiException(bad_request("the image part is empty"));
    return it->second.content;
  }
  if (!request.files.empty() || !request.form.empty()) {
    throw ApiException(bad_request("multipart request without an 'image' part"));
  }
  if (request.body.empty())
    throw ApiException(bad_request("no image: send it as the body or a multipart 'image' part"));
  return request.body;
}

}  // namespace cutout::server
