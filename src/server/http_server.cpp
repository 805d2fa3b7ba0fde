// cpp-httplib behind HttpServer. Debian's cpp-httplib is a compiled library: its header must see
// the same feature macros it was built with (pkg-config cpp-httplib, set in CMakeLists.txt).
#include "server/http_server.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>

#include <httplib.h>

namespace cutout::server {
namespace {

// The socket of the request being handled on this thread. cpp-httplib 0.11 does not expose it,
// and a client that disconnects must cancel its queued work: find the socket whose peer is the
// request's remote address and port (once per request: a scan of /proc/self/fd), then poll it.
int find_peer_socket(const std::string& remote_addr, int remote_port) {
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) return -1;
  int found = -1;
  while (dirent* entry = readdir(dir)) {
    char* end = nullptr;
    const long fd = std::strtol(entry->d_name, &end, 10);
    if (!end || *end != '\0' || fd < 0) continue;
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    if (getpeername(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&addr), &len) != 0) continue;
    char host[INET6_ADDRSTRLEN] = {};
    int port = 0;
    if (addr.ss_family == AF_INET) {
      auto* a = reinterpret_cast<sockaddr_in*>(&addr);
      inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
      port = ntohs(a->sin_port);
    } else if (addr.ss_family == AF_INET6) {
      auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
      inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
      port = ntohs(a->sin6_port);
    } else {
      continue;
    }
    if (port == remote_port && remote_addr == host) {
      found = static_cast<int>(fd);
      break;
    }
  }
  closedir(dir);
  return found;
}

// True when the peer has closed the connection (or it broke). Data waiting to be read (a
// pipelined request) does not count.
bool socket_closed(int fd) {
  if (fd < 0) return false;
  pollfd p{fd, POLLIN | POLLRDHUP, 0};
  if (poll(&p, 1, 0) <= 0) return false;
  if (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) return true;
  char c;
  return recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

class ChunkSink final : public EventSink {
 public:
  explicit ChunkSink(httplib::DataSink& sink) : sink_(sink) {}
  bool write(std::string_view data) override {
    return sink_.is_writable() && sink_.write(data.data(), data.size());
  }

 private:
  httplib::DataSink& sink_;
};

HttpRequest convert(const httplib::Request& req) {
  HttpRequest r;
  r.method = req.method;
  r.path = req.path;
  r.target = req.target;
  for (const auto& [k, v] : req.params) r.query.emplace(k, v);
  for (const auto& [name, part] : req.files) {
    if (part.filename.empty() && part.content_type.empty()) r.form[name] = part.content;
    else r.files[name] = FilePart{part.filename, part.content_type, part.content};
  }
  if (!req.is_multipart_form_data()) r.body = req.body;
  r.remote_ip = req.remote_addr;
  r.header = [&req](std::string_view name) { return req.get_header_value(std::string(name)); };
  const std::string addr = req.remote_addr;
  const int port = req.remote_port;
  r.client_gone = [addr, port, fd = -2]() mutable {
    if (fd == -2) fd = find_peer_socket(addr, port);
    return socket_closed(fd);
  };
  return r;
}

// Takes the response apart: its body (often megabytes of base64 or image bytes) is moved, not copied.
void apply(HttpResponse&& from, httplib::Response& to) {
  to.status = from.status;
  for (const auto& [k, v] : from.headers) to.set_header(k, v);
  if (from.stream) {
    auto stream = std::move(from.stream);
    to.set_chunked_content_provider(from.content_type, [stream](size_t, httplib::DataSink& sink) {
      ChunkSink chunks(sink);
      stream(chunks);
      sink.done();
      return true;
    });
  } else {
    to.set_content("", 0, from.content_type);  // cpp-httplib 0.11 has no set_content(std::string&&)
    to.body = std::move(from.body);
  }
}

}  // namespace

std::string HttpRequest::param(const std::string& name) const {
  if (auto it = query.find(name); it != query.end()) return it->second;
  if (auto it = form.find(name); it != form.end()) return it->second;
  return "";
}

bool HttpRequest::has_param(const std::string& name) const { return query.count(name) || form.count(name); }

struct HttpServer::Impl {
  HttpServerOptions options;
  Handler handler;
  httplib::Server server;
  int port = -1;
};

