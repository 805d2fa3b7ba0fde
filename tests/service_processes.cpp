#include "service_processes.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <hiredis/hiredis.h>

namespace cutout::testing {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr const char* kRedisServer = "/usr/bin/redis-server";
constexpr const char* kNginx = "/usr/sbin/nginx";

// Round robin over the upstreams; a request goes to the next one after a connection error, a
// timeout or a 502 (a POST only when it was not sent yet: nginx never resends a non-idempotent one).
// Every upstream tried is logged. Temp paths are ours: nginx's defaults are outside the test's dir.
constexpr const char* kNginxConf = R"(daemon off;
master_process on;
worker_processes 1;
error_log @DIR@/error.log info;
pid @DIR@/nginx.pid;
events { worker_connections 512; }
http {
  log_format upstreams '$request_method|$request_uri|$status|$upstream_addr';
  access_log @DIR@/access.log upstreams;
  client_body_temp_path @DIR@/client_body;
  proxy_temp_path @DIR@/proxy;
  fastcgi_temp_path @DIR@/fastcgi;
  uwsgi_temp_path @DIR@/uwsgi;
  scgi_temp_path @DIR@/scgi;
  client_max_body_size 30m;
  client_body_buffer_size 30m;
  upstream cutout {
@UPSTREAMS@  }
  server {
    listen 127.0.0.1:@PORT@;
    location / {
      proxy_pass http://cutout;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_next_upstream error timeout http_502;
      proxy_connect_timeout 2s;
      proxy_read_timeout 60s;
    }
  }
}
)";

std::string substitute(std::string text, const std::vector<std::pair<std::string, std::string>>& values) {
  for (const auto& [key, value] : values) {
    for (size_t at; (at = text.find(key)) != std::string::npos;) text.replace(at, key.size(), value);
  }
  return text;
}

// True when the child has exited (and is reaped).
bool exited(pid_t pid) {
  int status = 0;
  return waitpid(pid, &status, WNOHANG) == pid;
}

// Waits up to `timeout` for the child to exit; true when it did.
bool wait_gone(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid || r < 0) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
}

struct ContextDeleter {
  void operator()(redisContext* c) const { redisFree(c); }
};
struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using RedisContextPtr = std::unique_ptr<redisContext, ContextDeleter>;
using RedisReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

RedisReply flatten(const redisReply& r) {
  RedisReply out;
  switch (r.type) {
    case REDIS_REPLY_STRING:
      out.type = RedisReply::Type::kString;
      out.text.assign(r.str, r.len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = RedisReply::Type::kStatus;
      out.text.assign(r.str, r.len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = RedisReply::Type::kError;
      out.text.assign(r.str, r.len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::kInteger;
      out.integer = r.integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::kArray;
      for (size_t i = 0; i < r.elements; ++i) out.elements.push_back(flatten(*r.element[i]));
      break;
    default:
      out.type = RedisReply::Type::kNil;
  }
  return out;
}

RedisReplyPtr send_command(redisContext* c, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lengths.push_back(a.size());
  }
  RedisReplyPtr reply(static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lengths.data())));
  if (!reply) throw std::runtime_error(std::string("redis command failed: ") + c->errstr);
  return reply;
}

// One command on database `db`, on a fresh connection (the tests send few, and a fresh one is never
// stale after a restart; SELECT holds for its connection only).
RedisReply redis_command(int port, int db, const std::vector<std::string>& args,
                         std::chrono::milliseconds timeout) {
  const timeval tv{static_cast<time_t>(timeout.count() / 1000),
                   static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
  RedisContextPtr c(redisConnectWithTimeout("127.0.0.1", port, tv));
  if (!c || c->err) {
    throw std::runtime_error("cannot connect to redis on port " + std::to_string(port) + ": " +
                             (c ? c->errstr : "out of memory"));
  }
  redisSetTimeout(c.get(), tv);
  if (db != 0) {
    const RedisReplyPtr selected = send_command(c.get(), {"SELECT", std::to_string(db)});
    if (selected->type == REDIS_REPLY_ERROR)
      throw std::runtime_error("redis SELECT failed: " + std::string(selected->str));
  }
  return flatten(*send_command(c.get(), args));
}

// Polls `answers` until it returns true; false when the child exits first or the timeout passes.
template <typename Probe>
bool wait_until_answers(pid_t pid, Probe answers, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (answers()) return true;
    if (exited(pid) || Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
}

// An HTTP request to nginx got an answer (whatever its status): it listens and its workers run.
bool http_answers(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  const timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = false;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const std::string request = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size())) {
      char buf[16];
      const ssize_t n = recv(fd, buf, sizeof buf, 0);
      ok = n >= 5 && std::string(buf, 5) == "HTTP/";
    }
  }
  close(fd);
  return ok;
}

}  // namespace

int free_loopback_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(fd);
    throw std::runtime_error(std::string("bind: ") + std::strerror(errno));
  }
  close(fd);
  return ntohs(addr.sin_port);
}

// ---- Redis

RedisProcess::RedisProcess() {
  ::signal(SIGPIPE, SIG_IGN);
  // A free port may be taken before Redis binds it: then it exits, and another port is tried.
  for (int attempt = 1;; ++attempt) {
    try {
      start_on(free_loopback_port());
      return;
    } catch (const std::runtime_error&) {
      if (attempt == 3) throw;
    }
  }
}

RedisProcess::~RedisProcess() {
  stop();
}

std::string RedisProcess::url(int db) const {
  return "redis://127.0.0.1:" + std::to_string(port_) + "/" + std::to_string(db);
}

