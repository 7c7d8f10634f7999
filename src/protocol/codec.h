// Frame codec: Frame <-> bytes (spec/protocol.md sections 2-12). Pure code, no sockets.
//
// Errors are Status values whose message is the text the server puts in its Err reply:
//   NotFound          "unknown frame type" (the connection stays open)
//   InvalidArgument   a malformed body ("malformed pub body", ...) (the connection stays open)
//   OutOfRange        encode only: a field too long for its length prefix, a frame over
//                     kMaxFrameLen
// Envelope errors (a length of 0 or over the maximum) are FrameDecoder's (frame_decoder.h);
// they end the connection.
#pragma once

#include "base/bytes.h"
#include "base/result.h"
#include "protocol/messages.h"

namespace ironbus::protocol {

// Who sent the frame: tag 29 is a request one way and a response the other.
enum class Direction : uint8_t { kToServer, kToClient };

// Appends the whole frame (length prefix, tag, body) to *out. On error *out is unchanged.
Status EncodeFrame(const Frame& frame, Bytes* out);
Result<Bytes> EncodeFrame(const Frame& frame);

// Decodes one body. `tag` is the frame type byte; `body` excludes prefix and tag.
Result<Frame> DecodeBody(uint8_t tag, ByteView body, Direction direction);

// The Pub body codec on its own: PubTo and PubSubject carry it as their tail.
Status EncodePubBody(const Pub& pub, Bytes* out);
Result<Pub> DecodePubBody(ByteView body);

}  // namespace ironbus::protocol
