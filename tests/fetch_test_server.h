// TEST-ONLY: a small HTTP server on 127.0.0.1 in the test process, for the URL fetcher's tests
// (tests/url_fetch_test.cpp, tests/removebg_url_e2e_test.cpp). It counts the TCP connections it
// accepts (a refused URL must make none) and serves:
//   /photo.jpg       the eval photo (grabcut/images/person1.jpg)
//   /bg.jpg          a small synthetic JPEG
//   /redirect        302 to /photo.jpg
//   /hops/N          302 to /hops/N-1, ..., /hops/0 is the photo
//   /redirect-out    302 to http://localhost:PORT/photo.jpg (the same server under another name)
//   /redirect-file   302 to file:///etc/passwd
//   /slow            the photo after 3 s
//   /drip            200 at once, then the photo one byte every 100 ms
//   /huge            64 MiB, chunked (no Content-Length)
//   /huge-declared   64 MiB with its Content-Length
//   /fail            500
//   /empty           204, no body
//   /text            200, text that claims to be image/jpeg
//   anything else    404
// A second listener (header_drip_port) answers every connection with a status line and then one
// header byte every 100 ms for 5 s, never finishing them: only a total deadline ends such a fetch
// sooner.
//
// Lifetime: serves from construction to destruction (which ends the slow answers at once).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "test_support.h"

namespace cutout::testing {

class FetchTestServer {
 public:
  FetchTestServer() {
    const std::vector<uint8_t> photo = read_file(eval_dir() / "grabcut" / "images" / "person1.jpg");
    photo_.assign(photo.begin(), photo.end());
    cv::Mat rgb = make_test_rgb(160, 120), bgr;
    cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
    std::vector<uint8_t> bg;
    cv::imencode(".jpg", bgr, bg);
    bg_.assign(bg.begin(), bg.end());
    routes();
    server_.new_task_queue = [this] { return new CountingQueue(connections_); };
    port_ = server_.bind_to_any_port("127.0.0.1");
    if (port_ <= 0) throw std::runtime_error("cannot bind the fetch test server");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    start_header_drip();
    for (int i = 0; i < 500 && !server_.is_running(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ~FetchTestServer() {
    stopping_ = true;
    server_.stop();
    thread_.join();
    shutdown(drip_fd_, SHUT_RDWR);
    close(drip_fd_);
    drip_thread_.join();
  }
  FetchTestServer(const FetchTestServer&) = delete;
  FetchTestServer& operator=(const FetchTestServer&) = delete;

  int port() const { return port_; }
  int header_drip_port() const { return drip_port_; }
  // http://127.0.0.1:PORT + path
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  // The --fetch-allow entry of this server.
  std::string allow_entry() const { return "127.0.0.1:" + std::to_string(port_); }
  int connections() const { return connections_.load(); }
  const std::string& photo() const { return photo_; }
  const std::string& bg() const { return bg_; }

 private:
  // httplib hands each accepted connection to its task queue: counting enqueues counts accepts.
  class CountingQueue : public httplib::TaskQueue {
   public:
    explicit CountingQueue(std::atomic<int>& count) : count_(count), pool_(8) {}
    void enqueue(std::function<void()> fn) override {
      ++count_;
      pool_.enqueue(std::move(fn));
    }
    void shutdown() override { pool_.shutdown(); }

   private:
    std::atomic<int>& count_;
    httplib::ThreadPool pool_;
  };

  // Sleeps up to `ms` in small steps; false when the server is stopping.
  bool nap(int ms) const {
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (std::chrono::steady_clock::now() < end) {
      if (stopping_) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
  }

  void routes() {
    using httplib::Request;
    using httplib::Response;
    server_.Get("/photo.jpg",
                [this](const Request&, Response& res) { res.set_content(photo_, "image/jpeg"); });
    server_.Get("/bg.jpg", [this](const Request&, Response& res) { res.set_content(bg_, "image/jpeg"); });
    server_.Get("/redirect", [](const Request&, Response& res) { res.set_redirect("/photo.jpg"); });
    server_.Get(R"(/hops/(\d+))", [this](const Request& req, Response& res) {
      const int n = std::stoi(req.matches[1]);
      if (n == 0) {
        res.set_content(photo_, "image/jpeg");
      } else {
        res.set_redirect("/hops/" + std::to_string(n - 1));
      }
    });
    server_.Get("/redirect-out", [this](const Request&, Response& res) {
      res.set_redirect("http://localhost:" + std::to_string(port_) + "/photo.jpg");
    });
    server_.Get("/redirect-file",
                [](const Request&, Response& res) { res.set_redirect("file:///etc/passwd"); });
    server_.Get("/slow", [this](const Request&, Response& res) {
      if (nap(3000)) res.set_content(photo_, "image/jpeg");
    });
    server_.Get("/drip", [this](const Request&, Response& res) {
      res.set_chunked_content_provider("image/jpeg", [this](size_t offset, httplib::DataSink& sink) {
        if (!nap(100) || offset >= photo_.size()) return false;
        return sink.write(photo_.data() + offset, 1);
      });
    });
    server_.Get("/huge", [](const Request&, Response& res) {
      res.set_chunked_content_provider("image/jpeg", [](size_t offset, httplib::DataSink& sink) {
        if (offset >= kHugeBytes) {
          sink.done();
          return true;
        }
        const std::string chunk(64 << 10, '\xff');
        return sink.write(chunk.data(), chunk.size());
      });
    });
    server_.Get("/huge-declared", [](const Request&, Response& res) {
      res.set_content_provider(kHugeBytes, "image/jpeg", [](size_t, size_t length, httplib::DataSink& sink) {
        const std::string chunk(std::min<size_t>(length, 64 << 10), '\xff');
        return sink.write(chunk.data(), chunk.size());
      });
    });
    server_.Get("/fail", [](const Request&, Response& res) { res.status = 500; });
    server_.Get("/empty", [](const Request&, Response& res) { res.status = 204; });
    server_.Get("/text",
                [](const Request&, Response& res) { res.set_content("no image here", "image/jpeg"); });
  }

  // A raw listener that never finishes its headers.
  void start_header_drip() {
    drip_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (bind(drip_fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 || listen(drip_fd_, 8) != 0 ||
        getsockname(drip_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      throw std::runtime_error("cannot bind the header-drip listener");
    }
    drip_port_ = ntohs(addr.sin_port);
    drip_thread_ = std::thread([this] {
      std::vector<std::thread> clients;
      for (;;) {
        const int fd = accept(drip_fd_, nullptr, nullptr);
        if (fd < 0) break;
        clients.emplace_back([this, fd] {
          std::string text = "HTTP/1.1 200 OK\r\n";
          send(fd, text.data(), text.size(), MSG_NOSIGNAL);
          for (int i = 0; i < 50 && nap(100) && send(fd, "X", 1, MSG_NOSIGNAL) == 1; ++i) {
          }
          close(fd);
        });
      }
      for (auto& t : clients) t.join();
    });
  }

  static constexpr size_t kHugeBytes = 64u << 20;
  std::string photo_, bg_;
  httplib::Server server_;
  std::thread thread_;
  int port_ = -1;
  std::atomic<int> connections_{0};
  std::atomic<bool> stopping_{false};
  int drip_fd_ = -1;
  int drip_port_ = -1;
  std::thread drip_thread_;
};

}  // namespace cutout::testing
