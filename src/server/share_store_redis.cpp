// The Redis store (hiredis). Keys, all under "cutout:share:":
//   <id>     the record (share_store.h), with Redis's TTL: expired objects vanish by themselves
//   index    sorted set of ids by expires_at, and `sizes` (hash id -> bytes) and `bytes` (total),
//            so objects and bytes can be reported without scanning the keyspace
// Each change is one Lua script, so the key and its bookkeeping change together. Connections
// come from a small pool; one that fails is dropped and the call retried once on a new one, which
// is how the store recovers after Redis restarts. put() is safe to retry (SET NX on a fresh id).
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include <charconv>
#include <chrono>
#include <mutex>
#include <vector>

#include "server/share_store.h"

namespace cutout::server {
namespace {

constexpr const char* kIndex = "cutout:share:index";
constexpr const char* kSizes = "cutout:share:sizes";
constexpr const char* kBytes = "cutout:share:bytes";

constexpr const char* kPutScript = R"(
if redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2], 'NX') then
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
  redis.call('HSET', KEYS[3], ARGV[4], string.len(ARGV[1]))
  redis.call('INCRBY', KEYS[4], string.len(ARGV[1]))
end
return 1)";

constexpr const char* kRemoveScript = R"(
local n = redis.call('DEL', KEYS[1])
local size = redis.call('HGET', KEYS[3], ARGV[1])
if redis.call('ZREM', KEYS[2], ARGV[1]) == 1 and size then redis.call('DECRBY', KEYS[4], size) end
redis.call('HDEL', KEYS[3], ARGV[1])
return n)";

// Drops the bookkeeping of expired ids (their keys are gone already, by TTL).
constexpr const char* kSweepScript = R"(
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
for _, id in ipairs(ids) do
  local size = redis.call('HGET', KEYS[2], id)
  if size then redis.call('DECRBY', KEYS[3], size) end
  redis.call('HDEL', KEYS[2], id)
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
return #ids)";

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

struct ContextDeleter {
  void operator()(redisContext* c) const { redisFree(c); }
};
using Context = std::unique_ptr<redisContext, ContextDeleter>;

struct RedisAddress {
  std::string host = "127.0.0.1";
  int port = 6379;
  int db = 0;
};

int parse_number(std::string_view text, const std::string& spec, const char* what) {
  int value = -1;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 0) {
    throw std::invalid_argument("share store " + spec + ": bad " + what + " \"" + std::string(text) + "\"");
  }
  return value;
}

// redis://host[:port][/db]
RedisAddress parse_address(const std::string& spec) {
  RedisAddress a;
  std::string_view rest = std::string_view(spec).substr(8);
  const size_t slash = rest.find('/');
  std::string_view hostport = rest.substr(0, slash);
  if (slash != std::string_view::npos && slash + 1 < rest.size())
    a.db = parse_number(rest.substr(slash + 1), spec, "db");
  const size_t colon = hostport.rfind(':');
  if (colon != std::string_view::npos) {
    a.port = parse_number(hostport.substr(colon + 1), spec, "port");
    hostport = hostport.substr(0, colon);
  }
  if (hostport.empty() || a.port == 0 || a.port > 65535)
    throw std::invalid_argument("share store " + spec + ": expected redis://host:port/db");
  a.host = std::string(hostport);
  return a;
}

class RedisShareStore : public ShareStore {
 public:
  explicit RedisShareStore(RedisAddress address) : address_(std::move(address)) {}

  std::string kind() const override { return "redis"; }

  void put(const std::string& id, const ShareObject& object) override {
    const std::string record = encode_share_record(object);
    const std::string key = "cutout:share:" + id;
    const std::string ttl = std::to_string(std::max<int64_t>(1, object.expires_at - unix_now()));
    const std::string expires = std::to_string(object.expires_at);
    command([&](redisContext* c) {
      return static_cast<redisReply*>(redisCommand(
          c, "EVAL %s 4 %b %s %s %s %b %s %s %b", kPutScript, key.data(), key.size(), kIndex, kSizes, kBytes,
          record.data(), record.size(), ttl.c_str(), expires.c_str(), id.data(), id.size()));
    });
  }

