// The HTTP transport: the only place that includes cpp-httplib (hidden behind Impl).
//
// Handlers see plain structs. One handler receives every request (the service's router); it
// runs on one of the server's worker threads and may block (it waits for inference). A
// response is either a complete body, or a stream (server-sent events) written after the
// headers.
//
// Thread-safety: handle() is called concurrently from the worker threads. stop() may be called
// from any thread; run() returns after the listening socket is closed and in-flight requests
// have finished.
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
  std::map<std::string, std::string> form;   // multipart fields that are not files
  std::map<std::string, FilePart> files;     // multipart file parts by field name
  std::string body;                          // raw body (empty for multipart)
  std::string remote_ip;
  // Header lookup, case-insensitive; "" when absent.
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
  int port = 8080;                       // 0: any free port (see bound_port())
  int threads = 32;                      // worker threads (connections served at once)
  uint64_t max_body_bytes = 25u << 20;   // larger bodies get 413 before the handler runs
  int read_timeout_s = 30;
  int write_timeout_s = 60;
  // Called for a request whose body is over max_body_bytes (the handler is not called).
  std::function<HttpResponse(HttpRequest&)> on_payload_too_large;
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
  void stop();

 private:
  struct Impl;
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
