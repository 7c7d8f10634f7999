#include "client/client.h"

#include <algorithm>

#include "protocol/codec.h"
#include "protocol/handshake.h"

namespace ironbus::client {
namespace pr = protocol;
namespace {

constexpr size_t kReadChunk = 64 * 1024;

uint64_t NowMs() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

Status SplitAddr(const std::string& addr, std::string* host, std::string* port) {
  const size_t colon = addr.rfind(':');
  if (colon == std::string::npos || colon + 1 == addr.size()) {
    return Status::InvalidArgument("address must be host:port, got \"" + addr + "\"");
  }
  *host = addr.substr(0, colon);
  *port = addr.substr(colon + 1);
  if (host->size() >= 2 && host->front() == '[' && host->back() == ']') *host = host->substr(1, host->size() - 2);
  if (host->empty()) return Status::InvalidArgument("address must be host:port, got \"" + addr + "\"");
  return Status::Ok();
}

}  // namespace

pr::AuthSection BearerCredential(ByteView token) {
  return pr::AuthSection{pr::kAuthBearer, Bytes(token.begin(), token.end())};
}

Result<pr::AuthSection> PasswordCredential(ByteView username, ByteView password) {
  ASSIGN_OR_RETURN(Bytes material, pr::PasswordMaterial(username, password));
  return pr::AuthSection{pr::kAuthPassword, std::move(material)};
}

pr::AuthSection MtlsCredential() { return pr::AuthSection{pr::kAuthMtls, {}}; }

Client::Client(std::string addr, ClientOptions options)
    : addr_(std::move(addr)),
      options_(std::move(options)),
      transport_(asio::ip::tcp::socket(io_), options_.tls),
      read_buffer_(kReadChunk) {}

Client::~Client() { Close(); }

Result<std::unique_ptr<Client>> Client::Connect(const std::string& addr, ClientOptions options) {
  std::string host;
  std::string port;
  RETURN_IF_ERROR(SplitAddr(addr, &host, &port));
  std::unique_ptr<Client> c(new Client(addr, options));
  asio::error_code ec;
  asio::ip::tcp::resolver resolver(c->io_);
  const auto endpoints = resolver.resolve(host, port, ec);
  if (ec) return Status::Unavailable("cannot resolve " + addr + ": " + ec.message());
  bool connected = false;
  asio::async_connect(c->transport_.socket(), endpoints, [&](const asio::error_code& e, const asio::ip::tcp::endpoint&) {
    ec = e;
    connected = true;
  });
  const auto deadline = SteadyClock::now() + options.connect_timeout;
  c->io_.restart();
  while (!connected && c->io_.run_one_until(deadline) > 0) {
  }
  if (!connected) {
    c->transport_.socket().close(ec);
    c->io_.restart();
    c->io_.run();  // the aborted connect's handler
    return Status::Unavailable("cannot connect to " + addr + ": timed out");
  }
  if (ec) return Status::Unavailable("cannot connect to " + addr + ": " + ec.message());
  c->transport_.socket().set_option(asio::ip::tcp::no_delay(true), ec);
  if (c->transport_.is_tls()) RETURN_IF_ERROR(c->TlsHandshake(host, deadline));
  RETURN_IF_ERROR(c->Handshake());
  return c;
}

Status Client::TlsHandshake(const std::string& host, SteadyClock::time_point deadline) {
  const std::string& name = options_.tls_server_name.empty() ? host : options_.tls_server_name;
  Status named = security::ExpectPeerName(transport_.ssl(), name);
  if (!named.ok()) return Break(named);
  bool done = false;
  asio::error_code ec;
  transport_.async_handshake(asio::ssl::stream_base::client, [&](const asio::error_code& e) {
    ec = e;
    done = true;
  });
  io_.restart();
  while (!done && io_.run_one_until(deadline) > 0) {
  }
  if (!done) return Break(Status::Unavailable("TLS handshake with " + addr_ + ": timed out"));
  if (ec) {
    std::string reason = ec.message();
    if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) {
      reason = "the broker closed the connection (a plaintext port, or it refused this client's certificate)";
    }
    const std::string detail = security::TakeOpenSslErrors();
    return Break(Status::Unavailable("TLS handshake with " + addr_ + " failed: " + reason +
                                     (detail.empty() ? "" : " (" + detail + ")")));
  }
  return Status::Ok();
}