HttpServer::HttpServer(HttpServerOptions options, Handler handler) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->handler = std::move(handler);
  Impl& m = *impl_;
  const int threads = m.options.threads;
  m.server.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  m.server.set_payload_max_length(m.options.max_body_bytes);
  // Headers and body go out in separate writes: without TCP_NODELAY, Nagle holds the second for
  // the client's delayed ACK (40 ms per response on Linux).
  m.server.set_tcp_nodelay(true);
  // cpp-httplib closes a keep-alive connection after 5 requests by default; clients then pay a
  // reconnect (or fail a request they had already sent on it).
  m.server.set_keep_alive_max_count(1000);
  m.server.set_keep_alive_timeout(30);
  m.server.set_read_timeout(m.options.read_timeout_s, 0);
  m.server.set_write_timeout(m.options.write_timeout_s, 0);
  auto dispatch = [this](const httplib::Request& req, httplib::Response& res) {
    HttpRequest request = convert(req);
    apply(impl_->handler(request), res);
  };
  for (auto route : {&httplib::Server::Get, &httplib::Server::Delete, &httplib::Server::Options}) {
    (m.server.*route)(".*", dispatch);
  }
  m.server.Post(".*", httplib::Server::Handler(dispatch));
  m.server.Put(".*", httplib::Server::Handler(dispatch));
  m.server.Patch(".*", httplib::Server::Handler(dispatch));
  // cpp-httplib parses an application/x-www-form-urlencoded body into parameters and refuses one
  // over 8 KiB with its own 413, yet a raw image often comes with that type (curl --data-binary
  // sends it). Bodies are sniffed by their bytes (SPEC §3), so POSTs lose that type before the
  // body is read. (The request is not const inside cpp-httplib; only this hook's view of it is.)
  m.server.set_pre_routing_handler([](const httplib::Request& req, httplib::Response&) {
    const std::string type = req.get_header_value("Content-Type");
    if (req.method == "POST" && type.rfind("application/x-www-form-urlencoded", 0) == 0) {
      const_cast<httplib::Request&>(req).headers.erase("Content-Type");
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  // cpp-httplib answers oversize bodies itself, with an empty body: give them ours. The error
  // handler also sees every error our handler returned (always with a body, e.g. a 413
  // image_too_large): those stay as they are.
  m.server.set_error_handler(httplib::Server::HandlerWithResponse(
      [this](const httplib::Request& req, httplib::Response& res) {
        if (res.status == 413 && res.body.empty() && impl_->options.on_payload_too_large) {
          HttpRequest request = convert(req);
          apply(impl_->options.on_payload_too_large(request), res);
          return httplib::Server::HandlerResponse::Handled;
        }
        return httplib::Server::HandlerResponse::Unhandled;
      }));
}

HttpServer::~HttpServer() { stop(); }

bool HttpServer::bind(std::string* error) {
  Impl& m = *impl_;
  if (m.options.port == 0) {
    m.port = m.server.bind_to_any_port(m.options.host);
  } else {
    m.port = m.server.bind_to_port(m.options.host, m.options.port) ? m.options.port : -1;
  }
  if (m.port < 0 && error) {
    *error = "cannot listen on " + m.options.host + ":" + std::to_string(m.options.port) + ": " + std::strerror(errno);
  }
  return m.port >= 0;
}

int HttpServer::bound_port() const { return impl_->port; }

void HttpServer::run() { impl_->server.listen_after_bind(); }

void HttpServer::stop() {
  if (impl_->server.is_running()) impl_->server.stop();
}

std::optional<int> http_get_status(const std::string& host, int port, const std::string& path,
                                   int timeout_ms) {
  auto answer =
      http_call("GET", "http://" + host + ":" + std::to_string(port) + path, {}, timeout_ms, nullptr);
  if (!answer) return std::nullopt;
  return answer->status;
}

std::optional<HttpAnswer> http_call(const std::string& method, const std::string& url,
                                    const std::vector<std::pair<std::string, std::string>>& headers,
                                    int timeout_ms, std::string* error) {
  const size_t scheme_end = url.find("://");
  const size_t path_start =
      scheme_end == std::string::npos ? std::string::npos : url.find('/', scheme_end + 3);
  if (scheme_end == std::string::npos) {
    if (error) *error = "not a URL: " + url;
    return std::nullopt;
  }
  const std::string base = path_start == std::string::npos ? url : url.substr(0, path_start);
  const std::string path = path_start == std::string::npos ? "/" : url.substr(path_start);
  httplib::Client client(base);
  if (!client.is_valid()) {
    if (error) *error = "unsupported URL: " + url;
    return std::nullopt;
  }
  const auto timeout = std::chrono::milliseconds(timeout_ms);
  client.set_connection_timeout(timeout);
  client.set_read_timeout(timeout);
  client.set_write_timeout(timeout);
  httplib::Headers h;
  for (const auto& [k, v] : headers) h.emplace(k, v);
  httplib::Result res = method == "GET" ? client.Get(path, h) : client.Post(path, h, "", "text/plain");
  if (!res) {
    if (error) *error = httplib::to_string(res.error());
    return std::nullopt;
  }
  return HttpAnswer{res->status, res->body};
}

}  // namespace cutout::server
