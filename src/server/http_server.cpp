// Boost.Beast behind HttpServer (see http_server.h for the model); cpp-httplib for the client calls.
// Debian's cpp-httplib is a compiled library: its header must see the same feature macros it was
// built with (pkg-config cpp-httplib, set in CMakeLists.txt).
#include "server/http_server.h"

#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include <httplib.h>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "server/http_parse.h"

namespace cutout::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

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

std::chrono::steady_clock::duration seconds(double s) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(s));
}

std::string format_seconds(double s) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", s);
  return text;
}

// The answer when no on_error is set: SPEC §3's shape without a request id.
HttpResponse bare_error(const ApiError& e) {
  HttpResponse r;
  r.status = e.status();
  r.body = error_body(e, "");
  return r;
}

using Message = bhttp::request<bhttp::string_body>;

}  // namespace

std::string HttpRequest::param(const std::string& name) const {
  if (auto it = query.find(name); it != query.end()) return it->second;
  if (auto it = form.find(name); it != form.end()) return it->second;
  return "";
}

bool HttpRequest::has_param(const std::string& name) const {
  return query.count(name) || form.count(name);
}

class Session;

struct HttpServer::Impl {
  HttpServerOptions options;
  Handler handler;
  asio::io_context io;
  // On a strand of its own: its accept handlers and stop()'s close run on different I/O threads
  // otherwise, and is_open() in one raced close() in the other (ThreadSanitizer saw it).
  tcp::acceptor acceptor{asio::make_strand(io)};
  asio::thread_pool workers;
  std::atomic<int> open{0};
  std::atomic<bool> stopping{false};
  std::mutex sessions_mu;
  std::set<Session*> sessions;  // for stop(): each unregisters in its destructor

  Impl(HttpServerOptions o, Handler h)
      : options(std::move(o)),
        handler(std::move(h)),
        workers(static_cast<size_t>(std::max(1, options.threads))) {}
  void accept();
  HttpResponse error_response(HttpRequest& request, const ApiError& e) const {
    return options.on_error ? options.on_error(request, e) : bare_error(e);
  }
};

