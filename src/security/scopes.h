// The three scopes (spec/security.md 3) and which one each client verb needs.
//
// Scopes are independent booleans: no scope implies another, `admin` does not include producing
// or consuming. An identity with no scopes can connect and do nothing.
//
// Verb -> requirement (wire tags from protocol/wire_format.h `Tag`; security may not include
// protocol, so tags arrive as uint8_t; tests/security/scopes_test.cc pins every tag against
// the protocol constants):
//   none                    Connect 1 (it is the authentication), Ping 3. "None" means no scope;
//                           before a successful Connect the session accepts only Connect, Ping
//                           included (spec 2; protocol.md 5.2) -- that gate is the session's.
//   publish                 Pub 5, PubTo 30, PubSubject 35
//   subscribe               Sub 6, Unsub 7, Ack 8 (every op), Flow 10, CumulativeAck 19,
//                           Fetch 23, StreamFetch 24, StreamCommit 25, StreamInfo 29, SubTo 31,
//                           SubSubject 36 (protocol.md 5.3, the reference's list)
//   publish or subscribe    StreamDeclare 28, BindSubject 34, TxnPrepare 44, TxnCommit 45,
//                           TxnRollback 46, TxnCheckResult 48, TxnListen 49 (spec 3: decided;
//                           declaration and binding are idempotent, request/reply binds _INBOX.>)
//   admin                   PauseGroup 52 (decided here: spec 3 is silent; pausing changes
//                           delivery for every member of a group, so the conservative scope)
//   not a client verb       server-to-client replies, peer-link tags, reserved 9, unknown tags:
//                           never permitted on the client port (a protocol error for the session)
// The HTTP /admin surface is gated by `admin` in the server; it has no wire tag.
//
// Thread safety: values and pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace ironbus::security {

enum class Scope : uint8_t { kPublish = 1, kSubscribe = 2, kAdmin = 4 };

// "publish", "subscribe", "admin".
std::string_view ScopeName(Scope scope);
Result<Scope> ParseScope(std::string_view name);

class ScopeSet {
 public:
  constexpr ScopeSet() = default;
  static constexpr ScopeSet All() { return ScopeSet(7); }
  constexpr bool Has(Scope s) const { return (bits_ & static_cast<uint8_t>(s)) != 0; }
  constexpr ScopeSet& Add(Scope s) {
    bits_ |= static_cast<uint8_t>(s);
    return *this;
  }
  constexpr bool empty() const { return bits_ == 0; }
  constexpr uint8_t bits() const { return bits_; }
  // "publish,subscribe" in that fixed order; "" for none.
  std::string ToString() const;
  friend constexpr bool operator==(ScopeSet a, ScopeSet b) { return a.bits_ == b.bits_; }

 private:
  explicit constexpr ScopeSet(uint8_t bits) : bits_(bits) {}
  uint8_t bits_ = 0;
};

// Each name once, each one of the three; InvalidArgument naming the bad entry otherwise.
Result<ScopeSet> ParseScopes(const std::vector<std::string>& names);

enum class ScopeRequirement : uint8_t {
  kNone,
  kPublish,
  kSubscribe,
  kPublishOrSubscribe,
  kAdmin,
  kNotClientVerb,
};

// "none", "publish", "subscribe", "publish|subscribe", "admin", "not_client_verb" (the `scope`
// field of the authz_denial audit event).
std::string_view ScopeRequirementName(ScopeRequirement r);

ScopeRequirement RequiredScope(uint8_t wire_tag);

// Whether a connection holding `held` may send a frame with `wire_tag` (after authentication).
bool Permits(ScopeSet held, uint8_t wire_tag);

}  // namespace ironbus::security
