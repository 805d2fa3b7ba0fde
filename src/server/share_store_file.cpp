// The file store: one file per object, named by its id, in one directory.
//
// put() writes "<dir>/.tmp-<process tag>-<id>", fsyncs it, renames it to "<dir>/<id>" and fsyncs
// the directory: after a crash an object is either absent or complete (the rename is atomic), and
// a 201 is only sent after the directory entry is on disk. Temp files of other processes (their
// tag differs) are orphans of a crash: the sweeper removes them, with expired objects. One
// directory belongs to one process at a time.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <optional>
#include <utility>

#include "server/share_store.h"

namespace cutout::server {
namespace {

constexpr std::string_view kTempPrefix = ".tmp-";
constexpr int64_t kStaleTempSeconds = 3600;  // our own temp files older than this are leftovers too

[[noreturn]] void fail(const std::string& what, const std::string& path) {
  throw ShareStoreError(what + " " + path + ": " + std::strerror(errno));
}

// A file descriptor closed on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

void write_all(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("cannot write", path);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
}

// The whole file, or nullopt when it does not exist. `limit`: read at most this many bytes.
std::optional<std::string> read_file(const std::string& path, size_t limit = SIZE_MAX) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) return std::nullopt;
    fail("cannot open", path);
  }
  std::string out;
  char buf[1 << 16];
  while (out.size() < limit) {
    const ssize_t n = ::read(fd.get(), buf, std::min(sizeof buf, limit - out.size()));
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("cannot read", path);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

std::string random_tag() {
  const std::string id = new_share_id();  // 128 random bits; the first 12 characters are plenty
  return id.substr(0, 12);
}

class FileShareStore : public ShareStore {
 public:
  explicit FileShareStore(std::string dir) : dir_(std::move(dir)), tag_(random_tag()) {
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    if (ec) throw ShareStoreError("cannot create the share directory " + dir_ + ": " + ec.message());
    if (::access(dir_.c_str(), W_OK) != 0) fail("cannot write to the share directory", dir_);
  }

  std::string kind() const override { return "file"; }

  void put(const std::string& id, const ShareObject& object) override {
    const std::string record = encode_share_record(object);
    const std::string temp = dir_ + "/" + std::string(kTempPrefix) + tag_ + "-" + id;
    const std::string final_path = dir_ + "/" + id;
    {
      Fd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
      if (fd.get() < 0) fail("cannot create", temp);
      try {
        write_all(fd.get(), record, temp);
        if (::fsync(fd.get()) != 0) fail("cannot fsync", temp);
      } catch (...) {
        ::unlink(temp.c_str());
        throw;
      }
      if (::close(fd.release()) != 0) {
        ::unlink(temp.c_str());
        fail("cannot close", temp);
      }
    }
    if (::rename(temp.c_str(), final_path.c_str()) != 0) {
      ::unlink(temp.c_str());
      fail("cannot rename to", final_path);
    }
    sync_directory();
    std::lock_guard lock(mutex_);
    stats_.objects += 1;
    stats_.bytes += static_cast<int64_t>(record.size());
  }

  std::optional<ShareObject> get(const std::string& id) override {
    const auto record = read_file(dir_ + "/" + id);
    if (!record) return std::nullopt;
    auto object = decode_share_record(*record);
    // A damaged record (cannot come from put(), whose rename is atomic) is never served.
    if (!object || object->expires_at <= unix_now()) return std::nullopt;  // the sweeper removes expired ones
    return object;
  }

  bool remove(const std::string& id) override {
    const std::string path = dir_ + "/" + id;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
      if (errno == ENOENT) return false;
      fail("cannot stat", path);
    }
    if (::unlink(path.c_str()) != 0) {
      if (errno == ENOENT) return false;
      fail("cannot remove", path);
    }
    sync_directory();
    std::lock_guard lock(mutex_);
    stats_.objects -= 1;
    stats_.bytes -= static_cast<int64_t>(st.st_size);
    return true;
  }

  // Removes expired objects, temp files of other processes and our own stale ones; recounts.
  int sweep() override {
    DIR* d = ::opendir(dir_.c_str());
    if (!d) fail("cannot list", dir_);
    const int64_t now = unix_now();
    const std::string own = std::string(kTempPrefix) + tag_ + "-";
    int removed = 0;
    ShareStoreStats counted;
    while (dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      const std::string path = dir_ + "/" + name;
      struct stat st {};
      if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      bool remove_it = false;
      if (name.rfind(kTempPrefix, 0) == 0) {
        remove_it = name.rfind(own, 0) != 0 || now - st.st_mtime > kStaleTempSeconds;
      } else if (is_share_id(name)) {
        const auto head = read_file(path, 1024);
        const auto expires = head ? share_record_expiry(*head) : std::nullopt;
        remove_it = expires && *expires <= now;
        if (!remove_it && head) {
          counted.objects += 1;
          counted.bytes += st.st_size;
        }
      }
      if (remove_it && ::unlink(path.c_str()) == 0) ++removed;
    }
    ::closedir(d);
    if (removed > 0) sync_directory();
    std::lock_guard lock(mutex_);
    stats_ = counted;
    return removed;
  }

  ShareStoreStats stats() override {
    std::lock_guard lock(mutex_);
    return stats_;
  }

 private:
  // The rename (or unlink) is durable once the directory itself is synced.
  void sync_directory() {
    Fd fd(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (fd.get() < 0 || ::fsync(fd.get()) != 0) fail("cannot fsync the directory", dir_);
  }

  const std::string dir_;
  const std::string tag_;  // this process's temp files: .tmp-<tag>-<id>
  std::mutex mutex_;
  ShareStoreStats stats_;
};

}  // namespace

std::unique_ptr<ShareStore> open_file_share_store(const std::string& dir) {
  return std::make_unique<FileShareStore>(dir);
}

}  // namespace cutout::server