Status Client::Handshake() {
  pr::Connect hello;
  hello.wants_gap_marker = options_.wants_gap_marker;
  // Fetch inflates COMPRESSED payloads itself, so a broker that offers it may send them as
  // stored (less to send, and Message::flags then shows how the record was stored).
  hello.flags2 = pr::kCap2CompressedDelivery;
  hello.auth = options_.credential;
  RETURN_IF_ERROR(Queue(hello));
  Result<pr::Frame> answered = NextReply();
  if (!answered.ok() && answered.status().IsUnavailable() && !transport_.is_tls() &&
      answered.status().message().find("closed by the broker") != std::string::npos) {
    // A TLS broker closes a connection whose first bytes are not a ClientHello.
    return Status::Unavailable(answered.status().message() + " before answering Connect (a TLS port? give --tls-ca)");
  }
  if (!answered.ok()) return answered.status();
  pr::Frame reply = std::move(*answered);
  if (auto* err = std::get_if<pr::Err>(&reply)) {
    last_error_ = *err;
    return Status::FailedPrecondition("handshake refused: " + (err->code.empty() ? "" : err->code + ": ") +
                                      err->message);
  }
  auto* info = std::get_if<pr::Info>(&reply);
  if (info == nullptr) return Break(Status::Corruption("handshake: the broker did not answer with Info"));
  info_ = *info;
  return Status::Ok();
}

void Client::Close() {
  if (!transport_.socket().is_open()) return;
  asio::error_code ignored;
  transport_.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  transport_.socket().close(ignored);
  io_.restart();
  io_.run();  // complete the aborted operations so nothing refers to freed buffers
  write_busy_ = false;
  read_busy_ = false;
  if (broken_.ok()) broken_ = Status::Unavailable("connection closed");
}

Status Client::Break(Status cause) {
  if (broken_.ok()) broken_ = cause;
  pipelined_.clear();  // never answered now
  asio::error_code ignored;
  transport_.socket().close(ignored);
  io_.restart();
  io_.run();
  write_busy_ = false;
  read_busy_ = false;
  return broken_;
}

Status Client::Queue(const pr::Frame& frame) {
  if (!broken_.ok()) return broken_;
  if (!pipelined_.empty()) {
    return Status::FailedPrecondition(std::to_string(pipelined_.size()) +
                                      " pipelined request(s) unanswered: read them with ReceiveWindow first");
  }
  return Encode(frame);
}

Status Client::Encode(const pr::Frame& frame) {
  if (!broken_.ok()) return broken_;
  Status s = pr::EncodeFrame(frame, &out_);
  if (!s.ok()) return Status::InvalidArgument("request cannot be encoded: " + s.message());
  return Status::Ok();
}

Status Client::QueuePub(const PublishRequest& request, uint8_t level) {
  pr::Pub pub;
  if (level == 0) {
    pub.flags = pr::kPubFlagFireAndForget;
  } else if (level == 2) {
    pub.flags = static_cast<uint8_t>(2 << pr::kPubAckLevelShift);
  }
  pub.timestamp_ms = request.timestamp_ms != 0 ? request.timestamp_ms : NowMs();
  pub.key = request.key;
  pub.headers = request.headers;
  pub.payload = request.payload;
  if (!request.msg_id.empty()) pub.dedup = pr::Dedup{request.producer_id, request.epoch, request.msg_id, std::nullopt};
  return Queue(pr::Frame(std::move(pub)));
}

void Client::StartIo(bool want_read) {
  if (!write_busy_ && !out_.empty()) {
    writing_.swap(out_);
    out_.clear();
    write_busy_ = true;
    asio::async_write(transport_, asio::buffer(writing_), [this](const asio::error_code& ec, size_t) {
      write_busy_ = false;
      writing_.clear();
      if (ec && broken_.ok()) broken_ = Status::Unavailable("connection to " + addr_ + " lost: " + ec.message());
    });
  }
  if (want_read && !read_busy_) {
    read_busy_ = true;
    transport_.async_read_some(asio::buffer(read_buffer_), [this](const asio::error_code& ec, size_t n) {
      read_busy_ = false;
      if (ec) {
        if (broken_.ok()) {
          const bool closed = ec == asio::error::eof || ec == asio::ssl::error::stream_truncated;
          broken_ = Status::Unavailable("connection to " + addr_ + " lost: " +
                                        (closed ? std::string("closed by the broker") : ec.message()));
        }
        return;
      }
      decoder_.Feed(ByteView(read_buffer_.data(), n));
      ++reads_done_;
    });
  }
}

void Client::WriteWithoutWaiting() {
  if (!broken_.ok()) return;
  StartIo(/*want_read=*/false);  // a socket write is tried at once when it is initiated
  io_.restart();
  io_.poll();
  StartIo(/*want_read=*/false);  // what queued behind a write that has just finished
}

Status Client::RunUntil(const std::function<bool()>& done, SteadyClock::time_point deadline) {
  for (;;) {
    if (done()) return Status::Ok();
    if (!broken_.ok()) return Break(broken_);
    StartIo(/*want_read=*/true);
    io_.restart();
    if (io_.run_one_until(deadline) == 0 && SteadyClock::now() >= deadline) {
      return Break(Status::Unavailable("no reply from " + addr_ + " within " +
                                       std::to_string(options_.request_timeout.count()) + " ms"));
    }
  }
}

