// queue::QueueOptions: the consumer-side knobs (spec/consumers.md 16, DESIGN.md D7), with the
// spec's defaults, and the stable outcome codes of spec section 15 that the queue reports.
//
// Errors carry the code as the first token of the Status message, "<CODE>: <text>", so the
// server can send a coded Err (spec/protocol.md 9) with ErrorCodeOf(status) and the text.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace ironbus::queue {

inline constexpr std::string_view kErrInvalidGroupName = "ERR_INVALID_GROUP_NAME";
inline constexpr std::string_view kErrTooManyGroups = "ERR_TOO_MANY_GROUPS";
inline constexpr std::string_view kErrBroadcastGroupBusy = "ERR_BROADCAST_GROUP_BUSY";
inline constexpr std::string_view kErrBroadcastGroupNotNamed = "ERR_BROADCAST_GROUP_NOT_NAMED";
inline constexpr std::string_view kErrCumulativeAckNotAllowed = "ERR_CUMULATIVE_ACK_NOT_ALLOWED";
inline constexpr std::string_view kErrCumulativeAckOutOfRange = "ERR_CUMULATIVE_ACK_OUT_OF_RANGE";
inline constexpr std::string_view kErrGenerationExhausted = "ERR_GENERATION_EXHAUSTED";
inline constexpr std::string_view kErrZeroMaxInFlight = "ERR_ZERO_MAX_IN_FLIGHT";
inline constexpr std::string_view kErrStorage = "ERR_STORAGE";
inline constexpr std::string_view kErrNotSubscribed = "ERR_NOT_SUBSCRIBED";  // C++ addition

// "<code>: <text>" with the given Status code.
Status CodedError(StatusCode code, std::string_view err_code, std::string_view text);
// The leading "ERR_..." token of a queue error, or "" when the message has none.
std::string_view ErrorCodeOf(const Status& status);

struct QueueOptions {
  // Leases (spec 5.1). The hard cap is used as given; the CLI passes max(5 min, visibility).
  // A cap below the visibility timeout clamps every deadline to the cap; 0 visibility makes
  // every lease expire at once (continuous redelivery).
  uint64_t visibility_timeout_ms = 30'000;
  uint64_t hard_cap_ms = 300'000;
  // Dead-letter after max_deliver deliveries (the grant of attempt max_deliver + 1 moves the
  // message instead). 0 = unlimited, refused unless allow_unlimited_deliver.
  uint32_t max_deliver = 5;
  bool allow_unlimited_deliver = false;
  // Nack backoff by attempt (1-based, clamped to the last entry); empty = no delay.
  std::vector<uint64_t> backoff_ms = {100, 500, 2'000, 10'000, 30'000};
  // Offsets above `committed` one group may consider for delivery (head-of-line bound).
  uint32_t max_in_flight = 1024;
  // Acked-ahead run cap (spec 6, value unconfirmed there); 0 = bounded by max_in_flight only.
  size_t max_ahead_runs = 0;
  // Cursor (and attempts) checkpoint when committed advanced this many offsets since the last
  // write; 0 = every advance.
  uint64_t checkpoint_interval = 1024;
  // Write attempts*.ckpt at the end of a delivery pass that granted at least this many
  // redeliveries since the last attempts write; 0 = off (spec 7.3).
  uint32_t attempts_flush_redeliveries = 1;
  // Live named groups; 0 = unlimited. The default group "" never counts (C++ rule).
  size_t max_groups = 1024;
  // Idle eviction (spec 3.1): a named, non-key-shared group with no members, no leases, no
  // parked fetch, no acked-ahead ranges, its cursor at the readable head and no verb for this
  // long is written to its checkpoint and dropped from memory; a later Sub reloads it. 0 = off.
  uint64_t group_idle_evict_ms = 0;
  // Groups declared at startup (spec 3.3, 3.4); a group may be in at most one list, and a
  // broadcast group must be named.
  std::vector<std::string> key_shared_groups;
  std::vector<std::string> broadcast_groups;

  // InvalidArgument naming the first bad knob (coded where the spec has a code).
  Status Validate() const;
};

}  // namespace ironbus::queue