void RedisProcess::start() {
  if (pid_ > 0) throw std::logic_error("redis is already running");
  // After a SIGKILL the port is free at once (Redis sets SO_REUSEADDR); a little patience covers
  // the kernel finishing with the old socket.
  const auto deadline = Clock::now() + 10s;
  for (;;) {
    try {
      start_on(port_);
      return;
    } catch (const std::runtime_error&) {
      if (Clock::now() >= deadline) throw;
      std::this_thread::sleep_for(100ms);
    }
  }
}

void RedisProcess::start_on(int port) {
  const fs::path log = dir_.path() / "redis.log";
  SpawnOptions spawn;
  spawn.stdout_path = log;  // and stderr
  spawn.append = true;
  pid_ = spawn_process({kRedisServer, "--port", std::to_string(port), "--bind", "127.0.0.1", "--dir",
                        dir_.path().string(), "--save", "", "--appendonly", "no", "--daemonize", "no",
                        "--protected-mode", "no", "--databases", "16", "--loglevel", "notice"},
                       spawn);
  port_ = port;
  const bool up = wait_until_answers(
      pid_,
      [&] {
        try {
          const RedisReply pong = redis_command(port, 0, {"PING"}, 1000ms);
          return pong.type == RedisReply::Type::kStatus && pong.text == "PONG";
        } catch (const std::runtime_error&) {
          return false;
        }
      },
      15s);
  if (!up) {
    stop();
    throw std::runtime_error("redis-server did not answer PING on port " + std::to_string(port) +
                             "\n--- log:\n" + read_text_file(log));
  }
}

void RedisProcess::stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  wait_gone(pid_, 10s);
  pid_ = -1;
}

RedisReply RedisProcess::command(const std::vector<std::string>& args, int db) const {
  return redis_command(port_, db, args, 5000ms);
}

std::vector<std::string> RedisProcess::keys(int db) const {
  const RedisReply reply = command({"KEYS", "*"}, db);
  if (reply.type != RedisReply::Type::kArray) throw std::runtime_error("KEYS did not answer an array");
  std::vector<std::string> out;
  for (const auto& e : reply.elements) out.push_back(e.text);
  return out;
}

std::string RedisProcess::log_text() const {
  return read_text_file(dir_.path() / "redis.log");
}

// ---- nginx

NginxProcess::NginxProcess(const std::vector<int>& upstream_ports) {
  ::signal(SIGPIPE, SIG_IGN);
  const fs::path& d = dir_.path();
  // When the tests run as root, nginx's workers run as nobody: they must be able to write the
  // request-body and proxy buffers.
  for (const char* sub : {"client_body", "proxy", "fastcgi", "uwsgi", "scgi"}) {
    fs::create_directories(d / sub);
    chmod((d / sub).c_str(), 0777);
  }
  chmod(d.c_str(), 0755);
  for (int attempt = 1;; ++attempt) {
    port_ = free_loopback_port();
    std::string upstreams;
    for (int p : upstream_ports) upstreams += "    server 127.0.0.1:" + std::to_string(p) + ";\n";
    const std::string conf = substitute(
        kNginxConf, {{"@DIR@", d.string()}, {"@PORT@", std::to_string(port_)}, {"@UPSTREAMS@", upstreams}});
    {
      std::ofstream out(d / "nginx.conf");
      out << conf;
      if (!out) throw std::runtime_error("cannot write nginx.conf");
    }
    SpawnOptions spawn;
    spawn.stdout_path = d / "stderr.log";  // and stderr
    spawn.append = true;
    spawn.own_process_group = true;  // stop() signals the workers with the master
    pid_ = spawn_process(
        {kNginx, "-p", d.string() + "/", "-c", (d / "nginx.conf").string(), "-e", (d / "error.log").string()},
        spawn);
    const auto answers = [&] { return http_answers(port_); };
    if (wait_until_answers(pid_, answers, 15s)) return;
    const std::string why = read_text_file(d / "error.log") + read_text_file(d / "stderr.log");
    stop();
    // The port may have been taken before nginx bound it: try another one.
    if (attempt == 3 || why.find("Address already in use") == std::string::npos) {
      throw std::runtime_error("nginx did not answer on port " + std::to_string(port_) + "\n--- logs:\n" +
                               why);
    }
  }
}

NginxProcess::~NginxProcess() {
  stop();
}

void NginxProcess::stop() {
  if (pid_ <= 0) return;
  // SIGTERM is nginx's fast shutdown: the master stops its workers, then exits.
  kill(pid_, SIGTERM);
  if (!wait_gone(pid_, 5s)) kill(-pid_, SIGKILL);
  wait_gone(pid_, 5s);
  kill(-pid_, SIGKILL);  // any worker that outlived its master (none when the master shut down)
  pid_ = -1;
}

std::string NginxProcess::access_log() const {
  return read_text_file(dir_.path() / "access.log");
}
std::string NginxProcess::error_log() const {
  return read_text_file(dir_.path() / "error.log");
}

std::vector<NginxAccess> NginxProcess::access_entries() const {
  std::vector<NginxAccess> out;
  std::istringstream in(access_log());
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> fields;
    size_t begin = 0;
    for (size_t end; (end = line.find('|', begin)) != std::string::npos; begin = end + 1) {
      fields.push_back(line.substr(begin, end - begin));
    }
    fields.push_back(line.substr(begin));
    if (fields.size() != 4) continue;  // not ours (a line still being written)
    NginxAccess a;
    a.method = fields[0];
    a.uri = fields[1];
    a.status = std::atoi(fields[2].c_str());
    // "$upstream_addr": "A, B" after a retry, "-" when no upstream was asked.
    std::istringstream addrs(fields[3]);
    for (std::string addr; std::getline(addrs, addr, ',');) {
      addr.erase(0, addr.find_first_not_of(' '));
      if (!addr.empty() && addr != "-") a.upstreams.push_back(addr);
    }
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace cutout::testing
