// The error table (src/server/api_error.h): every code has a row, in order, with a sane status,
// a unique snake_case name, and the retry hint and reason the service relies on.
#include "server/api_error.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

namespace cutout::server {
namespace {

TEST(ApiErrorTable, EveryCodeHasItsRowInOrder) {
  const auto table = api_codes();
  ASSERT_EQ(table.size(), static_cast<size_t>(ApiCode::kTimeout) + 1);
  for (size_t i = 0; i < table.size(); ++i) {
    EXPECT_EQ(static_cast<size_t>(table[i].code), i);
    EXPECT_EQ(&api_code_info(table[i].code), &table[i]);
  }
}

TEST(ApiErrorTable, StatusesAreClientOrServerErrorsAndNamesAreUniqueSnakeCase) {
  std::set<std::string_view> names;
  int last_status = 0;
  for (const ApiCodeInfo& row : api_codes()) {
    EXPECT_GE(row.status, 400) << row.name;
    EXPECT_LE(row.status, 599) << row.name;
    EXPECT_GE(row.status, last_status) << row.name << ": the table is sorted by status";
    last_status = row.status;
    EXPECT_TRUE(names.insert(row.name).second) << "duplicate name " << row.name;
    ASSERT_FALSE(row.name.empty());
    for (char c : row.name) EXPECT_TRUE((c >= 'a' && c <= 'z') || c == '_') << row.name;
    EXPECT_GE(row.retry_after_s, 0) << row.name;
  }
}

TEST(ApiErrorTable, SpecStatusesAndCodes) {
  // SPEC §3's pairs, as clients see them.
  const std::vector<std::tuple<ApiCode, int, std::string_view>> spec = {
      {ApiCode::kBadRequest, 400, "bad_request"},
      {ApiCode::kUnauthorized, 401, "unauthorized"},
      {ApiCode::kNotFound, 404, "not_found"},
      {ApiCode::kMethodNotAllowed, 405, "method_not_allowed"},
      {ApiCode::kRequestTimeout, 408, "request_timeout"},
      {ApiCode::kPayloadTooLarge, 413, "payload_too_large"},
      {ApiCode::kImageTooLarge, 413, "image_too_large"},
      {ApiCode::kUnsupportedMediaType, 415, "unsupported_media_type"},
      {ApiCode::kUndecodableImage, 422, "undecodable_image"},
      {ApiCode::kOverloaded, 429, "overloaded"},
      {ApiCode::kHeadersTooLarge, 431, "headers_too_large"},
      {ApiCode::kInternal, 500, "internal"},
      {ApiCode::kNotReady, 503, "not_ready"},
      {ApiCode::kTooManyConnections, 503, "too_many_connections"},
      {ApiCode::kTimeout, 504, "timeout"},
  };
  for (const auto& [code, status, name] : spec) {
    EXPECT_EQ(api_code_info(code).status, status) << name;
    EXPECT_EQ(api_code_info(code).name, name);
  }
}

TEST(ApiErrorTable, RetryHintsOnlyWhereRetryingHelps) {
  for (const ApiCodeInfo& row : api_codes()) {
    const bool transient = row.status == 429 || row.status == 503;
    EXPECT_EQ(row.retry_after_s > 0, transient) << row.name;
  }
}

TEST(ApiErrorTable, RefusalsAreCountedUnderTheirReasons) {
  EXPECT_EQ(api_code_info(ApiCode::kUndecodableImage).reason, "undecodable");
  EXPECT_EQ(api_code_info(ApiCode::kOverloaded).reason, "queue_full");
  EXPECT_EQ(api_code_info(ApiCode::kRequestTimeout).reason, "request_timeout");
  EXPECT_TRUE(api_code_info(ApiCode::kInternal).reason.empty()) << "a bug is not a refusal";
  EXPECT_TRUE(api_code_info(ApiCode::kNotFound).reason.empty());
}

TEST(ApiError, CoreErrorsMapOntoTheTable) {
  EXPECT_EQ(api_code_from(ErrorCode::kInvalidArgument), ApiCode::kBadRequest);
  EXPECT_EQ(api_code_from(ErrorCode::kUnsupportedFormat), ApiCode::kUnsupportedMediaType);
  EXPECT_EQ(api_code_from(ErrorCode::kUndecodable), ApiCode::kUndecodableImage);
  EXPECT_EQ(api_code_from(ErrorCode::kImageTooLarge), ApiCode::kImageTooLarge);
  EXPECT_EQ(api_code_from(ErrorCode::kModel), ApiCode::kNotReady);
  EXPECT_EQ(api_code_from(ErrorCode::kIo), ApiCode::kInternal);
  EXPECT_EQ(api_code_from(ErrorCode::kInternal), ApiCode::kInternal);
}

TEST(ApiError, CoreMessagesAreKeptButInternalOnesAreNot) {
  const ApiError bad = api_error_from(Error(ErrorCode::kUndecodable, "truncated JPEG"));
  EXPECT_EQ(bad.status(), 422);
  EXPECT_EQ(bad.message, "truncated JPEG");
  const ApiError io = api_error_from(Error(ErrorCode::kIo, "/secret/path: permission denied"));
  EXPECT_EQ(io.status(), 500);
  EXPECT_EQ(io.message, "internal error");
  const ApiError other = api_error_from(std::runtime_error("std::bad_alloc at 0x1234"));
  EXPECT_EQ(other.name(), "internal");
  EXPECT_EQ(other.message, "internal error");
}

TEST(ApiError, AModelFailureHasNoRetryHintThoughNotReadyHasOne) {
  EXPECT_EQ(api_error_from(Error(ErrorCode::kModel, "model file missing")).retry_after(), 0);
  EXPECT_EQ((ApiError{ApiCode::kNotReady, "loading"}.retry_after()), 1);
  EXPECT_EQ((ApiError{ApiCode::kOverloaded, "queue full", 7}.retry_after()), 7);
}

TEST(ApiError, ExceptionsCarryTheirErrorThroughStdException) {
  try {
    throw ApiException(ApiCode::kForbidden, "wrong token");
  } catch (const std::exception& e) {
    const ApiError error = api_error_from(e);
    EXPECT_EQ(error.status(), 403);
    EXPECT_EQ(error.name(), "forbidden");
    EXPECT_EQ(error.message, "wrong token");
  }
}

TEST(ApiError, BodyIsSpecJson) {
  const auto body = nlohmann::json::parse(error_body(bad_request("bad \"x\"\n\xff"), "rid-1"));
  EXPECT_EQ(body["error"]["code"], "bad_request");
  EXPECT_EQ(body["error"]["message"], "bad \"x\"\n\xEF\xBF\xBD") << "invalid UTF-8 is replaced, not thrown";
  EXPECT_EQ(body["request_id"], "rid-1");
  const auto bare = nlohmann::json::parse(error_body(not_found("gone"), ""));
  EXPECT_FALSE(bare.contains("request_id"));
  EXPECT_EQ(bare["error"]["code"], "not_found");
}

TEST(ApiError, AHugeQuotedValueIsCutInTheBody) {
  const std::string value(25u << 20, '9');
  const std::string body = error_body(bad_request("invalid max_side '" + value + "'"), "rid");
  EXPECT_LT(body.size(), 2048u);
  const auto j = nlohmann::json::parse(body);
  const std::string message = j["error"]["message"];
  EXPECT_EQ(message.rfind("invalid max_side '999", 0), 0u) << "it still says what was refused";
  EXPECT_NE(message.find("(26214419 bytes)"), std::string::npos) << message.substr(message.size() - 40);
}

}  // namespace
}  // namespace cutout::server
