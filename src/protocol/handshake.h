// The handshake as pure code (spec/protocol.md 5.1-5.3): capability negotiation of a Connect into
// the Info reply, and the auth section's material. The server keeps the Negotiated value per
// connection; sockets, identities and the Authorization Violation policy stay in server/.
//
// Rules (reference `handle_connect`, restated):
//   - A valid Connect, legacy (empty) or versioned, is always answered with a versioned Info that
//     carries both credit adverts (bits 0 and 1 set).
//   - Message credit: min(request, cap) when requested, else min(default, cap); never 0 (the Go
//     client caps every Fetch/Flow at it). A request of 0 is raised to 1.
//   - Byte budget: min(request, cap) when requested, else the default; cap 0 = unlimited. A
//     request of 0 would mean "unlimited" downstream, so it counts as no request (our decision;
//     unconfirmed in the reference).
//   - Each capability bit is "client asked" AND "server supports": GAP_MARKER (always supported),
//     STREAMS, STREAMING, DELIVER_BATCH; flags2 ephemeral groups likewise.
//   - default_ack_level is never echoed (bit 3 clear, as the reference); default_tier is echoed
//     only when it is Tier-S and STREAMING was negotiated.
//
// Thread safety: free functions over values.
#pragma once

#include <cstdint>
#include <optional>

#include "base/bytes.h"
#include "base/result.h"
#include "protocol/messages.h"

namespace ironbus::protocol {

// What this server offers. Defaults are DESIGN.md D7 (64 messages / 8 MiB) and the first cut's
// feature set (streams yes; Tier-S, DeliverBatch, compressed delivery, ephemeral groups no).
struct HandshakePolicy {
  uint32_t default_credit = 64;
  uint32_t credit_cap = 64;  // advertised as credit.cap; raised to 1 if 0
  uint64_t default_credit_bytes = 8u * 1024 * 1024;
  uint64_t credit_bytes_cap = 8u * 1024 * 1024;  // 0 = unlimited
  bool streams = true;
  bool streaming = false;
  bool deliver_batch = false;
  bool compressed_delivery = false;
  bool ephemeral_groups = false;
};

// What the connection got: what the session enforces, and the Info it answers with.
struct Negotiated {
  uint32_t credit = 0;        // >= 1
  uint64_t credit_bytes = 0;  // 0 = unlimited
  bool gap_marker = false;    // GapMarker 21 instead of Truncated 18
  bool streams = false;
  bool streaming = false;
  bool deliver_batch = false;
  bool compressed_delivery = false;  // Deliver may carry compressed payloads (flags2 bit 0)
  bool ephemeral_groups = false;
  // The client's default ack level as a level number (kAckLevel*), reserved 3 read as
  // kAckLevelDurable; absent when the client sent none. (Reading the byte as a level number rather
  // than as Pub's two-bit field: unconfirmed.)
  std::optional<uint8_t> default_ack_level;
  uint8_t default_tier = kTierW;  // kTierS only when STREAMING was negotiated
  Info info;                      // the reply to send
};

Negotiated Negotiate(const Connect& connect, const HandshakePolicy& policy);

// Auth section (5.3). Mechanisms 1..3 are valid; 0 and others are an auth failure.
bool IsValidAuthMechanism(uint8_t mechanism);

struct PasswordCredentials {
  Bytes username;
  Bytes password;
  friend bool operator==(const PasswordCredentials&, const PasswordCredentials&) = default;
};
// Password material = | var username | var password |. InvalidArgument when a length runs past
// the end or bytes follow the password (a malformed credential is an auth failure).
Result<PasswordCredentials> ParsePasswordMaterial(ByteView material);
// OutOfRange when either field is over 65535 bytes.
Result<Bytes> PasswordMaterial(ByteView username, ByteView password);

}  // namespace ironbus::protocol
