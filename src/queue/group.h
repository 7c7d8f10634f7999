// queue::Group: one consumer group over the shared log (spec/consumers.md 2-8, DESIGN.md D7):
// a cursor (committed + acked-ahead), a lease table, its members with their credit, and for a
// key_shared group the key router. A deterministic state machine: time is the `now_ns`
// argument of every call (monotonic nanoseconds, I6), records come from storage::Log::Read up
// to the log's readable head only (the durable head under kSync), durable state goes to the
// group's checkpoint files and the dead-letter log. No sockets, no threads, no timers.
//
// Members. A member is one consumer connection, named by a u64 the broker picks (unique per
// connection; for key_shared the rendezvous identity). Join on Sub (or on the first fetch of
// the default group), Leave on Unsub, a subscription switch or disconnect. A member has a
// credit window (messages, bytes; negotiated at Connect, D7 default 64 / 8 MiB) and a `leased`
// map offset -> (generation, bytes) of what was delivered to it: that map is the credit
// accounting and the connection scoping of tokens (spec 5.4): an ack-family verb whose
// (offset, generation) is not in the member's map is fenced without touching the lease.
//
// Fetch (spec 4.1, 4.2; protocol.md 8.3) returns a window: Delivery items, DeadLetter and
// Truncation advisories, then the caller sends FlowEnd(delivered) (or Err when `error` is set,
// after the items). Per fetch: drop the member's entries whose lease it no longer holds (settled,
// re-granted, or at/past the deadline); budget = min(max_records, credit - held); each poll
// yields at most one item; scan upward from the watermark inside [committed, min(committed +
// max_in_flight, head)), so a redelivery of a low offset precedes new records. Byte budget
// (C++ rule): a delivery that would take the member's held bytes past min(credit_bytes,
// max_bytes) is not made and ends the window, unless the member holds nothing (then one record
// goes out whatever its size).
//
// Timer-driven redelivery. Expiry itself is lazy in the spec (a lease is claimable again at
// now >= deadline). On top, a fetch that finds nothing and asks to wait (`wait_until_ns`) is
// parked, and a member's later waiting fetches park behind it (a pipelining client); Tick(now)
// re-runs parked fetches whenever a deadline passed (lease expiry, nack backoff end), the head
// advanced or a verb changed the group, and completes them with what they got, or empty at
// their wait deadline, each member's in the order they came. The broker arms one timer at
// NextDeadline() and calls Tick from it, after each durable-head advance, and after verbs when
// has_parked_fetches(). So a redelivery reaches a waiting consumer at the deadline, not at its
// next poll.
//
// The deadline instant (C++ rule, spec 5.2/5.3): at now == deadline the lease is expired
// (claimable), but an Ack/Term carrying the live generation still succeeds until some claim
// actually re-grants the offset: the verbs are applied in call order on the group's strand,
// so an ack processed before the Tick/Fetch that re-grants wins, one processed after is fenced.
// A fetch by the holder itself at or after the deadline drops its entry first (spec 4.2 step
// 1), which also fences its later ack.
//
// Leave releases the member's leases at once (C++ rule, see docs/consumers.md): they become
// claimable immediately, keep their delivery count (so a consumer that crashes on a poison
// message still drives it to the DLQ), and for key_shared the busy keys stay busy until the
// redelivery, which is routed to the key's new owner.
//
// Durable state (docs/consumers.md): the cursor checkpoint is written when committed has
// advanced checkpoint_interval offsets since the last write (0 = every advance), on a clean
// Leave, and by Checkpoint() at shutdown; attempts*.ckpt on the same occasions plus the
// redelivery trigger. A checkpoint write error does not fail the verb (the state only lags,
// which I5b allows); it is counted and kept in stats().last_checkpoint_error.
//
// Ownership and lifetime: created and owned by queue::Groups; the Log, DeadLetterLog,
// FileSystem and options it points to must outlive it. Records in returned windows are
// copies owned by the caller.
// Thread safety: NOT thread-safe. Every call on one Group must be serialized: the broker
// runs each group on one strand (or holds one mutex per group). Different groups may run
// concurrently (the Log reader side and the DeadLetterLog are thread-safe); committed_floor()
// alone may be read from any thread (retention floor).
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "base/result.h"
#include "format/record.h"
#include "io/file_system.h"
#include "queue/cursor.h"
#include "queue/dead_letter_log.h"
#include "queue/compact_offset_map.h"
#include "queue/group_checkpoint.h"
#include "queue/key_router.h"
#include "queue/lease_table.h"
#include "queue/offset_window.h"
#include "queue/queue_options.h"
#include "storage/log.h"

