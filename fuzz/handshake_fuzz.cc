// libFuzzer target: the handshake. Decodes a Connect body and negotiates it under a server
// policy drawn from the input, then checks the negotiation rules of spec 5.2 and that the Info
// reply and the Connect round-trip.
//
// Input layout: 14 policy bytes (default credit u16, credit cap u16, default bytes u32, bytes cap
// u32, feature bits u8, spare u8), then the Connect body.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "protocol/codec.h"
#include "protocol/handshake.h"

using namespace ironbus;            // NOLINT
using namespace ironbus::protocol;  // NOLINT

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

constexpr size_t kPolicyBytes = 14;

HandshakePolicy PolicyFrom(const uint8_t* p) {
  HandshakePolicy policy;
  policy.default_credit = DecodeFixed16(p);
  policy.credit_cap = DecodeFixed16(p + 2);
  policy.default_credit_bytes = DecodeFixed32(p + 4);
  policy.credit_bytes_cap = DecodeFixed32(p + 8);
  const uint8_t features = p[12];
  policy.streams = features & 1;
  policy.streaming = features & 2;
  policy.deliver_batch = features & 4;
  policy.compressed_delivery = features & 8;
  policy.ephemeral_groups = features & 16;
  return policy;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < kPolicyBytes) return 0;
  const HandshakePolicy policy = PolicyFrom(data);
  ByteView body(data + kPolicyBytes, size - kPolicyBytes);

  DecodeError why = DecodeError::kNone;
  auto frame = DecodeBody(static_cast<uint8_t>(Tag::kConnect), body, Direction::kToServer, &why);
  Check(frame.ok() == (why == DecodeError::kNone));
  if (!frame.ok()) {
    // A malformed Connect is answered with an Err and the connection stays: never NotFound.
    Check(why == DecodeError::kTruncated || why == DecodeError::kBadVersion);
    return 0;
  }
  const Connect& connect = std::get<Connect>(*frame);
  Check(!(connect.auth && !connect.unparsed_auth.empty()));

  // The Connect re-encodes and decodes to itself.
  auto wire = EncodeFrame(*frame);
  Check(wire.ok());
  auto again = DecodeBody(static_cast<uint8_t>(Tag::kConnect), ByteView(*wire).subspan(kEnvelopeSize),
                          Direction::kToServer);
  Check(again.ok() && *again == *frame);

  const Negotiated n = Negotiate(connect, policy);
  const uint32_t cap = std::max<uint32_t>(policy.credit_cap, 1);
  Check(n.credit >= 1 && n.credit <= cap);
  if (connect.requested_credit && *connect.requested_credit >= 1) Check(n.credit == std::min(*connect.requested_credit, cap));
  if (policy.credit_bytes_cap != 0) Check(n.credit_bytes >= 1 && n.credit_bytes <= policy.credit_bytes_cap);
  Check(n.gap_marker == connect.wants_gap_marker);
  Check(n.streams == (connect.understands_streams && policy.streams));
  Check(!n.streaming || (connect.understands_streaming && policy.streaming));
  Check(!n.deliver_batch || (connect.understands_deliver_batch && policy.deliver_batch));
  Check(n.default_tier == kTierW || n.streaming);
  Check(!n.default_ack_level || *n.default_ack_level <= kAckLevelConsumed);

  // The Info reply: versioned, both adverts, and it round-trips as the client reads it.
  Check(!n.info.legacy && n.info.credit && n.info.credit_bytes && !n.info.default_ack_level);
  Check(n.info.credit->negotiated == n.credit && n.info.credit_bytes->negotiated == n.credit_bytes);
  auto info_wire = EncodeFrame(Frame(n.info));
  Check(info_wire.ok());
  auto info = DecodeBody(static_cast<uint8_t>(Tag::kInfo), ByteView(*info_wire).subspan(kEnvelopeSize),
                         Direction::kToClient);
  Check(info.ok() && std::get<Info>(*info) == n.info);

  // The auth material, as the server would read it.
  if (connect.auth && connect.auth->mechanism == kAuthPassword) {
    auto creds = ParsePasswordMaterial(connect.auth->material);
    if (creds.ok()) {
      auto material = PasswordMaterial(creds->username, creds->password);
      Check(material.ok() && *material == connect.auth->material);
    }
  }
  return 0;
}
