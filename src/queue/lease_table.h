// queue::LeaseTable: the in-memory leases of one consumer group (spec/consumers.md 5.1-5.3,
// 7.3). A lease is an offset handed out and not yet settled:
//
//   generation     the fencing token minted at the grant (per group, never reused; a nack
//                  mints a fresh one so the nacker is fenced)
//   attempt_start  when this attempt was granted (the progress hard cap counts from here)
//   deadline       when the lease stops being "in flight": claimable again at now >= deadline
//   deliveries     1-based attempt count, +1 per re-grant (expiry, nack, release), saturating
//   holder         the member it was delivered to, kNoHolder after a nack or a release
//
// Claim rules: a lease with now < deadline is in flight; otherwise the offset is claimable and
// a claim mints the next generation (Exhausted rather than wrap), sets attempt_start = now and
// deadline = now + min(visibility, hard_cap). A claim of an offset without a lease starts at
// deliveries 1, or at carried + 1 when a count was restored from attempts*.ckpt.
//
// Times are monotonic nanoseconds passed in by the caller (I6); the table never reads a clock.
// Deadlines are also indexed so the owner can ask for the next one (timer-driven redelivery).
// Memory: leases sit in an OffsetWindow (flat, offset-indexed: every lease lies inside the
// group's in-flight window); deadlines in a binary heap whose superseded entries are skipped
// when they surface and swept out when they outnumber the live ones; carried counts in a map
// (only what attempts*.ckpt restored).
//
// Thread safety: none; owned by one Group.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <utility>
#include <vector>

#include "queue/offset_window.h"

namespace ironbus::queue {

inline constexpr uint64_t kNoHolder = std::numeric_limits<uint64_t>::max();
inline constexpr int64_t kNoDeadline = std::numeric_limits<int64_t>::max();

// a + b for times, clamped instead of overflowing.
int64_t SaturatingAddNs(int64_t a, int64_t b);
// Milliseconds to nanoseconds, clamped to int64.
int64_t MsToNs(uint64_t ms);

struct Lease {
  uint64_t generation = 0;
  int64_t attempt_start_ns = 0;
  int64_t deadline_ns = 0;
  uint32_t deliveries = 0;
  uint64_t holder = kNoHolder;
};

class LeaseTable {
 public:
  LeaseTable(int64_t visibility_ns, int64_t hard_cap_ns) : visibility_ns_(visibility_ns), hard_cap_ns_(hard_cap_ns) {}

  enum class ClaimKind : uint8_t { kGranted, kInFlight, kExhausted };
  struct Claim {
    ClaimKind kind = ClaimKind::kInFlight;
    uint64_t generation = 0;
    uint32_t deliveries = 0;
    bool redelivery = false;              // deliveries >= 2 (expired, nacked, released or carried)
    uint64_t previous_holder = kNoHolder;  // who held the lease this claim replaced
  };
  // Non-mutating: no lease, or its deadline has been reached.
  bool IsClaimable(uint64_t offset, int64_t now_ns) const;
  Claim TryClaim(uint64_t offset, int64_t now_ns, uint64_t holder);

  const Lease* Find(uint64_t offset) const;

  // Ack and Term: removes the lease when `generation` is the live one (deadline not checked:
  // a late ack succeeds until someone re-claims). Also drops a carried count. False = fenced.
  bool Settle(uint64_t offset, uint64_t generation);
  // Requeue with a fresh generation and deadline now + delay, keeping deliveries. False = fenced.
  bool Nack(uint64_t offset, uint64_t generation, int64_t now_ns, int64_t delay_ns);
  enum class ProgressResult : uint8_t { kExtended, kCapReached, kFenced };
  // deadline = min(now + visibility, attempt_start + hard_cap); kCapReached once now is at or
  // past attempt_start + hard_cap.
  ProgressResult Progress(uint64_t offset, uint64_t generation, int64_t now_ns);
  // The holder went away (disconnect, unsubscribe): claimable at once, deliveries kept, so the
  // next grant counts as a redelivery toward max-deliver.
  void Release(uint64_t offset, int64_t now_ns);
  // Offsets committed past: the lease and any carried count go.
  void Erase(uint64_t offset);
  void EraseBelow(uint64_t watermark);

  // Restores counts from attempts*.ckpt (spec 7.3).
  void SetCarried(std::map<uint64_t, uint32_t> carried) { carried_ = std::move(carried); }
  uint32_t CarriedCount(uint64_t offset) const;
  // Live deliveries and carried counts, the larger where both exist (never goes down).
  std::map<uint64_t, uint32_t> AttemptSnapshot() const;

  // Removes and returns the offsets whose deadline is <= now (each reported once per deadline).
  std::vector<uint64_t> PopExpired(int64_t now_ns);
  // The earliest deadline not yet popped, or kNoDeadline.
  int64_t NextDeadline() const;

  size_t size() const { return leases_.size(); }
  // Deadline index entries, superseded ones included (tests: the sweep keeps this bounded).
  size_t deadline_entries() const { return armed_.size(); }
  void set_next_generation_for_testing(uint64_t g) { next_generation_ = g; }

 private:
  struct Slot {
    Lease lease;
    uint64_t armed_seq = 0;  // the live deadline entry's stamp; 0 = not armed (popped or never)
  };
  // A deadline entry; it counts only while its slot still carries `seq` (re-arming, settling
  // or popping supersedes it without searching the heap).
  struct Armed {
    int64_t deadline_ns = 0;
    uint64_t offset = 0;
    uint64_t seq = 0;
  };
  static bool Later(const Armed& a, const Armed& b) {
    return a.deadline_ns != b.deadline_ns ? a.deadline_ns > b.deadline_ns : a.offset > b.offset;
  }
  bool IsLive(const Armed& a) const;
  void Arm(uint64_t offset, Slot* slot, int64_t deadline_ns);
  void Disarm(Slot* slot);
  // Restores "the heap's top is live or the heap is empty" (NextDeadline reads the top) and
  // sweeps superseded entries once they outnumber the live ones.
  void TidyDeadlines();
  bool MintGeneration(uint64_t* out);

  const int64_t visibility_ns_;
  const int64_t hard_cap_ns_;
  uint64_t next_generation_ = 0;
  OffsetWindow<Slot> leases_;
  std::map<uint64_t, uint32_t> carried_;
  std::vector<Armed> armed_;  // a min-heap by (deadline, offset) under Later
  uint64_t next_arm_seq_ = 1;
  size_t armed_live_ = 0;  // entries of armed_ that are live
};

}  // namespace ironbus::queue
