// The share store's parts without HTTP: ids, the record format, the file store's atomic writes
// and sweeping, and the per-address rate limiter. (Both stores over HTTP: share_e2e_test.cpp.)
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>

#include "server/rate_limiter.h"
#include "server/share_store.h"
#include "test_support.h"

namespace cutout::server {
namespace {

namespace fs = std::filesystem;

int64_t now_unix() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

ShareObject object_of(std::string data, int64_t expires_at) {
  ShareObject o;
  o.content_type = "image/png";
  o.data = std::move(data);
  o.expires_at = expires_at;
  o.token_sha256 = std::string(64, 'a');
  o.data_sha256 = std::string(64, 'b');
  return o;
}

size_t files_named(const fs::path& dir, std::string_view prefix) {
  size_t n = 0;
  for (const auto& e : fs::directory_iterator(dir)) n += e.path().filename().string().rfind(prefix, 0) == 0;
  return n;
}

TEST(ShareIds, AreUrlSafeRandomAndOfFixedLength) {
  std::set<std::string> seen;
  for (int i = 0; i < 2000; ++i) {
    const std::string id = new_share_id();
    EXPECT_EQ(id.size(), 22u);
    EXPECT_TRUE(is_share_id(id)) << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 2000u);
  const std::string token = new_delete_token();
  EXPECT_EQ(token.size(), 43u);
  EXPECT_EQ(token.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
            std::string::npos);
}

TEST(ShareIds, HostileStringsAreNotIds) {
  for (const std::string& s : std::initializer_list<std::string>{
           "", "..", "../../etc/passwd", "..%2f..%2fetc%2fpasswd", "abcdefghijklmnopqrstu",
           "abcdefghijklmnopqrstuvw", "abcdefghijklmnopqrst/v", "abcdefghijklmnopqrst.v",
           "abcdefghijklmnopqrst+/", "abcdefghijklmnopqrst\\u", std::string(22, '\0'),
           "abcdefghijklmnopqrs\xc3\xa9"}) {
    EXPECT_FALSE(is_share_id(s)) << s;
  }
  EXPECT_TRUE(is_share_id("abcdefghijklmnopqrst-_"));
}

TEST(ShareRecord, RoundTripsAndRefusesCutOrForeignBytes) {
  const ShareObject o = object_of(std::string("\x89PNG\r\n\x1a\n\0binary\nbytes", 21), 1'900'000'000);
  const std::string record = encode_share_record(o);
  const auto back = decode_share_record(record);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->data, o.data);
  EXPECT_EQ(back->content_type, "image/png");
  EXPECT_EQ(back->expires_at, o.expires_at);
  EXPECT_EQ(back->token_sha256, o.token_sha256);
  EXPECT_EQ(share_record_expiry(record.substr(0, 1024)), o.expires_at);
  // Every cut is refused: a partial object is never served.
  for (size_t n = 0; n < record.size(); ++n) EXPECT_FALSE(decode_share_record(record.substr(0, n))) << n;
  EXPECT_FALSE(decode_share_record(record + "x"));
  EXPECT_FALSE(decode_share_record("GIF89a not a record"));
  EXPECT_FALSE(share_record_expiry("cutout-share 1\n{\"expires_at\": \"soon\"}\n"));
}

// Found by fuzz/share_record_fuzz.cpp: JSON reads an integer too long for 64 bits as a double, and
// converting that to int64_t was undefined behaviour (UBSan; INT64_MIN on x86, so the record was
// served). encode_share_record writes integers; a size or expiry of any other type is not a record.
TEST(ShareRecord, NonIntegerSizesAndExpiriesAreNotRecords) {
  const std::string head = R"(cutout-share 1
{"content_type":"image/png","token_sha256":"a","data_sha256":"b",)";
  for (const std::string fields :
       {R"("expires_at":1760973001557331124190981,"size":4)", R"("expires_at":1e300,"size":4)",
        R"("expires_at":1900000000.5,"size":4)", R"("expires_at":1900000000,"size":4.0)",
        R"("expires_at":1900000000,"size":-4)", R"("expires_at":"1900000000","size":4)"}) {
    EXPECT_FALSE(decode_share_record(head + fields + "}\ntest")) << fields;
  }
  EXPECT_TRUE(decode_share_record(head + R"("expires_at":1900000000,"size":4})" + "\ntest"));
}

TEST(FileShareStore, PutGetRemoveAndStats) {
  testing::TempDir tmp;
  auto store = open_share_store("file:" + (tmp.path() / "shares").string());
  EXPECT_EQ(store->kind(), "file");
  const std::string id = new_share_id();
  store->put(id, object_of("first image", now_unix() + 60));
  EXPECT_EQ(files_named(tmp.path() / "shares", ".tmp-"), 0u) << "the temp file was renamed";
  const auto got = store->get(id);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->data, "first image");
  EXPECT_EQ(store->stats().objects, 1);
  EXPECT_GT(store->stats().bytes, 11);
  EXPECT_FALSE(store->get(new_share_id()));
  EXPECT_TRUE(store->remove(id));
  EXPECT_FALSE(store->remove(id));
  EXPECT_FALSE(store->get(id));
  EXPECT_EQ(store->stats().objects, 0);
  EXPECT_EQ(store->stats().bytes, 0);
}

TEST(FileShareStore, ObjectsSurviveANewStoreAndExpiredOnesAreSwept) {
  testing::TempDir tmp;
  const std::string spec = "file:" + (tmp.path() / "shares").string();
  const std::string live = new_share_id();
  const std::string expired = new_share_id();
  {
    auto store = open_share_store(spec);
    store->put(live, object_of("live", now_unix() + 3600));
    store->put(expired, object_of("expired", now_unix() - 1));
    EXPECT_FALSE(store->get(expired)) << "expired: 404 before the sweeper runs";
  }
  // A crashed process left a temp file (another tag) and a cut-short one.
  std::ofstream(tmp.path() / "shares" / ".tmp-deadbeef0000-abc") << "half an image";
  std::ofstream(tmp.path() / "shares" / "notes.txt") << "not ours";
  auto store = open_share_store(spec);  // a new process: a new tag
  EXPECT_EQ(store->sweep(), 2);         // the expired object and the orphan
  EXPECT_EQ(files_named(tmp.path() / "shares", ".tmp-"), 0u);
  EXPECT_TRUE(fs::exists(tmp.path() / "shares" / "notes.txt")) << "files that are not ours are left alone";
  EXPECT_FALSE(fs::exists(tmp.path() / "shares" / expired));
  ASSERT_TRUE(store->get(live));
  EXPECT_EQ(store->get(live)->data, "live");
  EXPECT_EQ(store->stats().objects, 1);
}

TEST(FileShareStore, DamagedRecordsAreNotServed) {
  testing::TempDir tmp;
  auto store = open_share_store("file:" + tmp.path().string());
  const std::string id = new_share_id();
  store->put(id, object_of(std::string(1000, 'x'), now_unix() + 60));
  fs::resize_file(tmp.path() / id, fs::file_size(tmp.path() / id) - 10);
  EXPECT_FALSE(store->get(id));
}

TEST(ShareStoreSpec, BadSpecsAreRefused) {
  for (const std::string& spec :
       std::initializer_list<std::string>{"", "file:", "s3://bucket", "redis://", "redis://host:notaport/0",
                                          "redis://host:6379/x", "redis://host:70000/0"}) {
    EXPECT_THROW(open_share_store(spec), std::invalid_argument) << spec;
  }
  EXPECT_NO_THROW(open_share_store("redis://127.0.0.1:1/0")) << "Redis is reached lazily";
  EXPECT_THROW(open_share_store("redis://127.0.0.1:1/0")->get(new_share_id()), ShareStoreError)
      << "nothing listens on port 1";
}

TEST(RateLimiter, AllowsABurstThenAsksToWaitPerAddress) {
  RateLimiter limiter(6);  // 6 a minute: one every 10 s after a burst of 6
  for (int i = 0; i < 6; ++i) EXPECT_EQ(limiter.acquire("10.0.0.1"), 0) << i;
  const int wait = limiter.acquire("10.0.0.1");
  EXPECT_GE(wait, 9);
  EXPECT_LE(wait, 10);
  EXPECT_EQ(limiter.acquire("10.0.0.2"), 0) << "another address has its own bucket";
  RateLimiter unlimited(0);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(unlimited.acquire("x"), 0);
}

}  // namespace
}  // namespace cutout::server
