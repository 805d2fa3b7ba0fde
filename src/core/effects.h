// The art outputs made from a cut-out (SPEC §4): colour, enhanced black & white, pop art, dither.
//
// Every effect is deterministic (the same bytes for any thread count), treats only the subject
// (pixels with alpha > 0) and keeps the alpha channel, within the limits each effect documents.
// Inputs are the RGBA cut-out as cut_out() makes it: CV_8UC4, colour zeroed where alpha is 0.
// Functions are pure and thread-safe; effects may run concurrently on the same input.
//
// color: the cut-out itself (Kind kRgba).
//
// bw: the subject's luminance with local contrast (adaptive histogram equalisation over the
// subject only), a gentle S tone curve and light unsharp-mask sharpening, scaled by bw_strength
// (0: plain Rec. 601 luminance, the same integers as cv::COLOR_RGBA2GRAY; 1: the tuned default;
// 2: strong). Kind kGreyAlpha: alpha exactly the input's, grey 0 where alpha is 0.
//
// popart: the subject's luminance, smoothed in proportion to the image size, cut into 4 flat
// tones by thresholds from the subject's own histogram (alpha > 0 only) and drawn in the
// palette's tones, darkest first. Kind kIndexed (at most 256 entries). popart_grid 2: a 2x2 grid
// of the cut-out at half size in the chosen palette and the next three (wrapping); the output
// keeps the photo's size, panels are floor(W/2) x floor(H/2), and with odd sizes the last
// column/row is padding of the right/bottom panels.
// Alpha (popart_background=transparent): quantised to fit the palette. Alpha 0 and 255 are exact,
// alpha > 0 never becomes 0, other values are off by at most 2 (one panel: 63 levels per tone) or
// 9 (2x2 grid: 15 levels per tone, against the 2x2 block mean of the photo's alpha).
// popart_background=palette: an opaque poster on the palette's background colour; the soft edge
// is a blend of tone over background whose weight is the alpha, quantised the same way.
//
// dither: a 1-bit print of the subject. Kind kIndexed with the palette {0: transparent, 1: ink
// (black), 2: paper (white)}, i.e. a 2-bit palette PNG. Alpha is thresholded, as a print has no
// half-transparent ink: alpha >= 128 is printed (ink or paper, opaque), alpha < 128 is
// transparent, so soft edges become hard. Luminance is stretched between the subject's own 1st
// and 99th percentiles (at most 4x, so a flat subject keeps its tone), given local contrast (an
// unsharp mask of the subject alone whose radius grows with the image), then quantised by
// dither_method: floyd (Floyd-Steinberg, serpentine; default), atkinson (crisper, highlights and
// shadows blown out), bayer (8x8 ordered, anchored at the image origin). Error diffusion never
// crosses transparent pixels, and the outline gets neither a dark nor a light rim.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <opencv2/core.hpp>

namespace cutout {

enum class Effect { kColor, kBw, kPopart, kDither };

std::string_view effect_name(Effect effect);  // "color", "bw", "popart", "dither"
// Throws Error(kInvalidArgument) listing the allowed names.
Effect parse_effect(std::string_view name);
// "color,bw,popart,dither" (spaces allowed, duplicates kept once, order kept); empty is an error.
std::vector<Effect> parse_effect_list(std::string_view list);
const std::vector<Effect>& all_effects();

enum class DitherMethod { kFloyd, kAtkinson, kBayer };

// Effect parameters, with the defaults a person gets without asking. Set them by name with
// set_effect_param (the names are the HTTP API's query fields and the CLI's --param NAME=VALUE).
struct EffectParams {
  // bw: strength of the enhancement, 0 (plain luminance) to 2; 1 is the tuned default.
  float bw_strength = 1.0f;
  // popart: palette of a single panel (popart_palette_names()); the 2x2 grid uses four.
  std::string popart_palette = "warhol";
  int popart_grid = 1;             // 1: one panel; 2: a 2x2 grid of palettes, same size as the photo
  bool popart_transparent = true;  // popart_background=transparent (default) or palette (flat colour)
  DitherMethod dither_method = DitherMethod::kFloyd;
};

// Sets one parameter from text, validating it: an unknown name or value is Error(kInvalidArgument)
// whose message lists what is allowed. Names: bw_strength (0-2), popart_palette, popart_grid
// (1x1, 2x2), popart_background (transparent, palette), dither_method (floyd, atkinson, bayer).
void set_effect_param(EffectParams& params, std::string_view name, std::string_view value);
const std::vector<std::string>& effect_param_names();
const std::vector<std::string>& popart_palette_names();

// An effect's result in the representation that encodes smallest while holding it exactly.
struct EffectImage {
  enum class Kind {
    kRgba,       // pixels CV_8UC4
    kGreyAlpha,  // pixels CV_8UC2 (grey, alpha)
    kIndexed,    // pixels CV_8UC1 indices into palette (RGBA entries, at most 256)
  };
  Kind kind = Kind::kRgba;
  cv::Mat pixels;
  std::vector<std::array<uint8_t, 4>> palette;

  // The same picture as RGBA (for WebP, JPEG compositing, tests).
  cv::Mat to_rgba() const;
};

// Applies one effect to an RGBA cut-out. The loops of bw, popart and dither run on OpenCV's pool
// (cv::parallel_for_). Several effects of one photo run at once in render_outputs (pipeline.h),
// each on a thread of its own.
EffectImage apply_effect(Effect effect, const cv::Mat& cutout, const EffectParams& params);

}  // namespace cutout
