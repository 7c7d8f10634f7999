// A tiny blocking HTTP/1.1 GET client for the online verbs that read the health port
// (info, consumer ls, lag: docs/cli.md). POSIX sockets, one request per connection
// (Connection: close), one overall deadline covering resolve-to-EOF so a stuck broker
// cannot hang a cron job.
//
// Errors: InvalidArgument for a malformed "host:port" / "[v6]:port"; Unavailable when the
// address does not resolve, nothing accepts, the deadline passes or the peer closes before a
// whole response; Internal for a reply that is not HTTP. Thread-compatible (no shared state).
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "base/result.h"

namespace ironbus::cli {

struct HttpResponse {
  int status = 0;
  std::string head;  // status line and headers
  std::string body;
};

// `bearer`: sent as `Authorization: Bearer <bearer>` when not empty (/admin on a broker with an
// identity table needs an admin token).
Result<HttpResponse> HttpGet(std::string_view addr, std::string_view path, std::string_view accept,
                             std::chrono::milliseconds timeout, std::string_view bearer = {});

}  // namespace ironbus::cli
