// POST /v1.0/removebg against the real server and model (label e2e, issue 16 part 1): the request
// shapes of remove.bg's API documentation (curl, multipart) and of its client libraries (Python
// requests: multipart files + data; the Node `remove.bg` package and others: JSON or form-encoded
// image_file_b64 with Accept: application/json), its parameters, headers and error bodies.
#include <cstdio>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "server/base64.h"
#include "server_e2e_helpers.h"
#include "server_fixture.h"

namespace cutout {
namespace {

using namespace e2e;  // NOLINT: the tests' vocabulary
using testing::ServerOptions;
using testing::ServerProcess;

constexpr const char* kKey = "rb-key-123";

ServerProcess& server() {
  static ServerProcess s([] {
    ServerOptions options;
    options.args = {"--api-key", kKey};
    return options;
  }());
  return s;
}

httplib::Headers key(httplib::Headers extra = {}) {
  extra.emplace("X-Api-Key", kKey);
  return ua(std::move(extra));
}

std::string b64(const std::string& bytes) {
  std::string out;
  server::append_base64(std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()), out);
  return out;
}

// Base64 in a form-encoded body: its + / = escaped.
std::string form_escape(const std::string& text) {
  std::string out;
  for (char ch : text) {
    if (ch == '+')
      out += "%2B";
    else if (ch == '/')
      out += "%2F";
    else if (ch == '=')
      out += "%3D";
    else
      out += ch;
  }
  return out;
}

// remove.bg's error body: {"errors": [{"title", "code", "detail"}]} with that status.
json expect_errors(const httplib::Result& res, int status, const std::string& code) {
  if (!res) {
    ADD_FAILURE() << "no response";
    return {};
  }
  EXPECT_EQ(res->status, status) << res->body;
  const json body = json::parse(res->body, nullptr, false);
  EXPECT_TRUE(body.is_object() && body.contains("errors")) << res->body;
  if (!body.is_object() || !body.contains("errors") || body["errors"].empty()) return {};
  const json& e = body["errors"][0];
  EXPECT_EQ(e.value("code", ""), code) << res->body;
  EXPECT_FALSE(e.value("title", "").empty()) << res->body;
  EXPECT_FALSE(e.value("detail", "").empty()) << res->body;
  return e;
}

int header_int(const httplib::Result& res, const char* name) {
  return std::stoi(res->get_header_value(name));
}

TEST(RemoveBg, TheDocumentedCurlRequestReturnsAPngWithItsHeaders) {
  auto c = server().client();
  // curl -H 'X-Api-Key: KEY' -F 'image_file=@photo.jpg' -F 'size=auto' -f https://api.remove.bg/v1.0/removebg
  httplib::MultipartFormDataItems items = {{"image_file", photo(), "photo.jpg", "image/jpeg"},
                                           {"size", "auto", "", ""}};
  auto res = c.Post("/v1.0/removebg", key(), items);
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body.substr(0, 300);
  EXPECT_EQ(res->get_header_value("Content-Type"), "image/png");
  EXPECT_EQ(res->get_header_value("X-Credits-Charged"), "0");
  EXPECT_EQ(res->get_header_value("X-Type"), "other");
  EXPECT_EQ(header_int(res, "X-Width"), kPhotoWidth);
  EXPECT_EQ(header_int(res, "X-Height"), kPhotoHeight);
  const cv::Mat image = decode(res->body);
  ASSERT_EQ(image.channels(), 4);
  EXPECT_EQ(image.size(), cv::Size(kPhotoWidth, kPhotoHeight));
  // The foreground box is where the opaque pixels are.
  const cv::Rect fg(header_int(res, "X-Foreground-Left"), header_int(res, "X-Foreground-Top"),
                    header_int(res, "X-Foreground-Width"), header_int(res, "X-Foreground-Height"));
  cv::Mat alpha;
  cv::extractChannel(image, alpha, 3);
  std::vector<cv::Point> opaque;
  cv::findNonZero(alpha >= 16, opaque);
  EXPECT_EQ(cv::boundingRect(opaque), fg);
  EXPECT_LT(fg.area(), kPhotoWidth * kPhotoHeight);
}

TEST(RemoveBg, ClientLibraryShapesJsonAndFormWithBase64) {
  auto c = server().client();
  const std::string photo_b64 = b64(photo());
  // JSON body, JSON answer (the Node client and others).
  const json request = {
      {"image_file_b64", photo_b64}, {"size", "preview"}, {"format", "auto"}, {"type", "person"}};
  auto res =
      c.Post("/v1.0/removebg", key({{"Accept", "application/json"}}), request.dump(), "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body.substr(0, 300);
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
  EXPECT_EQ(res->get_header_value("X-Type"), "person");
  const json data = json::parse(res->body)["data"];
  const cv::Mat image = decode(base64_decode(data.value("result_b64", "")));
  ASSERT_FALSE(image.empty());
  EXPECT_LE(image.cols * image.rows, 250'000) << "size=preview caps near 0.25 MP";
  EXPECT_GT(image.cols * image.rows, 200'000);
  EXPECT_EQ(image.cols, header_int(res, "X-Width"));
  for (const char* k : {"foreground_top", "foreground_left", "foreground_width", "foreground_height"}) {
    EXPECT_TRUE(data.contains(k)) << k;
  }
  // Form-encoded, as Python's requests sends data= without files.
  const std::string form = "image_file_b64=" + form_escape(photo_b64) + "&channels=alpha";
  auto alpha = c.Post("/v1.0/removebg", key(), form, "application/x-www-form-urlencoded");
  ASSERT_TRUE(alpha);
  ASSERT_EQ(alpha->status, 200) << alpha->body.substr(0, 300);
  EXPECT_EQ(decode(alpha->body).channels(), 1) << "channels=alpha is the matte alone";
}

TEST(RemoveBg, BackgroundsCropAndZip) {
  auto c = server().client();
  httplib::MultipartFormDataItems coloured = {{"image_file", photo(), "photo.jpg", "image/jpeg"},
                                              {"bg_color", "81d4fa", "", ""},
                                              {"crop", "true", "", ""},
                                              {"crop_margin", "10px", "", ""}};
  auto res = c.Post("/v1.0/removebg", key(), coloured);
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body.substr(0, 300);
  EXPECT_EQ(res->get_header_value("Content-Type"), "image/jpeg") << "format=auto without transparency: JPEG";
  const cv::Mat jpeg = decode(res->body);
  EXPECT_EQ(jpeg.channels(), 3);
  EXPECT_EQ(header_int(res, "X-Foreground-Left"), 10);
  EXPECT_EQ(header_int(res, "X-Foreground-Top"), 10);
  EXPECT_EQ(jpeg.cols, header_int(res, "X-Foreground-Width") + 20);
  const cv::Vec3b corner = jpeg.at<cv::Vec3b>(1, 1);  // BGR of #81d4fa, within JPEG's error
  EXPECT_NEAR(corner[0], 0xfa, 6);
  EXPECT_NEAR(corner[1], 0xd4, 6);
  EXPECT_NEAR(corner[2], 0x81, 6);
  // A background image, scale and position.
  httplib::MultipartFormDataItems pictured = {{"image_file", photo(), "photo.jpg", "image/jpeg"},
                                              {"bg_image_file", small_jpeg(), "bg.jpg", "image/jpeg"},
                                              {"scale", "50%", "", ""},
                                              {"format", "png", "", ""}};
  auto bg = c.Post("/v1.0/removebg", key(), pictured);
  ASSERT_TRUE(bg);
  ASSERT_EQ(bg->status, 200) << bg->body.substr(0, 300);
  EXPECT_EQ(decode(bg->body).channels(), 3) << "a background image: opaque";
  const int fw = header_int(bg, "X-Foreground-Width"), fh = header_int(bg, "X-Foreground-Height");
  EXPECT_TRUE(std::abs(fw - kPhotoWidth / 2) <= 1 || std::abs(fh - kPhotoHeight / 2) <= 1) << fw << "x" << fh;
  EXPECT_NEAR(header_int(bg, "X-Foreground-Left") + fw / 2.0, kPhotoWidth / 2.0, 1.5)
      << "scale implies center";
  // format=zip: color.jpg and alpha.png, a valid archive.
  httplib::MultipartFormDataItems zipped = {{"image_file", photo(), "photo.jpg", "image/jpeg"},
                                            {"format", "zip", "", ""}};
  auto zip = c.Post("/v1.0/removebg", key(), zipped);
  ASSERT_TRUE(zip);
  ASSERT_EQ(zip->status, 200) << zip->body.substr(0, 300);
  EXPECT_EQ(zip->get_header_value("Content-Type"), "application/zip");
  const std::string listing = zip_listing(zip->body);
  EXPECT_NE(listing.find("color.jpg"), std::string::npos) << listing;
  EXPECT_NE(listing.find("alpha.png"), std::string::npos) << listing;
}

TEST(RemoveBg, ErrorsInRemoveBgsForm) {
  auto c = server().client();
  httplib::MultipartFormDataItems items = {{"image_file", photo(), "photo.jpg", "image/jpeg"}};
  expect_errors(c.Post("/v1.0/removebg", ua(), items), 403, "auth_failed");
  expect_errors(c.Post("/v1.0/removebg", ua({{"X-Api-Key", "wrong"}}), items), 403, "auth_failed");
  auto with = [&](std::vector<std::pair<std::string, std::string>> fields) {
    httplib::MultipartFormDataItems f = {{"image_file", photo(), "photo.jpg", "image/jpeg"}};
    for (auto& [k, v] : fields) f.push_back({k, v, "", ""});
    return c.Post("/v1.0/removebg", key(), f);
  };
  EXPECT_NE(
      expect_errors(with({{"size", "huge"}}), 400, "invalid_parameters").value("detail", "").find("preview"),
      std::string::npos);
  expect_errors(with({{"colour", "red"}}), 400, "invalid_parameters");
  expect_errors(with({{"bg_color", "not-a-colour"}}), 400, "invalid_parameters");
  expect_errors(with({{"roi", "0% 0% 1% 1%"}}), 400, "unknown_foreground");
  // image_url is refused: fetching client-given URLs would open a server-side request forgery door.
  httplib::MultipartFormDataItems url = {{"image_url", "http://169.254.169.254/", "", ""}};
  expect_errors(c.Post("/v1.0/removebg", key(), url), 400, "invalid_parameters");
  httplib::MultipartFormDataItems none = {{"size", "auto", "", ""}};
  expect_errors(c.Post("/v1.0/removebg", key(), none), 400, "missing_source");
  httplib::MultipartFormDataItems text = {{"image_file", "hello", "a.jpg", "image/jpeg"}};
  expect_errors(c.Post("/v1.0/removebg", key(), text), 400, "unsupported_media_type");
  expect_errors(c.Post("/v1.0/removebg", key(), R"({"image_file_b64": "@@@"})", "application/json"), 400,
                "invalid_parameters");
  // The service still answers.
  auto ok = c.Post("/v1.0/removebg", key(), items);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
}

}  // namespace
}  // namespace cutout
