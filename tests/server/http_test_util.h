// A tiny blocking HTTP/1.1 client for the health server tests, on broker_test_util.h's RawConn
// socket, with poll() deadlines, so a broken server fails a test instead of hanging it.
#pragma once

#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "server/broker_test_util.h"

namespace ironbus::server::testing {

struct HttpReply {
  bool ok = false;  // a whole response arrived before EOF
  int status = 0;
  std::string head;
  std::string body;
};

class HttpConn {
 public:
  explicit HttpConn(uint16_t port) : conn_(port) {}

  bool connected() const { return conn_.connected(); }
  bool Send(const std::string& bytes) { return conn_.Send(AsBytes(bytes)); }
  // Everything until the server closes (or the deadline); `timed_out` when it never closed.
  std::string ReadAll(int timeout_ms, bool* timed_out = nullptr) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    std::string out;
    if (timed_out) *timed_out = false;
    for (;;) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
      pollfd p{conn_.fd(), POLLIN, 0};
      if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0) {
        if (timed_out) *timed_out = true;
        return out;
      }
      char buf[16 * 1024];
      const ssize_t n = ::recv(conn_.fd(), buf, sizeof(buf), 0);
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
  RawConn conn_;  // the socket; its frame reader is not used
};

inline HttpReply HttpGet(uint16_t port, const std::string& path, const std::string& method = "GET") {
  HttpConn c(port);
  if (!c.connected() || !c.Send(method + " " + path + " HTTP/1.1\r\nHost: localhost\r\n\r\n")) return {};
  return c.Reply();
}

}  // namespace ironbus::server::testing