namespace ironbus::queue {

enum class GroupMode : uint8_t { kCompeting, kKeyShared, kBroadcast };

struct MemberOptions {
  uint32_t credit = 64;                // negotiated message window; 0 is treated as 1
  uint64_t credit_bytes = 8ull << 20;  // negotiated byte budget; 0 = unlimited
};

struct Delivery {
  uint64_t offset = 0;
  uint64_t generation = 0;  // the token's second half; echoed back in every ack-family verb
  uint32_t deliveries = 0;  // 1-based attempt (not on the wire)
  format::Record record;    // stored record (payload still compressed if COMPRESSED)
};
struct DeadLetterNotice {
  uint64_t offset = 0;
  uint8_t reason = 0;  // 0 = max-deliver
};
struct TruncationNotice {
  uint64_t earliest_retained = 0;
  uint64_t skipped = 0;  // earliest - old committed
};
using WindowItem = std::variant<Delivery, DeadLetterNotice, TruncationNotice>;

struct Window {
  std::vector<WindowItem> items;  // in send order
  uint32_t delivered = 0;         // Delivery items: the FlowEnd count
  bool parked = false;            // nothing yet; completed later by Tick
  Status error;                   // not ok: send Err (coded) after the items instead of FlowEnd
};

struct FetchRequest {
  uint32_t max_records = 0;   // the Flow credit / Fetch max_records
  uint64_t max_bytes = 0;     // 0 = no per-request byte cap
  int64_t wait_until_ns = 0;  // > now: park until then when nothing is available (long-poll)
};

struct CompletedFetch {
  uint64_t member_id = 0;
  Window window;
};

enum class AckOp : uint8_t { kAck = 0, kNack = 1, kTerm = 2, kProgress = 3 };
enum class AckStatus : uint8_t { kFenced = 0, kOk = 1, kCapReached = 2 };  // AckStatus wire byte
inline constexpr uint64_t kNackUseBackoff = UINT64_MAX;  // Nack delay_ms: use the schedule

struct GroupStats {
  GroupMode mode = GroupMode::kCompeting;
  uint64_t committed = 0;
  uint64_t ahead_runs = 0;
  uint64_t leases = 0;
  uint64_t members = 0;
  uint64_t delivered = 0;    // a redelivery counts again
  uint64_t redelivered = 0;
  uint64_t acks = 0;         // ack + term
  uint64_t nacks = 0;
  uint64_t dead_lettered = 0;
  int64_t last_dead_lettered_offset = -1;
  uint64_t truncations = 0;
  uint64_t truncated_records = 0;
  uint64_t holes_skipped = 0;  // offsets recovery could not keep (D1), stepped over
  uint64_t checkpoint_writes = 0;
  uint64_t attempts_writes = 0;
  uint64_t checkpoint_failures = 0;
  Status last_checkpoint_error;
};

class Group {
 public:
  struct Env {
    io::FileSystem* fs = nullptr;
    std::string data_dir;
    storage::Log* log = nullptr;
    DeadLetterLog* dlq = nullptr;
    const QueueOptions* options = nullptr;
  };
  // Loads the group's checkpoint files (clamped to the log's head, I5b). Used by Groups.
  static Result<std::unique_ptr<Group>> Open(const Env& env, std::string name, GroupMode mode);
  Group(const Group&) = delete;
  Group& operator=(const Group&) = delete;

  const std::string& name() const { return name_; }
  GroupMode mode() const { return mode_; }
  // Runtime mode change (vectors' set_broadcast / set_key_ordering). Broadcast: the group must
  // be named, not key_shared, and have no leases, no acked-ahead ranges and at most one member
  // (ERR_BROADCAST_GROUP_BUSY); key_shared: not broadcast.
  Status SetMode(GroupMode mode);

  // Idempotent; re-joining updates the credit. A second member of a broadcast group:
  // ERR_BROADCAST_GROUP_BUSY, nothing changes (the caller keeps the old subscription, so join
  // the new group before leaving the old one).
  Status Join(uint64_t member_id, const MemberOptions& options);
  // Releases the member's leases (claimable at once), drops its parked fetches, leaves the key
  // router and the broadcast slot. `clean` (Unsub, switch, orderly close) also writes the
  // cursor and attempts checkpoints; the returned Status is that write's.
  Status Leave(uint64_t member_id, int64_t now_ns, bool clean);
  bool IsMember(uint64_t member_id) const { return members_.count(member_id) > 0; }