Result<pr::Frame> Client::NextReply(SteadyClock::duration extra) {
  const auto deadline = SteadyClock::now() + options_.request_timeout + extra;
  for (;;) {
    pr::RawFrame raw;
    switch (decoder_.Next(&raw)) {
      case pr::FrameDecoder::State::kFrame: {
        auto frame = pr::DecodeBody(raw.tag, raw.body, pr::Direction::kToClient);
        if (!frame.ok()) return Break(Status::Corruption("bad reply from the broker: " + frame.status().message()));
        // ProduceConfirm may arrive unsolicited after a level-2 Pub; it is never awaited.
        if (std::holds_alternative<pr::ProduceConfirm>(*frame)) continue;
        return frame;
      }
      case pr::FrameDecoder::State::kBroken:
        return Break(Status::Corruption("bad reply from the broker: " + decoder_.error()));
      case pr::FrameDecoder::State::kNeedMore:
        break;
    }
    // Turn the context until one more read has been fed to the decoder.
    const uint64_t reads_before = reads_done_;
    RETURN_IF_ERROR(RunUntil([&] { return reads_done_ != reads_before; }, deadline));
  }
}

PublishResult Client::ToPublishResult(const pr::Frame& reply) {
  PublishResult r;
  if (auto* ack = std::get_if<pr::PubAck>(&reply)) {
    r.offset = ack->offset;
  } else if (auto* dup = std::get_if<pr::PubAckDuplicate>(&reply)) {
    r.offset = dup->offset;
    r.duplicate = true;
  } else if (auto* err = std::get_if<pr::Err>(&reply)) {
    last_error_ = *err;
    r.error_code = err->code;
    r.status = Status::FailedPrecondition(err->code.empty() ? err->message : err->code + ": " + err->message);
  } else {
    r.status = Break(Status::Corruption("unexpected reply to Pub (tag " +
                                        std::to_string(static_cast<int>(pr::TagOf(reply))) + ")"));
  }
  return r;
}

Result<uint64_t> Client::Publish(const PublishRequest& request) {
  RETURN_IF_ERROR(QueuePub(request, request.ack_level == 2 ? 2 : 1));
  ASSIGN_OR_RETURN(pr::Frame reply, NextReply());
  PublishResult r = ToPublishResult(reply);
  if (!r.ok()) return r.status;
  return r.offset;
}

std::vector<PublishResult> Client::PublishWindow(const std::vector<PublishRequest>& requests, size_t window) {
  window = std::max<size_t>(window, 1);
  std::vector<PublishResult> results(requests.size());
  std::deque<size_t> in_flight;  // indexes awaiting a reply, in send order
  size_t next = 0;
  while (next < requests.size() || !in_flight.empty()) {
    while (next < requests.size() && in_flight.size() < window && broken_.ok()) {
      Status s = QueuePub(requests[next], requests[next].ack_level == 2 ? 2 : 1);
      if (s.ok()) {
        in_flight.push_back(next);
        results[next].sent_at = SteadyClock::now();
      } else {
        results[next].status = s;  // never sent, so no reply to wait for
      }
      ++next;
    }
    if (in_flight.empty()) {
      if (!broken_.ok()) break;
      continue;
    }
    auto reply = NextReply();
    if (!reply.ok()) {
      for (size_t i : in_flight) results[i].status = reply.status();
      for (; next < requests.size(); ++next) results[next].status = reply.status();
      in_flight.clear();
      break;
    }
    const auto sent_at = results[in_flight.front()].sent_at;
    results[in_flight.front()] = ToPublishResult(*reply);
    results[in_flight.front()].sent_at = sent_at;
    results[in_flight.front()].answered_at = SteadyClock::now();
    in_flight.pop_front();
  }
  return results;
}

Result<std::vector<uint64_t>> Client::PublishPipelined(const std::vector<PublishRequest>& requests, size_t window) {
  std::vector<PublishResult> results = PublishWindow(requests, window);
  std::vector<uint64_t> offsets;
  offsets.reserve(results.size());
  for (const PublishResult& r : results) {
    if (!r.ok()) return r.status;
    offsets.push_back(r.offset);
  }
  return offsets;
}

Status Client::PublishFireAndForget(const PublishRequest& request) {
  RETURN_IF_ERROR(QueuePub(request, 0));
  const auto deadline = SteadyClock::now() + options_.request_timeout;
  return RunUntil([this] { return out_.empty() && !write_busy_; }, deadline);
}

Status Client::Ping() {
  RETURN_IF_ERROR(Queue(pr::Ping{}));
  ASSIGN_OR_RETURN(pr::Frame reply, NextReply());
  if (auto* err = std::get_if<pr::Err>(&reply)) {
    last_error_ = *err;
    return Status::FailedPrecondition(err->code.empty() ? err->message : err->code + ": " + err->message);
  }
  if (!std::holds_alternative<pr::Pong>(reply)) return Break(Status::Corruption("unexpected reply to Ping"));
  return Status::Ok();
}

}  // namespace ironbus::client
