// Durable storage of shared images (POST /api/v2/share-image, GET/DELETE /s/{id}).
//
// Two stores behind one interface, chosen by a spec string:
//   file:DIR              one file per object in DIR, written as temp file + fsync + rename + fsync
//                         of the directory, so an object is either absent or complete, and
//                         survives restarts; a sweeper removes expired objects and temp files
//                         left by earlier processes.
//   redis://host:port/db  one key per object with Redis's own TTL (hiredis, a small connection
//                         pool; a broken connection is re-made on the next call, so the store
//                         recovers when Redis restarts).
// Both hold the same record (ShareRecord): header line + bytes, checked for length on read, so
// a partial object is never served.
//
// Thread-safety: every member function may be called from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace cutout::server {

struct ShareObject {
  std::string content_type;  // from the sniffed bytes, e.g. "image/png"
  std::string data;
  int64_t expires_at = 0;    // unix seconds
  std::string token_sha256;  // hex SHA-256 of the delete token (the token itself is not kept)
  std::string data_sha256;   // hex SHA-256 of data (the ETag)
};

struct ShareStoreStats {
  int64_t objects = 0;
  int64_t bytes = 0;
};

// A store that cannot be reached or written: the API answers 503 store_unavailable.
class ShareStoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class ShareStore {
 public:
  virtual ~ShareStore() = default;
  virtual std::string kind() const = 0;  // "file" or "redis" (the metrics' store label)
  // Stores a new object under a fresh id; throws ShareStoreError.
  virtual void put(const std::string& id, const ShareObject& object) = 0;
  // The object, or nullopt when unknown or expired; throws ShareStoreError.
  virtual std::optional<ShareObject> get(const std::string& id) = 0;
  // Removes it; false when it was not there; throws ShareStoreError.
  virtual bool remove(const std::string& id) = 0;
  // Removes expired objects (and, for files, orphaned temp files); returns how many went.
  virtual int sweep() = 0;
  virtual ShareStoreStats stats() = 0;
};

// Opens the store of a spec ("file:DIR" or "redis://host:port/db"); throws std::invalid_argument
// for a malformed spec and ShareStoreError when the store cannot be opened (the directory cannot
// be created; Redis is checked lazily, so a service can start before its Redis).
std::unique_ptr<ShareStore> open_share_store(const std::string& spec);

// Unix seconds now: the clock of ShareObject::expires_at.
int64_t unix_now();

// Ids are 128 random bits in URL-safe base64 without padding (22 characters); tokens 256 bits (43).
std::string new_share_id();
std::string new_delete_token();
bool is_share_id(std::string_view s);

// The stored form of an object: "cutout-share 1\n" + JSON header + "\n" + bytes.
std::string encode_share_record(const ShareObject& object);
// nullopt when the record is not one, or its data is not as long as its header says.
std::optional<ShareObject> decode_share_record(std::string_view record);
// expires_at from a record's first bytes (the header is under 1 KiB); nullopt when not a record.
std::optional<int64_t> share_record_expiry(std::string_view head);

}  // namespace cutout::server
