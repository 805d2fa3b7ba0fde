// Feeds the input, as a stored share object (a file of the file: store, a value of the redis://
// store), to decode_share_record (what ShareStore::get serves from) and to share_record_expiry,
// on the whole input and on its first 1 KiB (what the file store's sweeper reads).
// No limits needed: a record is at most as large as the input.
// Expected outcomes (share_store.h): an object or nullopt, never an exception; a decoded object
// encodes (encode_share_record) into a record that decodes to the same object.
#include <optional>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "server/share_store.h"

namespace {

bool same(const cutout::server::ShareObject& a, const cutout::server::ShareObject& b) {
  return a.content_type == b.content_type && a.data == b.data && a.expires_at == b.expires_at &&
         a.token_sha256 == b.token_sha256 && a.data_sha256 == b.data_sha256;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view record(reinterpret_cast<const char*>(data), size);
  const std::optional<cutout::server::ShareObject> object = cutout::server::decode_share_record(record);
  if (object) {
    FUZZ_CHECK(object->data.size() <= record.size());
    const std::optional<cutout::server::ShareObject> again =
        cutout::server::decode_share_record(cutout::server::encode_share_record(*object));
    FUZZ_CHECK(again && same(*object, *again));
  }
  (void)cutout::server::share_record_expiry(record);
  (void)cutout::server::share_record_expiry(record.substr(0, 1024));
  return 0;
}
