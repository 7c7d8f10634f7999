// A tiny blocking HTTP/1.1 client for the health endpoint tests (server and cli), with poll()
// deadlines, so a broken server fails a test instead of hanging it. POSIX sockets only, so the
// cli tests can use it without asio.
#pragma once

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <string>

namespace ironbus::server::testing {

struct HttpReply {
  bool ok = false;  // a whole response arrived before EOF
  int status = 0;
  std::string head;
  std::string body;
};

class HttpConn {
 public:
  explicit HttpConn(uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
    int one = 1;  // small writes leave as their own segments (split-request tests)
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  ~HttpConn() { ::close(fd_); }
  HttpConn(const HttpConn&) = delete;
  HttpConn& operator=(const HttpConn&) = delete;

  bool connected() const { return connected_; }
  // A blocking send queues all of a test request (a few KiB at most) in one call.
  bool Send(const std::string& bytes) {
    return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
  }
  // Everything until the server closes (or the deadline); `timed_out` when it never closed.
  std::string ReadAll(int timeout_ms, bool* timed_out = nullptr) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    std::string out;
    if (timed_out) *timed_out = false;
    for (;;) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
      pollfd p{fd_, POLLIN, 0};
      if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0) {
        if (timed_out) *timed_out = true;
        return out;
      }
      char buf[16 * 1024];
      const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) return out;
      out.append(buf, static_cast<size_t>(n));
    }
  }
  HttpReply Reply(int timeout_ms = 10'000) { return Parse(ReadAll(timeout_ms)); }

  static HttpReply Parse(const std::string& raw) {
    HttpReply r;
    const size_t end = raw.find("\r\n\r\n");
    if (end == std::string::npos || raw.rfind("HTTP/1.1 ", 0) != 0) return r;
    r.head = raw.substr(0, end);
    r.body = raw.substr(end + 4);
    r.status = std::stoi(raw.substr(9, 3));
    r.ok = true;
    return r;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

inline HttpReply HttpGet(uint16_t port, const std::string& path, const std::string& method = "GET") {
  HttpConn c(port);
  if (!c.connected() || !c.Send(method + " " + path + " HTTP/1.1\r\nHost: localhost\r\n\r\n")) return {};
  return c.Reply();
}

}  // namespace ironbus::server::testing
