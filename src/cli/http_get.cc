#include "cli/http_get.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace ironbus::cli {
namespace {

using Clock = std::chrono::steady_clock;

int LeftMs(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// Connects one resolved address without blocking past the deadline; -1 on failure.
int ConnectOne(const addrinfo* ai, Clock::time_point deadline) {
  Fd s{::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol)};
  if (s.fd < 0) return -1;
  if (::connect(s.fd, ai->ai_addr, ai->ai_addrlen) != 0) {
    if (errno != EINPROGRESS) return -1;
    pollfd p{s.fd, POLLOUT, 0};
    if (::poll(&p, 1, LeftMs(deadline)) <= 0) return -1;
    int err = 0;
    socklen_t len = sizeof(err);
    if (::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) return -1;
  }
  const int fd = s.fd;
  s.fd = -1;
  return fd;
}

}  // namespace

Result<HttpResponse> HttpGet(std::string_view addr, std::string_view path, std::string_view accept,
                             std::chrono::milliseconds timeout, std::string_view bearer) {
  const auto deadline = Clock::now() + timeout;
  std::string host;
  std::string port;
  const std::string where(addr);
  if (!addr.empty() && addr.front() == '[') {
    const size_t close = addr.find(']');
    if (close == std::string_view::npos || close + 1 >= addr.size() || addr[close + 1] != ':') {
      return Status::InvalidArgument(where + ": expected [v6]:port");
    }
    host = std::string(addr.substr(1, close - 1));
    port = std::string(addr.substr(close + 2));
  } else {
    const size_t colon = addr.rfind(':');
    if (colon == std::string_view::npos || colon == 0) return Status::InvalidArgument(where + ": expected host:port");
    host = std::string(addr.substr(0, colon));
    port = std::string(addr.substr(colon + 1));
  }
  if (port.empty() || port.find_first_not_of("0123456789") != std::string::npos || port.size() > 5 ||
      std::stoul(port) > 65535) {
    return Status::InvalidArgument(where + ": port must be 0..65535");
  }

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), port.c_str(), &hints, &found) != 0 || found == nullptr) {
    return Status::Unavailable(where + ": does not resolve");
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owned(found, &::freeaddrinfo);
  Fd s;
  for (const addrinfo* ai = found; ai != nullptr && s.fd < 0; ai = ai->ai_next) s.fd = ConnectOne(ai, deadline);
  if (s.fd < 0) return Status::Unavailable("cannot connect to " + where);

  std::string request = "GET " + std::string(path) + " HTTP/1.1\r\nHost: " + where + "\r\n";
  if (!accept.empty()) request += "Accept: " + std::string(accept) + "\r\n";
  if (!bearer.empty()) request += "Authorization: Bearer " + std::string(bearer) + "\r\n";
  request += "Connection: close\r\n\r\n";
  size_t sent = 0;
  while (sent < request.size()) {
    pollfd p{s.fd, POLLOUT, 0};
    if (::poll(&p, 1, LeftMs(deadline)) <= 0) return Status::Unavailable(where + ": timed out sending the request");
    const ssize_t n = ::send(s.fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR) return Status::Unavailable(where + ": connection dropped");
    if (n > 0) sent += static_cast<size_t>(n);
  }
  std::string reply;
  for (;;) {
    pollfd p{s.fd, POLLIN, 0};
    if (::poll(&p, 1, LeftMs(deadline)) <= 0) return Status::Unavailable(where + ": timed out waiting for the reply");
    char buf[16 * 1024];
    const ssize_t n = ::recv(s.fd, buf, sizeof(buf), 0);
    if (n == 0) break;  // Connection: close, the reply ends at EOF
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return Status::Unavailable(where + ": connection dropped mid-reply");
    }
    reply.append(buf, static_cast<size_t>(n));
    if (reply.size() > (64u << 20)) return Status::Internal(where + ": reply over 64 MiB");
  }
  const size_t end = reply.find("\r\n\r\n");
  if (reply.compare(0, 5, "HTTP/") != 0 || end == std::string::npos) {
    return reply.empty() ? Status::Unavailable(where + ": closed without a reply")
                         : Status::Internal(where + ": the reply is not HTTP");
  }
  HttpResponse r;
  r.head = reply.substr(0, end);
  r.body = reply.substr(end + 4);
  const size_t sp = r.head.find(' ');
  if (sp == std::string::npos || r.head.size() < sp + 4) return Status::Internal(where + ": bad HTTP status line");
  r.status = std::atoi(r.head.c_str() + sp + 1);
  // A Content-Length shorter than what arrived would be a broken server; a longer one means
  // the connection was cut mid-body.
  std::string lower = r.head;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (const size_t cl = lower.find("\r\ncontent-length:"); cl != std::string::npos) {
    const size_t want = std::strtoull(lower.c_str() + cl + 17, nullptr, 10);
    if (r.body.size() < want) return Status::Unavailable(where + ": connection dropped mid-reply");
    r.body.resize(want);
  }
  return r;
}

}  // namespace ironbus::cli
