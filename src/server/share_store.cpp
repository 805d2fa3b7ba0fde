#include "server/share_store.h"

#include <sys/random.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <span>

#include <nlohmann/json.hpp>

#include "server/base64.h"

namespace cutout::server {
namespace {

constexpr std::string_view kRecordMagic = "cutout-share 1\n";

// Kernel randomness (getrandom: no file to open, blocks only before the pool is seeded at boot).
template <size_t N>
std::array<uint8_t, N> random_bytes() {
  std::array<uint8_t, N> out;
  size_t got = 0;
  while (got < N) {
    const ssize_t n = getrandom(out.data() + got, N - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(std::string("getrandom: ") + std::strerror(errno));
    }
    got += static_cast<size_t>(n);
  }
  return out;
}

bool url_safe(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

}  // namespace

std::unique_ptr<ShareStore> open_file_share_store(const std::string& dir);    // share_store_file.cpp
std::unique_ptr<ShareStore> open_redis_share_store(const std::string& spec);  // share_store_redis.cpp

std::unique_ptr<ShareStore> open_share_store(const std::string& spec) {
  if (spec.rfind("file:", 0) == 0) {
    if (spec.size() == 5) throw std::invalid_argument("share store \"file:\" needs a directory (file:DIR)");
    return open_file_share_store(spec.substr(5));
  }
  if (spec.rfind("redis://", 0) == 0) return open_redis_share_store(spec);
  throw std::invalid_argument("share store must be file:DIR, redis://host:port/db or none, not \"" + spec +
                              "\"");
}

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string new_share_id() {
  const auto bytes = random_bytes<16>();
  return base64url(bytes);
}

std::string new_delete_token() {
  const auto bytes = random_bytes<32>();
  return base64url(bytes);
}

bool is_share_id(std::string_view s) {
  if (s.size() != 22) return false;
  for (char c : s) {
    if (!url_safe(c)) return false;
  }
  return true;
}

std::string encode_share_record(const ShareObject& o) {
  const nlohmann::json header = {{"content_type", o.content_type},
                                 {"expires_at", o.expires_at},
                                 {"token_sha256", o.token_sha256},
                                 {"data_sha256", o.data_sha256},
                                 {"size", o.data.size()}};
  std::string out(kRecordMagic);
  out += header.dump();
  out += '\n';
  out += o.data;
  return out;
}

std::optional<ShareObject> decode_share_record(std::string_view record) {
  if (record.substr(0, kRecordMagic.size()) != kRecordMagic) return std::nullopt;
  record.remove_prefix(kRecordMagic.size());
  const size_t nl = record.find('\n');
  if (nl == std::string_view::npos) return std::nullopt;
  const auto header = nlohmann::json::parse(record.substr(0, nl), nullptr, /*allow_exceptions=*/false);
  if (!header.is_object()) return std::nullopt;
  record.remove_prefix(nl + 1);
  try {
    // Integers only (as encode_share_record writes them): get<>() of a float beyond the integer's
    // range, e.g. an integer too long for 64 bits, which JSON parses as a double, is undefined.
    if (!header.at("size").is_number_unsigned() || !header.at("expires_at").is_number_integer()) {
      return std::nullopt;
    }
    if (header.at("size").get<uint64_t>() != record.size()) return std::nullopt;  // cut short
    ShareObject o;
    o.content_type = header.at("content_type").get<std::string>();
    o.expires_at = header.at("expires_at").get<int64_t>();
    o.token_sha256 = header.at("token_sha256").get<std::string>();
    o.data_sha256 = header.at("data_sha256").get<std::string>();
    o.data.assign(record);
    return o;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

std::optional<int64_t> share_record_expiry(std::string_view head) {
  if (head.substr(0, kRecordMagic.size()) != kRecordMagic) return std::nullopt;
  head.remove_prefix(kRecordMagic.size());
  const size_t nl = head.find('\n');
  if (nl == std::string_view::npos) return std::nullopt;
  const auto header = nlohmann::json::parse(head.substr(0, nl), nullptr, /*allow_exceptions=*/false);
  if (!header.is_object() || !header.contains("expires_at") || !header["expires_at"].is_number_integer()) {
    return std::nullopt;
  }
  return header["expires_at"].get<int64_t>();
}

}  // namespace cutout::server
