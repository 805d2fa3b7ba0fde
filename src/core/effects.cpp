// Effect names, parameters, palettes and dispatch. The effects themselves: effect_<name>.cpp.
#include "core/effects.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>

#include <opencv2/imgproc.hpp>

#include "core/effects_internal.h"
#include "core/error.h"

namespace cutout {
namespace {

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

[[noreturn]] void bad_value(std::string_view name, std::string_view value, const std::string& allowed) {
  throw Error(ErrorCode::kInvalidArgument,
              "invalid " + std::string(name) + " '" + std::string(value) + "' (allowed: " + allowed + ")");
}

}  // namespace

std::string_view effect_name(Effect effect) {
  switch (effect) {
    case Effect::kColor:
      return "color";
    case Effect::kBw:
      return "bw";
    case Effect::kPopart:
      return "popart";
    case Effect::kDither:
      return "dither";
  }
  return "color";
}

const std::vector<Effect>& all_effects() {
  static const std::vector<Effect> effects = {Effect::kColor, Effect::kBw, Effect::kPopart, Effect::kDither};
  return effects;
}

Effect parse_effect(std::string_view name) {
  for (Effect e : all_effects()) {
    if (effect_name(e) == name) return e;
  }
  bad_value("effect", name, "color, bw, popart, dither");
}

std::vector<Effect> parse_effect_list(std::string_view list) {
  std::vector<Effect> out;
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    if (comma == std::string_view::npos) comma = list.size();
    const std::string item = trim(list.substr(start, comma - start));
    if (!item.empty()) {
      Effect e = parse_effect(item);
      if (std::find(out.begin(), out.end(), e) == out.end()) out.push_back(e);
    }
    start = comma + 1;
  }
  if (out.empty()) {
    throw Error(ErrorCode::kInvalidArgument, "no effect given (allowed: color, bw, popart, dither)");
  }
  return out;
}

const std::vector<std::string>& effect_param_names() {
  static const std::vector<std::string> names = {"bw_strength", "popart_palette", "popart_grid",
                                                 "popart_background", "dither_method"};
  return names;
}

const std::vector<std::string>& popart_palette_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const auto& p : detail::popart_palettes()) n.push_back(p.name);
    return n;
  }();
  return names;
}

void set_effect_param(EffectParams& params, std::string_view name, std::string_view value) {
  if (name == "bw_strength") {
    float v = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (ec != std::errc() || end != value.data() + value.size() || !std::isfinite(v) || v < 0 || v > 2) {
      bad_value(name, value, "a number from 0 to 2");
    }
    params.bw_strength = v;
  } else if (name == "popart_palette") {
    const auto& names = popart_palette_names();
    if (std::find(names.begin(), names.end(), value) == names.end()) bad_value(name, value, join(names));
    params.popart_palette = std::string(value);
  } else if (name == "popart_grid") {
    if (value == "1x1" || value == "1")
      params.popart_grid = 1;
    else if (value == "2x2" || value == "2")
      params.popart_grid = 2;
    else
      bad_value(name, value, "1x1, 2x2");
  } else if (name == "popart_background") {
    if (value == "transparent")
      params.popart_transparent = true;
    else if (value == "palette")
      params.popart_transparent = false;
    else
      bad_value(name, value, "transparent, palette");
  } else if (name == "dither_method") {
    if (value == "floyd")
      params.dither_method = DitherMethod::kFloyd;
    else if (value == "atkinson")
      params.dither_method = DitherMethod::kAtkinson;
    else if (value == "bayer")
      params.dither_method = DitherMethod::kBayer;
    else
      bad_value(name, value, "floyd, atkinson, bayer");
  } else {
    throw Error(ErrorCode::kInvalidArgument, "unknown effect parameter '" + std::string(name) +
                                                 "' (known: " + join(effect_param_names()) + ")");
  }
}

cv::Mat EffectImage::to_rgba() const {
  cv::Mat out;
  switch (kind) {
    case Kind::kRgba:
      return pixels;
    case Kind::kGreyAlpha: {
      out.create(pixels.size(), CV_8UC4);
      const int from_to[] = {0, 0, 0, 1, 0, 2, 1, 3};
      cv::mixChannels(&pixels, 1, &out, 1, from_to, 4);
      return out;
    }
    case Kind::kIndexed: {
      out.create(pixels.size(), CV_8UC4);
      for (int y = 0; y < pixels.rows; ++y) {
        const uint8_t* idx = pixels.ptr<uint8_t>(y);
        auto* dst = out.ptr<std::array<uint8_t, 4>>(y);
        for (int x = 0; x < pixels.cols; ++x) {
          if (idx[x] >= palette.size()) throw Error(ErrorCode::kInternal, "palette index out of range");
          dst[x] = palette[idx[x]];
        }
      }
      return out;
    }
  }
  return out;
}

EffectImage apply_effect(Effect effect, const cv::Mat& cutout, const EffectParams& params) {
  if (cutout.type() != CV_8UC4) throw Error(ErrorCode::kInternal, "effects need an RGBA cut-out");
  switch (effect) {
    case Effect::kColor: {
      EffectImage out;
      out.kind = EffectImage::Kind::kRgba;
      out.pixels = cutout;
      return out;
    }
    case Effect::kBw:
      return detail::effect_bw(cutout, params);
    case Effect::kPopart:
      return detail::effect_popart(cutout, params);
    case Effect::kDither:
      return detail::effect_dither(cutout, params);
  }
  throw Error(ErrorCode::kInternal, "unknown effect");
}

namespace detail {

const std::vector<PopartPalette>& popart_palettes() {
  // Tones dark to light, then the flat background; bold, contrasting, print-friendly colours.
  // The 2x2 grid uses the chosen palette and the three after it (wrapping around).
  static const std::vector<PopartPalette> palettes = {
      {"warhol", {{{25, 20, 60}, {0, 140, 160}, {245, 105, 170}, {255, 225, 60}}}, {255, 130, 30}},
      {"electric", {{{20, 33, 61}, {123, 44, 191}, {0, 194, 168}, {248, 243, 43}}}, {255, 77, 109}},
      {"sunset", {{{43, 15, 14}, {214, 40, 40}, {247, 127, 0}, {255, 230, 170}}}, {58, 134, 255}},
      {"mint", {{{11, 61, 46}, {42, 157, 143}, {138, 224, 165}, {241, 250, 238}}}, {231, 111, 81}},
  };
  return palettes;
}

const PopartPalette& find_popart_palette(const std::string& name) {
  for (const auto& p : popart_palettes()) {
    if (p.name == name) return p;
  }
  bad_value("popart_palette", name, join(popart_palette_names()));
}

}  // namespace detail
}  // namespace cutout
