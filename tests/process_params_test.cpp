// POST /api/v2/process's parameters (process_params.h) from HttpRequest values built by hand:
// defaults, every parameter's valid values, each refusal (a 400 whose message names the parameter
// and what is allowed), hostile values, and where the photo's bytes are taken from.
#include "server/process_params.h"

#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "server/api_error.h"

namespace cutout::server {
namespace {

constexpr int kMaxOutputSide = 4096;
constexpr uint64_t kMaxPixels = 1'234'567;  // not DecodeOptions' default

using Params = std::vector<std::pair<std::string, std::string>>;

// A request with these query parameters, form fields and Accept header.
HttpRequest request(const Params& query, const Params& form = {}, const std::string& accept = "") {
  HttpRequest r;
  r.method = "POST";
  r.path = "/api/v2/process";
  for (const auto& [name, value] : query) r.query.emplace(name, value);
  for (const auto& [name, value] : form) r.form[name] = value;
  r.header = [accept](std::string_view name) { return name == "Accept" ? accept : std::string(); };
  r.client_gone = [] { return false; };
  return r;
}

ProcessParams parse(const HttpRequest& r) {
  return parse_process_params(r, kMaxOutputSide, kMaxPixels);
}

// The message of the 400 that `parse` throws; a test failure when it throws none or another status.
template <typename Parse>
std::string bad_request_message(Parse parse_it) {
  try {
    parse_it();
  } catch (const ApiException& e) {
    EXPECT_EQ(e.error().status(), 400) << e.what();
    EXPECT_EQ(e.error().code, ApiCode::kBadRequest) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "accepted, expected a 400";
  return "";
}

std::string refusal(const Params& query, const Params& form = {}, const std::string& accept = "") {
  const HttpRequest r = request(query, form, accept);
  return bad_request_message([&] { parse(r); });
}

std::string int_refusal(const std::string& value, int64_t lo, int64_t hi) {
  return bad_request_message([&] { parse_int_param("n", value, lo, hi); });
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(ProcessParams, DefaultsWithoutParameters) {
  const ProcessParams p = parse(request({}));
  const RemoveOptions& o = p.options;
  EXPECT_EQ(o.effects, all_effects());
  EXPECT_EQ(o.effects.size(), 4u);
  EXPECT_EQ(o.format, OutputFormat::kPng);
  EXPECT_FALSE(o.background.has_value());
  EXPECT_EQ(o.max_side, kMaxOutputSide);
  EXPECT_FALSE(o.crop_subject);
  EXPECT_EQ(o.margin_percent, 0);
  EXPECT_FALSE(o.mask);
  EXPECT_EQ(o.refine, kDefaultRefine);
  EXPECT_EQ(o.decontaminate, kDefaultDecontaminate);
  // A render's matte is the final one of a process: not refined again unless asked.
  EXPECT_EQ(parse_process_params(request({}), kMaxOutputSide, kMaxPixels, true).options.refine,
            RefineMethod::kNone);
  EXPECT_EQ(
      parse_process_params(request({{"refine", "guided"}}), kMaxOutputSide, kMaxPixels, true).options.refine,
      RefineMethod::kGuided);
  EXPECT_EQ(o.decode.max_pixels, kMaxPixels);
  EXPECT_EQ(o.effect_params.bw_strength, 1.0f);
  EXPECT_EQ(o.effect_params.popart_grid, 1);
  EXPECT_FALSE(p.image_response);
  EXPECT_FALSE(p.stream);
}

TEST(ProcessParams, ReadsEveryParameter) {
  const std::string palette = popart_palette_names().back();
  const ProcessParams p = parse(request({{"effects", " dither, bw ,dither"},
                                         {"format", "WebP"},
                                         {"background", "#102030"},
                                         {"max_side", "512"},
                                         {"crop", "subject"},
                                         {"margin", "100"},
                                         {"mask", "1"},
                                         {"stream", "true"},
                                         {"response", "json"},
                                         {"bw_strength", "1.5"},
                                         {"popart_palette", palette},
                                         {"popart_grid", "2x2"},
                                         {"popart_background", "palette"},
                                         {"dither_method", "atkinson"},
                                         {"refine", "guided"},
                                         {"decontaminate", "true"}}));
  const RemoveOptions& o = p.options;
  EXPECT_EQ(o.refine, RefineMethod::kGuided);
  EXPECT_TRUE(o.decontaminate);
  EXPECT_EQ(o.effects, (std::vector{Effect::kDither, Effect::kBw}));  // order kept, duplicates once
  EXPECT_EQ(o.format, OutputFormat::kWebp);
  ASSERT_TRUE(o.background.has_value());
  EXPECT_EQ(*o.background, (Rgba{0x10, 0x20, 0x30, 255}));
  EXPECT_EQ(o.max_side, 512);
  EXPECT_TRUE(o.crop_subject);
  EXPECT_EQ(o.margin_percent, 100);
  EXPECT_TRUE(o.mask);
  EXPECT_TRUE(p.stream);
  EXPECT_FALSE(p.image_response);
  EXPECT_EQ(o.effect_params.bw_strength, 1.5f);
  EXPECT_EQ(o.effect_params.popart_palette, palette);
  EXPECT_EQ(o.effect_params.popart_grid, 2);
  EXPECT_FALSE(o.effect_params.popart_transparent);
  EXPECT_EQ(o.effect_params.dither_method, DitherMethod::kAtkinson);
}

TEST(ProcessParams, FormFieldsCountAndTheQueryWins) {
  const ProcessParams p = parse(request({{"max_side", "200"}}, {{"max_side", "100"}, {"margin", "5"}}));
  EXPECT_EQ(p.options.max_side, 200);
  EXPECT_EQ(p.options.margin_percent, 5);
}

TEST(ProcessParams, ARepeatedParameterTakesItsFirstValue) {
  EXPECT_EQ(parse(request({{"max_side", "300"}, {"max_side", "abc"}})).options.max_side, 300);
  EXPECT_EQ(parse(request({{"format", "jpeg"}, {"format", "png"}})).options.format, OutputFormat::kJpeg);
  EXPECT_TRUE(contains(refusal({{"max_side", "abc"}, {"max_side", "300"}}), "invalid max_side 'abc'"));
}

TEST(ProcessParams, UnknownNamesAreRefusedWithTheKnownOnes) {
  const std::string query = refusal({{"colour", "red"}});
  EXPECT_TRUE(contains(query, "unknown parameter 'colour'")) << query;
  for (const char* known : {"effects", "format", "background", "max_side", "crop", "margin", "mask",
                            "response", "stream", "bw_strength", "dither_method"}) {
    EXPECT_TRUE(contains(query, known)) << known << " in " << query;
  }
  const std::string form = refusal({}, {{"Max_Side", "10"}});  // names are case-sensitive
  EXPECT_TRUE(contains(form, "unknown field 'Max_Side' (known: image, ")) << form;
  EXPECT_TRUE(contains(refusal({{"", "1"}}), "unknown parameter ''"));
}

TEST(ProcessParams, MaxSideIsFromOneToTheServersCap) {
  EXPECT_EQ(parse(request({{"max_side", "1"}})).options.max_side, 1);
  EXPECT_EQ(parse(request({{"max_side", "4096"}})).options.max_side, 4096);
  for (const char* bad : {"0", "-1", "4097", "", "abc", "12px", "1.5", "+5", " 5", "5 ", "0x10", "1e3",
                          "99999999999999999999999", "-9223372036854775809"}) {
    const std::string m = refusal({{"max_side", bad}});
    EXPECT_EQ(m, "invalid max_side '" + std::string(bad) + "' (allowed: an integer from 1 to 4096)");
  }
  // The cap is the caller's.
  EXPECT_EQ(parse_process_params(request({}), 16, kMaxPixels).options.max_side, 16);
  const HttpRequest over = request({{"max_side", "17"}});
  EXPECT_TRUE(
      contains(bad_request_message([&] { parse_process_params(over, 16, kMaxPixels); }), "from 1 to 16"));
}

TEST(ProcessParams, MarginIsAPercentage) {
  EXPECT_EQ(parse(request({{"margin", "0"}})).options.margin_percent, 0);
  EXPECT_EQ(parse(request({{"margin", "100"}})).options.margin_percent, 100);
  for (const char* bad : {"-1", "101", "", "ten", "4294967296"}) {
    EXPECT_EQ(refusal({{"margin", bad}}),
              "invalid margin '" + std::string(bad) + "' (allowed: an integer from 0 to 100)");
  }
}

TEST(ProcessParams, CropIsNoneOrSubject) {
  EXPECT_FALSE(parse(request({{"crop", "none"}})).options.crop_subject);
  EXPECT_TRUE(parse(request({{"crop", "subject"}})).options.crop_subject);
  for (const char* bad : {"Subject", "", "yes"}) {
    EXPECT_EQ(refusal({{"crop", bad}}), "invalid crop '" + std::string(bad) + "' (allowed: none, subject)");
  }
}

TEST(ProcessParams, MaskAndStreamAreBooleans) {
  for (const char* name : {"mask", "stream"}) {
    auto flag = [&](const char* value) {
      const ProcessParams p = parse(request({{name, value}}));
      return std::string(name) == "mask" ? p.options.mask : p.stream;
    };
    EXPECT_TRUE(flag("true"));
    EXPECT_TRUE(flag("1"));
    EXPECT_FALSE(flag("false"));
    EXPECT_FALSE(flag("0"));
    for (const char* bad : {"TRUE", "yes", "", "2", "on"}) {
      EXPECT_EQ(refusal({{name, bad}}),
                "invalid " + std::string(name) + " '" + bad + "' (allowed: true, false)");
    }
  }
}

TEST(ProcessParams, TheCoresParsersAnswerAsBadRequests) {
  EXPECT_EQ(parse(request({{"format", "jpg"}})).options.format, OutputFormat::kJpeg);
  EXPECT_EQ(parse(request({{"background", "BLACK"}})).options.background, (Rgba{0, 0, 0, 255}));
  const std::vector<std::pair<Params, std::string>> cases = {
      {{{"format", "gif"}}, "unknown format 'gif' (allowed: png, webp, jpeg)"},
      {{{"background", "blurple"}}, "invalid background 'blurple'"},
      {{{"background", "#12345"}}, "invalid background '#12345'"},
      {{{"background", "#gg0000"}}, "invalid background '#gg0000'"},
      {{{"effects", "sepia"}}, "invalid effect 'sepia' (allowed: color, bw, popart, dither)"},
      {{{"effects", "bw,sepia"}}, "invalid effect 'sepia'"},
      {{{"effects", ""}}, "no effect given"},
      {{{"effects", " , ,"}}, "no effect given"},
      {{{"bw_strength", "2.5"}}, "invalid bw_strength '2.5' (allowed: a number from 0 to 2)"},
      {{{"bw_strength", "-0.1"}}, "invalid bw_strength '-0.1'"},
      {{{"bw_strength", "nan"}}, "invalid bw_strength 'nan'"},
      {{{"bw_strength", "inf"}}, "invalid bw_strength 'inf'"},
      {{{"bw_strength", "1e999"}}, "invalid bw_strength '1e999'"},
      {{{"popart_palette", "nope"}}, "invalid popart_palette 'nope'"},
      {{{"popart_grid", "3x3"}}, "invalid popart_grid '3x3' (allowed: 1x1, 2x2)"},
      {{{"popart_background", "blue"}}, "invalid popart_background 'blue'"},
      {{{"dither_method", "random"}}, "invalid dither_method 'random'"},
      {{{"format", "jpeg"}, {"background", "transparent"}}, "jpeg has no transparency"},
      {{{"format", "jpeg"}, {"background", "#ffffff80"}}, "jpeg has no transparency"},
  };
  for (const auto& [query, expected] : cases) {
    const std::string m = refusal(query);
    EXPECT_TRUE(contains(m, expected)) << m << " (expected: " << expected << ")";
  }
}

TEST(ProcessParams, ResponseImageReturnsExactlyOneOutput) {
  const ProcessParams one = parse(request({{"response", "image"}, {"effects", "bw"}}));
  EXPECT_TRUE(one.image_response);
  EXPECT_TRUE(
      parse(request({{"response", "image"}, {"effects", "popart"}, {"mask", "false"}})).image_response);
  EXPECT_EQ(refusal({{"response", "xml"}}), "invalid response 'xml' (allowed: json, image, zip)");
  EXPECT_EQ(refusal({{"response", "IMAGE"}}), "invalid response 'IMAGE' (allowed: json, image, zip)");
  for (const Params& query : std::vector<Params>{{{"response", "image"}},  // all four effects
                                                 {{"response", "image"}, {"effects", "bw,dither"}},
                                                 {{"response", "image"}, {"effects", "bw"}, {"mask", "1"}}}) {
    const std::string m = refusal(query);
    EXPECT_TRUE(contains(m, "response=image returns one output")) << m;
    EXPECT_TRUE(contains(m, "effects=")) << m;
  }
  EXPECT_EQ(refusal({{"response", "image"}, {"effects", "bw"}, {"stream", "true"}}),
            "response=image cannot be streamed (stream=true)");
  EXPECT_TRUE(parse(request({{"response", "zip"}})).zip_response);
  EXPECT_EQ(refusal({{"response", "zip"}, {"stream", "true"}}),
            "response=zip cannot be streamed (stream=true)");
}

TEST(ProcessParams, BlurBackgroundAndItsRadius) {
  const RemoveOptions o = parse(request({{"background", "blur"}, {"blur_radius", "30"}})).options;
  EXPECT_TRUE(o.blur_background);
  EXPECT_FALSE(o.background.has_value());
  EXPECT_EQ(o.blur_radius, 30);
  EXPECT_TRUE(contains(refusal({{"blur_radius", "0"}}), "blur_radius"));
  EXPECT_TRUE(contains(refusal({{"background", "blurry"}}), "blurry"));
  EXPECT_TRUE(contains(refusal({{"background", "blurry"}}), "blur"));
  EXPECT_TRUE(parse(request({{"shadow", "true"}})).options.shadow);
  EXPECT_FALSE(parse(request({})).options.shadow);
  EXPECT_TRUE(contains(refusal({{"shadow", "soft"}}), "shadow"));
}

TEST(ProcessParams, AnImageAcceptHeaderAsksForTheImage) {
  EXPECT_TRUE(parse(request({{"effects", "color"}}, {}, "image/png")).image_response);
  EXPECT_TRUE(parse(request({{"effects", "color"}}, {}, "image/*")).image_response);
  EXPECT_FALSE(parse(request({}, {}, "application/json")).image_response);
  EXPECT_FALSE(parse(request({}, {}, "*/*")).image_response);
  EXPECT_FALSE(parse(request({}, {}, "text/html, image/png")).image_response);  // only the first type
  EXPECT_FALSE(parse(request({{"response", "json"}}, {}, "image/png")).image_response);  // the parameter wins
  EXPECT_TRUE(contains(refusal({}, {}, "image/png"), "response=image returns one output"));
}

TEST(ProcessParams, HostileValuesAreRefusedAndNamed) {
  const std::string huge(100'000, '9');
  EXPECT_TRUE(contains(refusal({{"max_side", huge}}), "invalid max_side '"));
  EXPECT_TRUE(contains(refusal({{"margin", std::string("5\0", 2)}}), "invalid margin '"));
  EXPECT_TRUE(contains(refusal({{"margin", "\xef\xbc\x95"}}), "invalid margin '"));  // a fullwidth 5
  EXPECT_TRUE(contains(refusal({{"effects", std::string(10'000, ',') + "x"}}), "invalid effect 'x'"));
  EXPECT_TRUE(contains(refusal({{"crop", "\r\nX-Injected: 1"}}), "invalid crop '"));
  EXPECT_TRUE(contains(refusal({{"mask", "true "}}), "invalid mask 'true '"));
}

TEST(ParseIntParam, AcceptsIntegersInTheRange) {
  EXPECT_EQ(parse_int_param("n", "7", 0, 10), 7);
  EXPECT_EQ(parse_int_param("n", "0", 0, 10), 0);
  EXPECT_EQ(parse_int_param("n", "10", 0, 10), 10);
  EXPECT_EQ(parse_int_param("n", "007", 0, 10), 7);
  EXPECT_EQ(parse_int_param("n", "-5", -10, 10), -5);
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min(), kMax = std::numeric_limits<int64_t>::max();
  EXPECT_EQ(parse_int_param("n", "-9223372036854775808", kMin, kMax), kMin);
  EXPECT_EQ(parse_int_param("n", "9223372036854775807", kMin, kMax), kMax);
}

TEST(ParseIntParam, RefusesAnythingElseNamingTheParameterAndTheRange) {
  EXPECT_EQ(int_refusal("11", 0, 10), "invalid n '11' (allowed: an integer from 0 to 10)");
  EXPECT_EQ(int_refusal("-1", 0, 10), "invalid n '-1' (allowed: an integer from 0 to 10)");
  EXPECT_EQ(int_refusal("5", -3, -1), "invalid n '5' (allowed: an integer from -3 to -1)");
  for (const char* bad : {"", "-", "+1", " 1", "1 ", "1.0", "1,000", "0x1", "1e1", "one",
                          "9223372036854775808", "-9223372036854775809"}) {
    EXPECT_TRUE(
        contains(int_refusal(bad, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()),
                 "invalid n '" + std::string(bad) + "'"))
        << bad;
  }
  const std::string m = bad_request_message([] { parse_int_param("max_side", "x", 1, 4096); });
  EXPECT_EQ(m, "invalid max_side 'x' (allowed: an integer from 1 to 4096)");
}

TEST(ImageBytes, TakesTheImagePartOrTheRawBody) {
  HttpRequest multipart = request({}, {{"effects", "bw"}});
  multipart.files["image"] = {"photo.jpg", "image/jpeg", "JPEGBYTES"};
  EXPECT_EQ(image_bytes(multipart), "JPEGBYTES");
  EXPECT_EQ(image_bytes(multipart).data(), multipart.files["image"].content.data());  // not a copy

  HttpRequest raw = request({});
  raw.body = "PNGBYTES";
  EXPECT_EQ(image_bytes(raw), "PNGBYTES");
  EXPECT_EQ(image_bytes(raw).data(), raw.body.data());
}

TEST(ImageBytes, RefusesMissingOrEmptyPhotos) {
  HttpRequest empty_part = request({});
  empty_part.files["image"] = {"photo.jpg", "image/jpeg", ""};
  EXPECT_EQ(bad_request_message([&] { image_bytes(empty_part); }), "the image part is empty");

  HttpRequest other_part = request({});
  other_part.files["photo"] = {"photo.jpg", "image/jpeg", "BYTES"};
  EXPECT_EQ(bad_request_message([&] { image_bytes(other_part); }),
            "multipart request without an 'image' part");

  HttpRequest fields_only = request({}, {{"effects", "bw"}});
  fields_only.body = "BYTES";  // a multipart request has no raw body to fall back on
  EXPECT_EQ(bad_request_message([&] { image_bytes(fields_only); }),
            "multipart request without an 'image' part");

  EXPECT_EQ(bad_request_message([] { image_bytes(request({})); }),
            "no image: send it as the body or a multipart 'image' part");
}

}  // namespace
}  // namespace cutout::server