  std::optional<ShareObject> get(const std::string& id) override {
    const std::string key = "cutout:share:" + id;
    Reply r = command([&](redisContext* c) {
      return static_cast<redisReply*>(redisCommand(c, "GET %b", key.data(), key.size()));
    });
    if (r->type != REDIS_REPLY_STRING) return std::nullopt;
    auto object = decode_share_record(std::string_view(r->str, r->len));
    if (!object || object->expires_at <= unix_now()) return std::nullopt;
    return object;
  }

  bool remove(const std::string& id) override {
    const std::string key = "cutout:share:" + id;
    Reply r = command([&](redisContext* c) {
      return static_cast<redisReply*>(redisCommand(c, "EVAL %s 4 %b %s %s %s %b", kRemoveScript, key.data(),
                                                   key.size(), kIndex, kSizes, kBytes, id.data(), id.size()));
    });
    return r->type == REDIS_REPLY_INTEGER && r->integer > 0;
  }

  int sweep() override {
    const std::string now = std::to_string(unix_now());
    Reply r = command([&](redisContext* c) {
      return static_cast<redisReply*>(
          redisCommand(c, "EVAL %s 3 %s %s %s %s", kSweepScript, kIndex, kSizes, kBytes, now.c_str()));
    });
    return r->type == REDIS_REPLY_INTEGER ? static_cast<int>(r->integer) : 0;
  }

  // Live objects (expires_at after now) and their bytes, after dropping the expired ones.
  ShareStoreStats stats() override {
    sweep();
    ShareStoreStats s;
    Reply objects = command(
        [&](redisContext* c) { return static_cast<redisReply*>(redisCommand(c, "ZCARD %s", kIndex)); });
    Reply bytes =
        command([&](redisContext* c) { return static_cast<redisReply*>(redisCommand(c, "GET %s", kBytes)); });
    if (objects->type == REDIS_REPLY_INTEGER) s.objects = objects->integer;
    if (bytes->type == REDIS_REPLY_STRING) s.bytes = std::strtoll(bytes->str, nullptr, 10);
    return s;
  }

 private:
  // Runs one command on a pooled connection; on a connection failure, once more on a new one.
  template <typename Send>
  Reply command(Send send) {
    std::string last_error;
    for (int attempt = 0; attempt < 2; ++attempt) {
      Context c = acquire(last_error);
      if (!c) continue;
      Reply r(send(c.get()));
      if (!r || c->err) {
        last_error = c->err ? c->errstr : "no reply";
        continue;  // the connection is dropped; the next attempt makes a new one
      }
      if (r->type == REDIS_REPLY_ERROR) {
        const std::string message(r->str, r->len);
        release(std::move(c));
        throw ShareStoreError("redis: " + message);
      }
      release(std::move(c));
      return r;
    }
    throw ShareStoreError("redis " + address_.host + ":" + std::to_string(address_.port) + ": " + last_error);
  }

  Context acquire(std::string& error) {
    {
      std::lock_guard lock(mutex_);
      if (!idle_.empty()) {
        Context c = std::move(idle_.back());
        idle_.pop_back();
        return c;
      }
    }
    const timeval connect_timeout{1, 0};
    const timeval command_timeout{2, 0};
    Context c(redisConnectWithTimeout(address_.host.c_str(), address_.port, connect_timeout));
    if (!c || c->err) {
      error = c ? c->errstr : "cannot allocate a connection";
      return nullptr;
    }
    redisSetTimeout(c.get(), command_timeout);
    if (address_.db != 0) {
      Reply r(static_cast<redisReply*>(redisCommand(c.get(), "SELECT %d", address_.db)));
      if (!r || r->type == REDIS_REPLY_ERROR) {
        error = r ? std::string(r->str, r->len) : std::string(c->errstr);
        return nullptr;
      }
    }
    return c;
  }

  void release(Context c) {
    std::lock_guard lock(mutex_);
    if (idle_.size() < 16) idle_.push_back(std::move(c));
  }

  const RedisAddress address_;
  std::mutex mutex_;
  std::vector<Context> idle_;
};

}  // namespace

std::unique_ptr<ShareStore> open_redis_share_store(const std::string& spec) {
  return std::make_unique<RedisShareStore>(parse_address(spec));
}

}  // namespace cutout::server
