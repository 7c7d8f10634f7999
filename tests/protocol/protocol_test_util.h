// Helpers shared by the protocol tests: envelopes, bodies, decoding with the broken rule.
#pragma once

#include <gtest/gtest.h>

#include "protocol/codec.h"
#include "protocol/frame_decoder.h"

namespace ironbus::protocol::testing {

inline Bytes Envelope(uint8_t tag, const Bytes& body) {
  Bytes out;
  PutFixed32(&out, static_cast<uint32_t>(body.size() + 1));
  out.push_back(tag);
  PutBytes(&out, body);
  return out;
}

// The encoded body of `frame` (no prefix, no tag).
inline Bytes BodyOf(const Frame& frame) {
  auto wire = EncodeFrame(frame);
  EXPECT_TRUE(wire.ok()) << wire.status().ToString();
  if (!wire.ok()) return {};
  return Bytes(wire->begin() + kEnvelopeSize, wire->end());
}

struct Decoded {
  Result<Frame> frame;
  DecodeError why;
};
inline Decoded Decode(uint8_t tag, const Bytes& body, Direction direction) {
  DecodeError why = DecodeError::kNone;
  auto frame = DecodeBody(tag, body, direction, &why);
  return {std::move(frame), why};
}
inline Decoded Decode(Tag tag, const Bytes& body, Direction direction) {
  return Decode(static_cast<uint8_t>(tag), body, direction);
}

// The direction a frame travels (section 4), for round trips.
inline Direction DirectionFor(const Frame& frame) {
  if (std::holds_alternative<StreamInfoResponse>(frame)) return Direction::kToClient;
  return SenderOf(static_cast<uint8_t>(TagOf(frame))) == Sender::kServer ? Direction::kToClient : Direction::kToServer;
}

}  // namespace ironbus::protocol::testing
