// The edges of a cut-out at the photo's own resolution: matte refinement guided by the photo, and
// colour decontamination (the foreground colour of semi-transparent pixels).
//
// The network's matte is 1024x1024; on a 12 MP photo each of its pixels covers about 16 of the
// photo's, so hair and fur come out as a smear, and the colour of every edge pixel is the photo's
// own, old background included (a halo on any new background). Both steps work on a grid of about
// the network's resolution (kEdgeGridSide) where they need neighbourhoods, and touch the photo's
// own pixels only where the matte is uncertain: pixels outside that band keep their value exactly.
//
// - Refinement: the uncertain pixels' odds moved by a photo-wide colour model (histograms of the
//   colours the network is sure are foreground and background, as GrabCut's), then towards a
//   local colour line, then the guided filter (He, Sun, Tang, "Guided Image Filtering", TPAMI
//   2013) with the photo's colour as the guide, in its fast form (He & Sun, "Fast Guided Filter",
//   2015): the linear coefficients are computed on the grid and applied to the full-resolution
//   colour, which is where the detail comes from.
// - Decontamination: multi-level foreground estimation (Germer et al., "Fast Multi-Level
//   Foreground Estimation", ICPR 2020) on the grid, linear time; at the photo's resolution each
//   soft pixel's colour is the least-squares foreground given the grid's F and B. (Blur fusion,
//   Forte & Pitié 2021, was measured too: half the accuracy; docs/PERFORMANCE.md "Edges".)
//
// Pure functions, thread-safe; the full-resolution passes split rows across OpenCV's pool.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <opencv2/core.hpp>

namespace cutout {

enum class RefineMethod {
  kNone,    // the network's matte, resized to the photo (bilinear)
  kGuided,  // fast colour guided filter in the uncertain band
};

// "none" or "guided"; anything else is Error(kInvalidArgument) naming the accepted values.
RefineMethod parse_refine(std::string_view text);
std::string_view refine_name(RefineMethod method);
std::vector<std::string> refine_names();

// On by default, chosen by measurement (docs/PERFORMANCE.md "Edges"): each lowers the error on
// every eval subset (SAD -11 % on true soft alphas, foreground colour error -24 %), and both
// together cost about 100 ms at 12 MP (the pipeline ratio stays <= 1.5) and 60 ms at 1 MP.
// refine=none and decontaminate=false give the network's matte and the photo's own colours.
constexpr RefineMethod kDefaultRefine = RefineMethod::kGuided;
constexpr bool kDefaultDecontaminate = true;

// The longest side of the grid on which neighbourhoods are computed: photos up to 1.5x this are
// worked on at their own size, larger ones on a grid an integer factor smaller.
constexpr int kEdgeGridSide = 1024;

// The values chosen by measurement (docs/PERFORMANCE.md "Edges").
struct GuidedFilterParams {
  int radius = 4;        // guided filter box radius, in grid pixels
  double eps = 1e-4;     // its regularisation (colour in [0, 1]): larger smooths more
  int band_radius = 2;   // the uncertain band grown by this many grid pixels
  int uncertain_lo = 8;  // a matte value in [lo, hi] is uncertain
  int uncertain_hi = 247;
  double gain = 1.0;           // the matte's contrast around 1/2 multiplied by this first
  double colour_prior = 1.0;   // weight of the photo-wide colour model's log odds (0: off)
  int prior_lo = 13;           // matte values below this are sure background for that model,
  int prior_hi = 242;          // above this sure foreground
  int side_ramp = 16;          // matte levels from 1/2 over which the change fades in
  int colour_radius = 20;      // radius of the local foreground and background colour means
  double colour_sigma = 0.1;   // colour distance at which the colour model gets half the weight
  double colour_resid = 0.05;  // distance from the colour line at which its weight falls by 1/e
};

struct ForegroundParams {
  // The multi-level solver on the grid (the paper's and pymatting's values).
  double regularization = 1e-5;  // smoothness weight to each neighbour
  double gradient_weight = 1.0;  // plus this times |alpha difference| to it
  int small_size = 32;           // levels up to this side get small_iterations sweeps, others big
  int small_iterations = 10;
  int big_iterations = 2;
  // The grid's own level is swept only near the pixels the photo's soft ones read: the same
  // result, less work (false: every pixel, for the test that they agree).
  bool sweep_near_soft_only = true;
  // At the photo's resolution.
  int min_alpha = 4;    // below this alpha the colour is left as the photo's (invisible anyway)
  int max_alpha = 252;  // above it too: the old background is under 1 % of the colour there
  double lambda = 0.3;  // weight (times 1 - a) of the grid's foreground in the last step
};

// The photo on the grid, shared by both steps: made once per photo.
struct EdgeGrid {
  cv::Size full;   // the photo's size
  cv::Mat colour;  // CV_32FC3, RGB in [0, 1], on the grid
};

// image: 8-bit RGB or RGBA (alpha ignored).
EdgeGrid make_edge_grid(const cv::Mat& image);

// Refines `matte` (CV_8UC1, the photo's size) in place, guided by the photo. Pixels whose matte
// value is outside the uncertain band, grown by band_radius, keep their value exactly.
void refine_matte(const cv::Mat& image, const EdgeGrid& grid, cv::Mat& matte, RefineMethod method,
                  const GuidedFilterParams& params = {});

// Replaces the colour of `image` (8-bit RGB or RGBA; its alpha channel is not touched) by the
// estimated foreground colour where min_alpha <= matte <= max_alpha, so that compositing the result with
// `matte` on any background shows none of the old one. Opaque pixels keep the photo's colour.
void decontaminate(cv::Mat& image, const EdgeGrid& grid, const cv::Mat& matte,
                   const ForegroundParams& params = {});

}  // namespace cutout