// One connection. Its socket is used on its strand only (the I/O threads), except by the stream
// of a server-sent-events answer, whose writes are posted to the strand and waited for.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, HttpServer::Impl& server, bool refuse)
      : stream_(std::move(socket)), deadline_(stream_.get_executor()), server_(server), refuse_(refuse) {
    beast::error_code ec;
    auto peer = stream_.socket().remote_endpoint(ec).address();
    if (peer.is_v6() && peer.to_v6().is_v4_mapped())
      peer = asio::ip::make_address_v4(asio::ip::v4_mapped, peer.to_v6());
    remote_ip_ = ec ? "" : peer.to_string();
    stream_.socket().set_option(tcp::no_delay(true), ec);  // headers and body go out in separate writes
    if (!refuse_) {
      server_.open.fetch_add(1);
      std::lock_guard<std::mutex> lock(server_.sessions_mu);
      server_.sessions.insert(this);
    }
  }
  ~Session() {
    if (refuse_) return;
    server_.open.fetch_sub(1);
    std::lock_guard<std::mutex> lock(server_.sessions_mu);
    server_.sessions.erase(this);
  }

  void start() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      if (self->refuse_) {
        HttpRequest request = self->partial_request();
        self->reply_error(request,
                          {ApiCode::kTooManyConnections,
                           "the server has " + std::to_string(self->server_.options.max_connections) +
                               " connections open; retry shortly"});
      } else {
        self->read_header();
      }
    });
  }

  // stop(): a connection that is not being answered closes now.
  void close_if_reading() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      if (self->reading_) self->stream_.socket().close();
    });
  }

 private:
  // The next request of a keep-alive connection: wait for its first byte (keep-alive deadline).
  void wait_next() {
    if (server_.stopping) return close();
    if (buffer_.size() > 0) return read_header();  // pipelined
    reading_ = true;
    stream_.expires_after(seconds(server_.options.keepalive_timeout_s));
    stream_.async_read_some(buffer_.prepare(4096),
                            [self = shared_from_this()](beast::error_code ec, size_t n) {
                              if (ec) return self->close();
                              self->buffer_.commit(n);
                              self->read_header();
                            });
  }

  // The deadline of a read that may be answered (408): beast's own stream timeout would close
  // the socket before the answer could be written, so this timer cancels the read instead.
  void arm_deadline(double s) {
    stream_.expires_never();
    timed_out_ = false;
    deadline_.expires_after(seconds(s));
    deadline_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec) return;  // disarmed
      self->timed_out_ = true;
      beast::error_code ignored;
      self->stream_.socket().cancel(ignored);
    });
  }
  // The error a deadline's cancellation shows up as, named for what it is.
  beast::error_code disarm(beast::error_code ec) {
    deadline_.cancel();
    return timed_out_ && ec == asio::error::operation_aborted ? beast::error::timeout : ec;
  }

  void read_header() {
    reading_ = true;
    parser_.emplace();
    parser_->header_limit(server_.options.max_header_bytes);
    parser_->body_limit(boost::none);  // checked against Content-Length once the headers are in
    arm_deadline(server_.options.header_timeout_s);
    bhttp::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->on_header(self->disarm(ec)); });
  }

  void on_header(beast::error_code ec) {
    if (ec) {
      HttpRequest request = partial_request();
      if (ec == beast::error::timeout) {
        if (!parser_->got_some() && buffer_.size() == 0) return close();  // said nothing: just close
        return reply_error(
            request, {ApiCode::kRequestTimeout, "request headers not received within " +
                                                    format_seconds(server_.options.header_timeout_s) + " s"});
      }
      if (ec == bhttp::error::header_limit) {
        return reply_error(request, {ApiCode::kHeadersTooLarge,
                                     "request line and headers over " +
                                         std::to_string(server_.options.max_header_bytes) + " bytes"});
      }
      if (ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
          ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
        return reply_error(request, {ApiCode::kBadRequest, "malformed request: " + ec.message()});
      }
      return close();  // the client went away
    }
    const auto length = parser_->content_length();
    if (length && *length > server_.options.max_body_bytes) {
      HttpRequest request = partial_request();  // dispatch() builds the full one: only for the refusal here
      return reply_error(request,
                         {ApiCode::kPayloadTooLarge,
                          "request body over " + std::to_string(server_.options.max_body_bytes) + " bytes"});
    }
    parser_->body_limit(server_.options.max_body_bytes);
    if (parser_->is_done()) return dispatch();
    const auto& h = parser_->get();
    if (beast::iequals(h[bhttp::field::expect], "100-continue")) {
      auto cont = std::make_shared<bhttp::response<bhttp::empty_body>>(bhttp::status::continue_, h.version());
      stream_.expires_after(seconds(server_.options.write_timeout_s));
      return bhttp::async_write(stream_, *cont,
                                [self = shared_from_this(), cont](beast::error_code ec, size_t) {
                                  if (ec) return self->close();
                                  self->read_body();
                                });
    }
    read_body();
  }

  void read_body() {
    arm_deadline(server_.options.body_timeout_s);
    bhttp::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, size_t) {
      ec = self->disarm(ec);
      if (!ec) return self->dispatch();
      HttpRequest request = self->partial_request();
      const auto& o = self->server_.options;
      if (ec == beast::error::timeout) {
        return self->reply_error(
            request, {ApiCode::kRequestTimeout,
                      "request body not received within " + format_seconds(o.body_timeout_s) + " s"});
      }
      if (ec == bhttp::error::body_limit) {
        return self->reply_error(
            request,
            {ApiCode::kPayloadTooLarge, "request body over " + std::to_string(o.max_body_bytes) + " bytes"});
      }
      if (ec.category() == bhttp::make_error_code(bhttp::error::bad_chunk).category() &&
          ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
        return self->reply_error(request, {ApiCode::kBadRequest, "malformed request body: " + ec.message()});
      }
      self->close();  // the client went away mid-body
    });
  }

  // What is known of the request so far (the header section once it is parsed).
  HttpRequest partial_request() {
    HttpRequest r;
    r.remote_ip = remote_ip_;
    r.header = [](std::string_view) { return std::string(); };
    r.client_gone = [] { return false; };
    if (!parser_ || !parser_->is_header_done()) return r;
    const Message& m = parser_->get();
    r.method = std::string(m.method_string());
    r.target = std::string(m.target());
    const std::string_view target = m.target();
    const size_t q = target.find('?');
    r.path = url_decode(target.substr(0, q), false);
    if (q != std::string_view::npos) r.query = parse_query(target.substr(q + 1));
    auto fields = std::make_shared<bhttp::fields>(m.base());
    r.header = [fields](std::string_view name) {
      auto it = fields->find(beast::string_view(name.data(), name.size()));
      return it == fields->end() ? std::string() : std::string(it->value());
    };
    return r;
  }

  // A complete request: to a worker, which runs the handler and hands the answer back.
  void dispatch() {
    reading_ = false;
    stream_.expires_never();
    HttpRequest request = partial_request();
    Message message = parser_->release();
    const bool keep_alive = message.keep_alive();
    const std::string type(message[bhttp::field::content_type]);
    if (type.size() >= 19 && beast::iequals(type.substr(0, 19), "multipart/form-data")) {
      std::string why;
      if (!parse_multipart(message.body(), type, &request.form, &request.files, &why)) {
        return reply_error(request, {ApiCode::kBadRequest, why});
      }
    } else {
      request.body = std::move(message.body());
    }
    request.client_gone = [fd = stream_.socket().native_handle()] { return socket_closed(fd); };
    auto work = asio::make_work_guard(server_.io);  // run() waits for the answer
    asio::post(server_.workers,
               [self = shared_from_this(), request = std::move(request), keep_alive, work]() mutable {
                 HttpResponse response = self->server_.handler(request);
                 self->respond(std::move(response), request.method == "HEAD", keep_alive);
               });
  }

  template <class Body>
  void set_fields(bhttp::response<Body>& res, const HttpResponse& from) {
    for (const auto& [k, v] : from.headers) res.insert(beast::string_view(k), beast::string_view(v));
    if (from.status != 204 && from.status != 304) res.set(bhttp::field::content_type, from.content_type);
  }

  // On a worker thread. A complete body is written by the strand; a stream is produced here.
  void respond(HttpResponse&& from, bool head, bool keep_alive) {
    keep_alive = keep_alive && !server_.stopping;
    if (from.stream) return respond_stream(std::move(from), keep_alive);
    asio::post(stream_.get_executor(),
               [self = shared_from_this(), from = std::move(from), head, keep_alive]() mutable {
                 self->write(std::move(from), head, keep_alive);
               });
  }

  void write(HttpResponse&& from, bool head, bool keep_alive) {
    const unsigned version = 11;
    auto finish = [self = shared_from_this(), keep_alive](beast::error_code ec, size_t) {
      if (ec || !keep_alive) return self->close();
      self->wait_next();
    };
    stream_.expires_after(seconds(server_.options.write_timeout_s));
    const bool no_body = from.status == 204 || from.status == 304 || from.status < 200;
    if (head || no_body) {
      auto res = std::make_shared<bhttp::response<bhttp::empty_body>>(static_cast<bhttp::status>(from.status),
                                                                      version);
      set_fields(*res, from);
      if (!no_body) res->content_length(from.body.size());
      res->keep_alive(keep_alive);
      return bhttp::async_write(stream_, *res,
                                [res, finish](beast::error_code ec, size_t n) { finish(ec, n); });
    }
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>(static_cast<bhttp::status>(from.status),
                                                                     version);
    set_fields(*res, from);
    res->body() = std::move(from.body);
    res->keep_alive(keep_alive);
    res->prepare_payload();
    bhttp::async_write(stream_, *res, [res, finish](beast::error_code ec, size_t n) { finish(ec, n); });
  }

  // A write on the strand, waited for by the worker that produces a stream.
  template <class Write>
  bool write_and_wait(Write write) {
    std::promise<beast::error_code> done;
    auto result = done.get_future();
    asio::post(stream_.get_executor(), [this, &write, &done] {
      stream_.expires_after(seconds(server_.options.write_timeout_s));
      write([&done](beast::error_code ec, size_t) { done.set_value(ec); });
    });
    return !result.get();
  }

  class Chunks final : public EventSink {
   public:
    explicit Chunks(Session& s) : s_(s) {}
    bool write(std::string_view data) override {
      if (!ok_ || data.empty()) return ok_;
      ok_ = s_.write_and_wait([&](auto done) {
        asio::async_write(s_.stream_, bhttp::make_chunk(asio::buffer(data.data(), data.size())), done);
      });
      return ok_;
    }
    bool ok_ = true;

   private:
    Session& s_;
  };

  void respond_stream(HttpResponse&& from, bool keep_alive) {
    bhttp::response<bhttp::empty_body> res(static_cast<bhttp::status>(from.status), 11);
    set_fields(res, from);
    res.chunked(true);
    res.keep_alive(keep_alive);
    bhttp::response_serializer<bhttp::empty_body> serializer(res);
    Chunks chunks(*this);
    chunks.ok_ = write_and_wait([&](auto done) { bhttp::async_write_header(stream_, serializer, done); });
    if (chunks.ok_) from.stream(chunks);
    const bool ok = chunks.ok_ && write_and_wait([&](auto done) {
                      asio::async_write(stream_, bhttp::make_chunk_last(), done);
                    });
    asio::post(stream_.get_executor(), [self = shared_from_this(), ok, keep_alive] {
      if (ok && keep_alive)
        self->wait_next();
      else
        self->close();
    });
  }

  // The transport's own refusal: the service's JSON answer, then the connection closes (its
  // request may not have been read to the end).
  void reply_error(HttpRequest& request, const ApiError& error) {
    reading_ = false;
    HttpResponse from = server_.error_response(request, error);
    auto res =
        std::make_shared<bhttp::response<bhttp::string_body>>(static_cast<bhttp::status>(from.status), 11);
    set_fields(*res, from);
    res->body() = std::move(from.body);
    res->keep_alive(false);
    res->prepare_payload();
    stream_.expires_after(seconds(server_.options.write_timeout_s));
    bhttp::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code ec, size_t) {
      if (ec) return self->close();
      self->linger();
    });
  }

  // After an answer to a request whose body was not read: stop sending, and read what the client
  // still sends for a moment, so that closing does not reset the connection before the client
  // has read the answer.
  void linger() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.expires_after(std::chrono::seconds(2));
    buffer_.consume(buffer_.size());
    stream_.async_read_some(buffer_.prepare(16384),
                            [self = shared_from_this()](beast::error_code ec, size_t) {
                              if (ec) return self->close();
                              self->linger();
                            });
  }

  void close() {
    reading_ = false;
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
  }

  beast::tcp_stream stream_;
  asio::steady_timer deadline_;
  bool timed_out_ = false;
  HttpServer::Impl& server_;
  const bool refuse_;
  std::string remote_ip_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  bool reading_ = false;  // waiting for or reading a request (stop() closes it)
};

