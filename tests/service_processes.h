// TEST-ONLY: the services that the share-store tests run beside `cutout serve` (SPEC §7
// scale-out): a Redis server (Debian's redis-server) and an nginx load balancer (Debian's nginx),
// each a child process on a free loopback port with its own temporary directory.
//
// RedisProcess runs `redis-server` without persistence (`--save "" --appendonly no`) and waits for
// PING to answer PONG; stop()/start() take it away and bring it back on the same port (a restart
// loses its data, as a cache's would). command() talks to it through hiredis, so that tests can look
// at what the service stored.
//
// NginxProcess writes an nginx.conf that balances round robin over the given loopback ports, logs
// each request with the upstream that served it, and retries the next upstream on a connection error,
// a timeout or a 502; it starts `nginx -p <dir> -c <dir>/nginx.conf` in the foreground and waits until
// it answers.
//
// Thread-safety: command(), port(), url() and the log readers may be called from any thread;
// start(), stop() and the destructors from the owning thread. Lifetime: the destructors kill the
// processes; Redis (and nginx's master) also die with the thread that started them
// (PR_SET_PDEATHSIG), so create them on the test's own thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "test_support.h"

namespace cutout::testing {

// A free TCP port on 127.0.0.1 (bound, read, released: another process may take it in between, which
// the starters below answer by trying again).
int free_loopback_port();

// One Redis reply, flattened: hiredis' types without its memory management.
struct RedisReply {
  enum class Type { kString, kStatus, kError, kInteger, kNil, kArray };
  Type type = Type::kNil;
  std::string text;  // kString, kStatus, kError
  long long integer = 0;
  std::vector<RedisReply> elements;  // kArray
};

class RedisProcess {
 public:
  // Starts redis-server on a free loopback port; throws std::runtime_error (with its log) when it
  // does not answer PING within the timeout.
  RedisProcess();
  ~RedisProcess();
  RedisProcess(const RedisProcess&) = delete;
  RedisProcess& operator=(const RedisProcess&) = delete;

  int port() const { return port_; }
  // redis://127.0.0.1:<port>/<db>, the form `cutout serve --share-store` takes.
  std::string url(int db = 0) const;
  bool running() const { return pid_ > 0; }

  // SIGKILLs it and waits for it to go (its data goes with it).
  void stop();
  // Starts it again on the same port; throws when it does not come up.
  void start();
  void restart() {
    stop();
    start();
  }

  // Runs one command on database `db`; throws std::runtime_error when Redis does not answer.
  RedisReply command(const std::vector<std::string>& args, int db = 0) const;
  // Every key of database `db` (KEYS *: the test databases are small).
  std::vector<std::string> keys(int db = 0) const;
  std::string log_text() const;

 private:
  void start_on(int port);

  TempDir dir_;
  pid_t pid_ = -1;
  int port_ = -1;
};

// One line of NginxProcess's access log.
struct NginxAccess {
  std::string method;
  std::string uri;  // as the client sent it
  int status = 0;   // what nginx answered
  // Every upstream tried, in order ("127.0.0.1:<port>"); more than one after a retry, none when
  // nginx answered by itself.
  std::vector<std::string> upstreams;
};

class NginxProcess {
 public:
  // Balances round robin over 127.0.0.1:<port> for each of `upstream_ports`; listens on a free
  // loopback port. Throws std::runtime_error (with its error log) when it does not answer.
  explicit NginxProcess(const std::vector<int>& upstream_ports);
  ~NginxProcess();
  NginxProcess(const NginxProcess&) = delete;
  NginxProcess& operator=(const NginxProcess&) = delete;

  int port() const { return port_; }
  std::string access_log() const;
  std::string error_log() const;
  // The access log so far, one entry per request nginx finished.
  std::vector<NginxAccess> access_entries() const;

 private:
  void stop();

  TempDir dir_;
  pid_t pid_ = -1;
  int port_ = -1;
};

}  // namespace cutout::testing
