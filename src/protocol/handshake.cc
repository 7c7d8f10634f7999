// Capability negotiation and auth material. The why of each rule is in handshake.h; here only
// the arithmetic.
#include "protocol/handshake.h"

#include <algorithm>

#include "protocol/body_reader.h"

namespace ironbus::protocol {

Negotiated Negotiate(const Connect& connect, const HandshakePolicy& policy) {
  Negotiated n;
  const uint32_t credit_cap = std::max<uint32_t>(policy.credit_cap, 1);
  const uint32_t credit = connect.requested_credit.value_or(policy.default_credit);
  n.credit = std::max<uint32_t>(std::min(credit, credit_cap), 1);

  const uint64_t bytes_cap = policy.credit_bytes_cap;  // 0 = unlimited
  uint64_t bytes = policy.default_credit_bytes;
  if (connect.requested_credit_bytes && *connect.requested_credit_bytes != 0) bytes = *connect.requested_credit_bytes;
  if (bytes_cap != 0 && (bytes == 0 || bytes > bytes_cap)) bytes = bytes_cap;
  n.credit_bytes = bytes;

  n.gap_marker = connect.wants_gap_marker;
  n.streams = connect.understands_streams && policy.streams;
  n.streaming = connect.understands_streaming && policy.streaming;
  n.deliver_batch = connect.understands_deliver_batch && policy.deliver_batch;
  n.compressed_delivery = (connect.flags2 & kCap2CompressedDelivery) != 0 && policy.compressed_delivery;
  n.ephemeral_groups = (connect.flags2 & kCap2WantsEphemeralGroups) != 0 && policy.ephemeral_groups;
  if (connect.default_ack_level) {
    const uint8_t level = *connect.default_ack_level;
    n.default_ack_level = level <= kAckLevelConsumed ? level : kAckLevelDurable;
  }
  if (connect.default_tier == kTierS && n.streaming) n.default_tier = kTierS;

  Info& info = n.info;
  info.credit = Advert<uint32_t>{n.credit, credit_cap};
  info.credit_bytes = Advert<uint64_t>{n.credit_bytes, bytes_cap};
  info.gap_marker = n.gap_marker;
  info.streams = n.streams;
  info.streaming = n.streaming;
  info.deliver_batch = n.deliver_batch;
  if (n.default_tier == kTierS) info.default_tier = kTierS;
  if (n.ephemeral_groups) info.flags2 = kInfo2EphemeralGroups;
  return n;
}

bool IsValidAuthMechanism(uint8_t mechanism) {
  return mechanism == kAuthBearer || mechanism == kAuthPassword || mechanism == kAuthMtls;
}

Result<PasswordCredentials> ParsePasswordMaterial(ByteView material) {
  internal::BodyReader r(material);
  PasswordCredentials c;
  c.username = r.Var();
  c.password = r.Var();
  if (!r.ok()) return Status::InvalidArgument("password material: a length runs past the end");
  if (r.remaining() != 0) return Status::InvalidArgument("password material: bytes after the password");
  return c;
}

Result<Bytes> PasswordMaterial(ByteView username, ByteView password) {
  Bytes out;
  if (!internal::PutVar(&out, username)) return Status::OutOfRange("username longer than 65535 bytes");
  if (!internal::PutVar(&out, password)) return Status::OutOfRange("password longer than 65535 bytes");
  return out;
}

}  // namespace ironbus::protocol
