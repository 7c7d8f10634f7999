// Frame codec: Frame <-> bytes (spec/protocol.md sections 2-13). Pure code, no sockets.
//
// Encoding appends one whole frame (length prefix, tag, body). Decoding takes the tag and body
// FrameDecoder (frame_decoder.h) cut out of the stream; it copies what it keeps, so the frame
// outlives the receive buffer (messages.h).
//
// A body error is a Status whose message is the text the server puts in its uncoded Err reply,
// and, through the optional out-parameter, a DecodeError that says which rule was broken:
//   Status code      DecodeError                  Err text / what the receiver does
//   NotFound         kUnknownTag                  "unknown frame type"; the connection stays open
//   InvalidArgument  kNotSupported                "verb not supported on this connection"; stays open
//   InvalidArgument  kTruncated, kTrailingBytes,  "malformed <frame> body" (Flow: "flow credit must
//                    kBadVersion, kBadValue,      be a u32"); the connection stays open. A client
//                    kBadFlags, kNameTooLong      receiving one treats the connection as broken.
// Encode errors: OutOfRange for a field too long for its length prefix (var field > 65535, name
// > 1024, Err token > 255) or a frame over kMaxFrameLen; *out is then unchanged.
//
// Thread safety: free functions over values; no shared state.
#pragma once

#include <cstdint>
#include <string_view>

#include "base/bytes.h"
#include "base/result.h"
#include "protocol/messages.h"

namespace ironbus::protocol {

// Who is receiving: tag 29 is a request one way and a response the other, and a tag the other
// side must not send (Sender in wire_format.h) is kNotSupported.
enum class Direction : uint8_t { kToServer, kToClient };

// Why a body did not decode. One value per rule, so tests and callers can tell them apart.
enum class DecodeError : uint8_t {
  kNone = 0,
  kUnknownTag,     // tag 0 or 53..255: no version of the protocol defines it
  kNotSupported,   // a defined tag the receiver must not get here: reserved Nack 9, the other side's
                   // frames, peer-link tags, v2 verbs this codec does not implement
  kTruncated,      // the body ends before a field it announces (short fixed body, a var or block
                   // length past the end)
  kTrailingBytes,  // a fixed-size body longer than its size
  kBadVersion,     // body_version other than 1
  kBadValue,       // a value outside its set: Ack op > 3, a non-UTF-8 NotLeader hint
  kBadFlags,       // Pub HAS_SEQ (0x20) without HAS_DEDUP (0x80)
  kNameTooLong,    // a stream id, subject or pattern over kMaxNameLen
};
std::string_view DecodeErrorName(DecodeError error);

// Appends the whole frame to *out. On error *out is unchanged.
Status EncodeFrame(const Frame& frame, Bytes* out);
Result<Bytes> EncodeFrame(const Frame& frame);
// The same as EncodeFrame (the name the server and client briefs use).
inline Status Encode(const Frame& frame, Bytes* out) { return EncodeFrame(frame, out); }

// A Deliver (tag 13) over borrowed bytes: the server's delivery path encodes each record
// straight from what it read, without building a Deliver (a Frame variant per record, and its
// key, headers and payload moved into it).
struct DeliverView {
  uint64_t offset = 0;
  uint64_t generation = 0;
  uint8_t flags = 0;
  uint64_t timestamp_ms = 0;
  ByteView key;
  ByteView headers;
  ByteView payload;
};
// Appends exactly the bytes EncodeFrame writes for the equivalent Deliver. On error *out is
// unchanged.
Status EncodeDeliver(const DeliverView& deliver, Bytes* out);

// Decodes one body. `tag` is the frame type byte; `body` excludes prefix and tag. When `error`
// is given it is set to kNone on success and to the broken rule otherwise.
Result<Frame> DecodeBody(uint8_t tag, ByteView body, Direction direction, DecodeError* error = nullptr);

// The Pub body codec on its own: PubTo and PubSubject carry it as their tail.
Status EncodePubBody(const Pub& pub, Bytes* out);
Result<Pub> DecodePubBody(ByteView body, DecodeError* error = nullptr);

// True when `text` is well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
// The server refuses a non-UTF-8 Sub group (kTextSubNameNotUtf8); the client a non-UTF-8 hint.
bool IsValidUtf8(ByteView text);

}  // namespace ironbus::protocol
