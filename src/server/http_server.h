// The HTTP transport: the only place that knows Boost.Beast (the server), hidden behind Impl, and
// with url_fetch.cpp (remove.bg's image_url) the only one that knows cpp-httplib (the client calls
// at the bottom).
//
// Event-driven: a few I/O threads (epoll, through Boost.Asio) read every connection's request
// with deadlines -- the header section from the first byte (or from the connection, for a new
// one), the body from the end of the headers, the next request of a keep-alive connection -- so
// a slow or idle client costs a socket and a few kilobytes, never a thread. Only a complete
// request goes to the worker threads, where the one handler (the service's router) runs and may
// block (it waits for inference). A response is either a complete body, or a stream (server-sent
// events) written after the headers. Errors the transport finds itself (malformed or oversize
// requests, deadlines, too many connections) go through on_error, so they get the service's JSON
// body, request id, log line and metrics like every other answer.
//
// Thread-safety: the handler is called concurrently from the worker threads, on_error from the
// I/O and worker threads. stop() may be called from any thread; run() returns after the listening
// socket is closed and in-flight requests have finished.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "server/api_error.h"

namespace cutout::server {

struct FilePart {
  std::string filename;
  std::string content_type;
  std::string content;
};

struct HttpRequest {
  std::string method;
  std::string path;    // without the query
  std::string target;  // path and query, as sent
  std::multimap<std::string, std::string> query;
  std::map<std::string, std::string> form;  // multipart fields that are not files
  std::map<std::string, FilePart> files;    // multipart file parts by field name
  std::string body;                         // raw body (empty for multipart)
  std::string remote_ip;
  // Header lookup, case-insensitive; "" when absent. It shares the transport's copy of the
  // headers, so it stays valid when the request is copied or outlives the handler.
  std::function<std::string(std::string_view)> header;
  // True once the client has closed its connection (polls the socket; cheap).
  std::function<bool()> client_gone;

  // First value of a query parameter or form field (query wins); "" when absent.
  std::string param(const std::string& name) const;
  bool has_param(const std::string& name) const;
};

// Writes server-sent events; write() returns false once the client is gone.
class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual bool write(std::string_view data) = 0;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // When set, the body is streamed: called after the headers are sent, on the request's thread.
  std::function<void(EventSink&)> stream;
};

using Handler = std::function<HttpResponse(HttpRequest&)>;

struct HttpServerOptions {
  std::string host = "0.0.0.0";
  int port = 8080;                        // 0: any free port (see bound_port())
  int threads = 32;                       // worker threads: requests handled at once
  int io_threads = 2;                     // threads reading and writing sockets
  uint64_t max_body_bytes = 25u << 20;    // larger bodies get 413 before the handler runs
  uint32_t max_header_bytes = 64u << 10;  // request line and headers; more get 431
  int max_connections = 1024;             // open at once; more are answered 503 and closed at once
  double header_timeout_s = 10;           // a request's line and headers must arrive within this
  double body_timeout_s = 60;             // its body within this after the headers
  double keepalive_timeout_s = 30;        // an idle keep-alive connection is closed after this
  double write_timeout_s = 60;            // each write of a response must finish within this
  // Builds the answer to a request the transport refuses (the handler is not called), given its
  // error (request_timeout, headers_too_large, bad_request, payload_too_large or
  // too_many_connections). The request has what was read of it: at least remote_ip; method, path
  // and headers once they were parsed. Without it, a bare JSON error.
  std::function<HttpResponse(HttpRequest&, const ApiError&)> on_error;
};

class HttpServer {
 public:
  HttpServer(HttpServerOptions options, Handler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds the listening socket; false (with the reason in *error) when it cannot.
  bool bind(std::string* error);
  int bound_port() const;
  // Serves until stop(); returns after in-flight requests finish.
  void run();
  // Stops accepting, closes connections that are waiting for or reading a request, and lets the
  // requests being handled finish (their connections close after the answer).
  void stop();
  int open_connections() const;

 private:
  struct Impl;
  friend class Session;  // one connection, in http_server.cpp
  std::unique_ptr<Impl> impl_;
};

// A GET of http://host:port/path: the answer's status, or nullopt when none came within timeout_ms
// (refused, reset, timed out). For `cutout healthcheck`, the container image's HEALTHCHECK, which
// has no curl. Thread-safe.
std::optional<int> http_get_status(const std::string& host, int port, const std::string& path,
                                   int timeout_ms);

// A request to a URL ("http://host:port/path" or https://...): the answer's status and body, or
// nullopt with the reason in *error when none came within timeout_ms. For `cutout warmer`.
struct HttpAnswer {
  int status = 0;
  std::string body;
};
std::optional<HttpAnswer> http_call(const std::string& method, const std::string& url,
                                    const std::vector<std::pair<std::string, std::string>>& headers,
                                    int timeout_ms, std::string* error);

}  // namespace cutout::server