  Window Fetch(uint64_t member_id, const FetchRequest& request, int64_t now_ns);
  // Ack, Nack (delay_ms, or kNackUseBackoff), Term, Progress (spec 5.3). Never allocates a
  // group, never blocks on anything but a checkpoint write the cadence asks for.
  AckStatus Settle(uint64_t member_id, AckOp op, uint64_t offset, uint64_t generation, uint64_t delay_ms,
                   int64_t now_ns);
  // Spec 3.4 (broadcast groups only); any sender. Errors are coded.
  Status CumulativeAck(uint64_t up_to, int64_t now_ns);

  std::vector<CompletedFetch> Tick(int64_t now_ns);
  int64_t NextDeadline() const;  // kNoDeadline when nothing is scheduled
  bool has_parked_fetches() const { return !parked_.empty(); }

  // Writes the cursor and attempts checkpoints now (shutdown, eviction).
  Status Checkpoint();

  // Idle eviction (QueueOptions::group_idle_evict_ms): whether the group may be dropped from
  // memory now, losing nothing its checkpoint does not hold. The first call on a group that saw
  // no verb since it was loaded starts its idle clock.
  bool EvictableAt(int64_t now_ns, int64_t idle_ns);

  uint64_t committed() const { return cursor_.committed(); }
  uint64_t committed_floor() const { return committed_mirror_.load(std::memory_order_relaxed); }
  GroupStats stats() const;
  const Cursor& cursor() const { return cursor_; }
  const LeaseTable& leases() const { return leases_; }
  const KeyRouter& router() const { return router_; }
  size_t held_by(uint64_t member_id) const;  // entries in the member's leased map
  size_t held_storage_by(uint64_t member_id) const;  // entries of storage behind that map
  void set_next_generation_for_testing(uint64_t g) { leases_.set_next_generation_for_testing(g); }

 private:
  struct Held {
    uint64_t generation = 0;
    uint64_t bytes = 0;
  };
  struct Member {
    uint64_t id = 0;
    uint32_t credit = 1;
    uint64_t credit_bytes = 0;
    // offset -> what this member holds: at most its credit of entries, which may lie anywhere in
    // the in-flight window, so storage that follows the count, not the span (compact_offset_map.h)
    CompactOffsetMap<Held> leased;
    uint64_t leased_bytes = 0;
  };
  struct Parked {
    uint64_t member_id = 0;
    FetchRequest request;
  };
  class RecordSource;  // group_fetch.cc
  // A window reserves room for at most this many items up front (a larger one still grows).
  static constexpr uint64_t kMaxItemsReserved = 1024;
  enum class Poll : uint8_t { kItem, kIdle, kBlocked, kError };

  Group(const Env& env, std::string name, GroupMode mode);

  // group_fetch.cc
  // One delivery pass for `m`; *had_budget = the member had credit for at least one message.
  Window RunPass(Member& m, const FetchRequest& request, int64_t now_ns, bool* had_budget);
  Poll PollOne(Member& m, int64_t now_ns, uint64_t byte_cap, uint64_t* scan_from, RecordSource* source,
               Window* out);
  Poll DeadLetter(uint64_t offset, uint32_t deliveries, const format::Record& record, Window* out);
  bool MaybeTruncate(Window* out);

  // group.cc
  void Touch(int64_t now_ns) { last_activity_ns_ = now_ns; }
  void PruneHeld(Member& m, int64_t now_ns);
  void DropHeld(uint64_t member_id, uint64_t offset);
  void DropHeldBelow(uint64_t watermark);
  // Records `offset` acked; true when the cursor took it.
  bool CommitOffset(uint64_t offset);
  // After the watermark moved: prune every structure below it and apply the cadence.
  void OnCommitted();
  void MaybeFlushAttempts();
  Status WriteCursorAndAttempts();
  void NoteCheckpointError(const Status& s);
  int64_t BackoffNs(uint32_t attempt) const;

  const Env env_;
  const std::string name_;
  int64_t last_activity_ns_ = -1;  // the last verb, -1 = none since load (EvictableAt)
  GroupMode mode_;
  std::unique_ptr<GroupCheckpoint> checkpoint_;
  Cursor cursor_;
  LeaseTable leases_;
  KeyRouter router_;
  std::map<uint64_t, Member> members_;
  std::deque<Parked> parked_;
  bool dirty_ = false;  // something changed since parked fetches last ran
  uint64_t last_head_ = 0;
  storage::ReadPosition read_position_;  // where the last delivery read stopped (a hint)
  uint64_t redeliveries_since_flush_ = 0;
  bool attempts_nonempty_on_disk_ = false;  // the last attempts snapshot held counts
  std::atomic<uint64_t> committed_mirror_{0};
  GroupStats stats_;
};

}  // namespace ironbus::queue
