#include "client/client.h"

#include <chrono>

#include "protocol/codec.h"

namespace ironbus::client {
namespace pr = protocol;

Client::Client() : socket_(io_) {}
Client::~Client() { Close(); }

Result<std::unique_ptr<Client>> Client::Connect(const std::string& addr) {
  const size_t colon = addr.rfind(':');
  if (colon == std::string::npos) return Status::InvalidArgument("address must be host:port, got " + addr);
  std::unique_ptr<Client> c(new Client());
  asio::error_code ec;
  asio::ip::tcp::resolver resolver(c->io_);
  auto endpoints = resolver.resolve(addr.substr(0, colon), addr.substr(colon + 1), ec);
  if (!ec) asio::connect(c->socket_, endpoints, ec);
  if (ec) return Status::Unavailable("cannot connect to " + addr + ": " + ec.message());
  c->socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  pr::Connect hello;
  hello.wants_gap_marker = true;
  RETURN_IF_ERROR(c->Send(hello));
  ASSIGN_OR_RETURN(pr::Frame reply, c->Receive());
  if (auto* err = std::get_if<pr::Err>(&reply)) return Status::FailedPrecondition("handshake refused: " + err->message);
  auto* info = std::get_if<pr::Info>(&reply);
  if (info == nullptr) return Status::Corruption("handshake: the broker did not answer with Info");
  c->info_ = *info;
  return c;
}

void Client::Close() {
  asio::error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
}

Status Client::SendBytes(const Bytes& bytes) {
  asio::error_code ec;
  asio::write(socket_, asio::buffer(bytes), ec);
  if (ec) return Status::Unavailable("connection lost while sending: " + ec.message());
  return Status::Ok();
}

Status Client::Send(const pr::Frame& frame) {
  ASSIGN_OR_RETURN(Bytes bytes, pr::EncodeFrame(frame));
  return SendBytes(bytes);
}

Result<pr::Frame> Client::Receive() {
  uint8_t buffer[64 * 1024];
  for (;;) {
    pr::RawFrame raw;
    switch (decoder_.Next(&raw)) {
      case pr::FrameDecoder::State::kFrame: {
        auto frame = pr::DecodeBody(raw.tag, raw.body, pr::Direction::kToClient);
        if (!frame.ok()) return Status::Corruption("bad reply from the broker: " + frame.status().message());
        // ProduceConfirm may arrive unsolicited (ack level 2); this client never asks for it.
        if (std::holds_alternative<pr::ProduceConfirm>(*frame)) continue;
        return frame;
      }
      case pr::FrameDecoder::State::kBroken:
        return Status::Corruption("bad reply from the broker: " + decoder_.error());
      case pr::FrameDecoder::State::kNeedMore:
        break;
    }
    asio::error_code ec;
    const size_t n = socket_.read_some(asio::buffer(buffer), ec);
    if (ec) return Status::Unavailable("connection lost: " + ec.message());
    decoder_.Feed(ByteView(buffer, n));
  }
}

Bytes Client::EncodePub(const PublishRequest& request) {
  pr::Pub pub;
  pub.timestamp_ms = request.timestamp_ms != 0
                         ? request.timestamp_ms
                         : static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                     std::chrono::system_clock::now().time_since_epoch())
                                                     .count());
  pub.key = request.key;
  pub.headers = request.headers;
  pub.payload = request.payload;
  Bytes out;
  if (!pr::EncodeFrame(pr::Frame(std::move(pub)), &out).ok()) out.clear();
  return out;
}

namespace {

Result<uint64_t> OffsetFromReply(const pr::Frame& reply) {
  if (auto* ack = std::get_if<pr::PubAck>(&reply)) return ack->offset;
  if (auto* dup = std::get_if<pr::PubAckDuplicate>(&reply)) return dup->offset;
  if (auto* err = std::get_if<pr::Err>(&reply)) {
    return Status::FailedPrecondition(err->code.empty() ? err->message : err->code + ": " + err->message);
  }
  return Status::Corruption("unexpected reply to Pub (tag " + std::to_string(static_cast<int>(pr::TagOf(reply))) + ")");
}

}  // namespace

Result<uint64_t> Client::Publish(const PublishRequest& request) {
  const Bytes frame = EncodePub(request);
  if (frame.empty()) return Status::InvalidArgument("record does not fit a frame (key or headers over 65535 bytes)");
  RETURN_IF_ERROR(SendBytes(frame));
  ASSIGN_OR_RETURN(pr::Frame reply, Receive());
  return OffsetFromReply(reply);
}

Result<std::vector<uint64_t>> Client::PublishPipelined(const std::vector<PublishRequest>& requests, size_t window) {
  window = std::max<size_t>(window, 1);
  std::vector<uint64_t> offsets;
  offsets.reserve(requests.size());
  Status first_error;
  size_t sent = 0;
  // After an error nothing new is sent, but every reply already owed is still read, so the
  // connection stays in step.
  while (offsets.size() < sent || (first_error.ok() && sent < requests.size())) {
    Bytes batch;
    while (first_error.ok() && sent < requests.size() && sent - offsets.size() < window) {
      const Bytes frame = EncodePub(requests[sent]);
      if (frame.empty()) return Status::InvalidArgument("record does not fit a frame");
      PutBytes(&batch, frame);
      ++sent;
    }
    if (!batch.empty()) RETURN_IF_ERROR(SendBytes(batch));
    ASSIGN_OR_RETURN(pr::Frame reply, Receive());
    auto offset = OffsetFromReply(reply);
    if (!offset.ok() && first_error.ok()) first_error = offset.status();
    offsets.push_back(offset.ok() ? *offset : UINT64_MAX);
  }
  if (!first_error.ok()) return first_error;
  return offsets;
}

Status Client::Ping() {
  RETURN_IF_ERROR(Send(pr::Ping{}));
  ASSIGN_OR_RETURN(pr::Frame reply, Receive());
  if (!std::holds_alternative<pr::Pong>(reply)) return Status::Corruption("unexpected reply to Ping");
  return Status::Ok();
}

}  // namespace ironbus::client