void HttpServer::Impl::accept() {
  acceptor.async_accept(asio::make_strand(io), [this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (!acceptor.is_open()) return;  // stopped
      // out of descriptors or the like: try again shortly rather than spin
      auto timer =
          std::make_shared<asio::steady_timer>(acceptor.get_executor(), std::chrono::milliseconds(50));
      return timer->async_wait([this, timer](beast::error_code) { accept(); });
    }
    const bool refuse = open.load() >= options.max_connections;
    std::make_shared<Session>(std::move(socket), *this, refuse)->start();
    accept();
  });
}

HttpServer::HttpServer(HttpServerOptions options, Handler handler)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler))) {}

HttpServer::~HttpServer() {
  stop();
  impl_->workers.join();
}

bool HttpServer::bind(std::string* error) {
  Impl& m = *impl_;
  beast::error_code ec;
  tcp::resolver resolver(m.io);
  auto results = resolver.resolve(m.options.host, std::to_string(m.options.port),
                                  tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (!ec && results.empty()) ec = asio::error::host_not_found;
  if (!ec) {
    const tcp::endpoint endpoint = *results.begin();
    m.acceptor.open(endpoint.protocol(), ec);
    if (!ec) m.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) m.acceptor.bind(endpoint, ec);
    if (!ec) m.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  }
  if (ec) {
    if (m.acceptor.is_open()) m.acceptor.close();
    if (error)
      *error =
          "cannot listen on " + m.options.host + ":" + std::to_string(m.options.port) + ": " + ec.message();
    return false;
  }
  return true;
}

int HttpServer::bound_port() const {
  beast::error_code ec;
  const auto endpoint = impl_->acceptor.local_endpoint(ec);
  return ec ? -1 : endpoint.port();
}

int HttpServer::open_connections() const {
  return impl_->open.load();
}

void HttpServer::run() {
  Impl& m = *impl_;
  if (!m.acceptor.is_open() || m.stopping) return;
  m.accept();
  std::vector<std::thread> threads;
  for (int i = 1; i < std::max(1, m.options.io_threads); ++i) threads.emplace_back([&m] { m.io.run(); });
  m.io.run();
  for (auto& t : threads) t.join();
  m.workers.join();
}

void HttpServer::stop() {
  Impl& m = *impl_;
  if (m.stopping.exchange(true)) return;
  asio::post(m.acceptor.get_executor(), [&m] {
    beast::error_code ec;
    m.acceptor.close(ec);
    std::lock_guard<std::mutex> lock(m.sessions_mu);
    for (Session* s : m.sessions) {
      // a session being destroyed is still listed until its destructor takes the lock
      if (auto alive = s->weak_from_this().lock()) alive->close_if_reading();
    }
  });
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
