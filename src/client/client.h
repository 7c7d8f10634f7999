// The C++ client library (used by `ironbus pub` and the benches): a blocking connection with
// the handshake, synchronous publish, pipelined publish with a window, and ping.
//
// Errors: Unavailable when the broker cannot be reached or the connection drops (the CLI exits
// 5); FailedPrecondition carrying the broker's Err (code and message) when it refuses a
// request (exit 70); Corruption for a reply that is not a valid frame.
//
// Thread safety: one Client per thread; calls are sequential on its connection.
#pragma once

#include <asio.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "protocol/frame_decoder.h"
#include "protocol/messages.h"

namespace ironbus::client {

struct PublishRequest {
  Bytes key;
  Bytes headers;
  Bytes payload;
  uint64_t timestamp_ms = 0;  // 0 = now
};

class Client {
 public:
  // Connects to "host:port" and performs the Connect/Info handshake.
  static Result<std::unique_ptr<Client>> Connect(const std::string& addr);
  ~Client();

  const protocol::Info& info() const { return info_; }

  // Returns the durable offset (the broker answers after the covering fdatasync).
  Result<uint64_t> Publish(const PublishRequest& request);
  // Keeps up to `window` Pub frames in flight; returns every offset in request order, or the
  // first error (later replies are still drained so the connection stays usable).
  Result<std::vector<uint64_t>> PublishPipelined(const std::vector<PublishRequest>& requests, size_t window);
  Status Ping();
  void Close();

 private:
  Client();
  Status Send(const protocol::Frame& frame);
  Status SendBytes(const Bytes& bytes);
  Result<protocol::Frame> Receive();
  static Bytes EncodePub(const PublishRequest& request);

  asio::io_context io_;
  asio::ip::tcp::socket socket_;
  protocol::FrameDecoder decoder_;
  protocol::Info info_;
};

}  // namespace ironbus::client
