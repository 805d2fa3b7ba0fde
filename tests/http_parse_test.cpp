// src/server/http_parse: percent-decoding, query strings, header parameters, multipart bodies.
#include "server/http_parse.h"

#include <gtest/gtest.h>

namespace cutout::server {
namespace {

TEST(UrlDecode, DecodesPercentAndOptionallyPlus) {
  EXPECT_EQ(url_decode("a%20b%2Fc", false), "a b/c");
  EXPECT_EQ(url_decode("a+b", false), "a+b");
  EXPECT_EQ(url_decode("a+b", true), "a b");
  EXPECT_EQ(url_decode("%zz%4", false), "%zz%4");  // malformed sequences stay as they are
  EXPECT_EQ(url_decode("%", true), "%");
  EXPECT_EQ(url_decode("%41%", true), "A%");
}

TEST(ParseQuery, KeepsRepeatsAndEmptyValues) {
  auto q = parse_query("effects=color,bw&format=png&flag&x=1&x=2&=skipped&&b=a+b%26c");
  EXPECT_EQ(q.count("x"), 2u);
  EXPECT_EQ(q.find("effects")->second, "color,bw");
  EXPECT_EQ(q.find("flag")->second, "");
  EXPECT_EQ(q.find("b")->second, "a b&c");
  EXPECT_EQ(q.count(""), 0u);
  EXPECT_TRUE(parse_query("").empty());
}

TEST(HeaderParameter, QuotedPlainAndAbsent) {
  EXPECT_EQ(header_parameter("multipart/form-data; boundary=abc", "boundary"), "abc");
  EXPECT_EQ(header_parameter("multipart/form-data; BOUNDARY=\"a;b c\"; x=1", "boundary"), "a;b c");
  EXPECT_EQ(header_parameter("form-data; name=\"image\"; filename=\"p.jpg\"", "name"), "image");
  EXPECT_EQ(header_parameter("form-data; name=\"image\"; filename=\"p.jpg\"", "filename"), "p.jpg");
  EXPECT_EQ(header_parameter("multipart/form-data", "boundary"), "");
  EXPECT_EQ(header_parameter("x; boundary=\"unterminated", "boundary"), "");
}

std::string part(const std::string& headers, const std::string& content) {
  return "--B\r\n" + headers + "\r\n\r\n" + content + "\r\n";
}

TEST(ParseMultipart, FilesAndFields) {
  const std::string body = "preamble\r\n" +
                           part(
                               "Content-Disposition: form-data; name=\"image\"; filename=\"a.jpg\"\r\n"
                               "Content-Type: image/jpeg",
                               std::string("\xff\xd8\r\n--not the boundary\x00", 22)) +
                           part("content-disposition: form-data; name=\"effects\"", "color,bw") +
                           part("Content-Disposition: form-data; name=\"empty\"", "") + "--B--\r\n";
  std::map<std::string, std::string> form;
  std::map<std::string, FilePart> files;
  std::string error;
  ASSERT_TRUE(parse_multipart(body, "multipart/form-data; boundary=B", &form, &files, &error)) << error;
  ASSERT_EQ(files.count("image"), 1u);
  EXPECT_EQ(files["image"].filename, "a.jpg");
  EXPECT_EQ(files["image"].content_type, "image/jpeg");
  EXPECT_EQ(files["image"].content, std::string("\xff\xd8\r\n--not the boundary\x00", 22));
  EXPECT_EQ(form["effects"], "color,bw");
  EXPECT_EQ(form["empty"], "");
}

TEST(ParseMultipart, MalformedBodiesSayWhy) {
  std::map<std::string, std::string> form;
  std::map<std::string, FilePart> files;
  std::string error;
  EXPECT_FALSE(parse_multipart("x", "multipart/form-data", &form, &files, &error));
  EXPECT_NE(error.find("boundary"), std::string::npos);
  EXPECT_FALSE(
      parse_multipart("no delimiter here", "multipart/form-data; boundary=B", &form, &files, &error));
  EXPECT_NE(error.find("opening"), std::string::npos);
  EXPECT_FALSE(parse_multipart("--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nunterminated",
                               "multipart/form-data; boundary=B", &form, &files, &error));
  EXPECT_NE(error.find("closing"), std::string::npos);
  EXPECT_FALSE(
      parse_multipart("--B\r\nno blank line", "multipart/form-data; boundary=B", &form, &files, &error));
  EXPECT_FALSE(parse_multipart(part("Content-Type: text/plain", "x") + "--B--",
                               "multipart/form-data; boundary=B", &form, &files, &error));
  EXPECT_NE(error.find("name"), std::string::npos);
}

}  // namespace
}  // namespace cutout::server
