#include "queue/lease_table.h"

#include <algorithm>

namespace ironbus::queue {

int64_t SaturatingAddNs(int64_t a, int64_t b) {
  int64_t out = 0;
  if (__builtin_add_overflow(a, b, &out)) return b > 0 ? kNoDeadline : std::numeric_limits<int64_t>::min();
  return out;
}

int64_t MsToNs(uint64_t ms) {
  constexpr uint64_t kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / 1'000'000;
  return ms > kMax ? kNoDeadline : static_cast<int64_t>(ms * 1'000'000);
}

bool LeaseTable::IsClaimable(uint64_t offset, int64_t now_ns) const {
  const Slot* slot = leases_.Find(offset);
  // The deadline itself belongs to expiry: at now == deadline the lease is no longer in flight.
  return slot == nullptr || now_ns >= slot->lease.deadline_ns;
}

bool LeaseTable::MintGeneration(uint64_t* out) {
  // Never reuse a generation: refuse the last value rather than wrap (ERR_GENERATION_EXHAUSTED).
  if (next_generation_ == std::numeric_limits<uint64_t>::max()) return false;
  *out = next_generation_++;
  return true;
}

bool LeaseTable::IsLive(const Armed& a) const {
  const Slot* slot = leases_.Find(a.offset);
  return slot != nullptr && slot->armed_seq == a.seq;
}

void LeaseTable::Arm(uint64_t offset, Slot* slot, int64_t deadline_ns) {
  Disarm(slot);
  slot->lease.deadline_ns = deadline_ns;
  slot->armed_seq = next_arm_seq_++;
  armed_.push_back(Armed{deadline_ns, offset, slot->armed_seq});
  std::push_heap(armed_.begin(), armed_.end(), Later);
  armed_live_ += 1;
}

void LeaseTable::Disarm(Slot* slot) {
  if (slot->armed_seq == 0) return;
  slot->armed_seq = 0;  // its heap entry is now superseded
  armed_live_ -= 1;
}

void LeaseTable::TidyDeadlines() {
  // Sweep when superseded entries outnumber live ones (and are not just a handful), so the
  // heap stays within about twice the leases however often deadlines move.
  if (armed_.size() > 64 && armed_.size() > 2 * armed_live_) {
    std::erase_if(armed_, [&](const Armed& a) { return !IsLive(a); });
    std::make_heap(armed_.begin(), armed_.end(), Later);
  }
  while (!armed_.empty() && !IsLive(armed_.front())) {
    std::pop_heap(armed_.begin(), armed_.end(), Later);
    armed_.pop_back();
  }
}

LeaseTable::Claim LeaseTable::TryClaim(uint64_t offset, int64_t now_ns, uint64_t holder) {
  Claim c;
  Slot* slot = leases_.Find(offset);
  if (slot != nullptr && now_ns < slot->lease.deadline_ns) return c;  // kInFlight
  uint64_t generation = 0;
  if (!MintGeneration(&generation)) {
    c.kind = ClaimKind::kExhausted;
    return c;
  }
  const int64_t deadline = SaturatingAddNs(now_ns, std::min(visibility_ns_, hard_cap_ns_));
  if (slot == nullptr) {
    Slot fresh;
    fresh.lease.deliveries = 1;
    if (auto carried = carried_.find(offset); carried != carried_.end()) {
      // Resumed after a restart: continue the persisted count (spec 7.3).
      fresh.lease.deliveries = carried->second == UINT32_MAX ? UINT32_MAX : carried->second + 1;
      carried_.erase(carried);
    }
    slot = &leases_.Put(offset, fresh);
  } else {
    c.previous_holder = slot->lease.holder;
    if (slot->lease.deliveries != UINT32_MAX) slot->lease.deliveries += 1;
  }
  Lease& lease = slot->lease;
  lease.generation = generation;
  lease.attempt_start_ns = now_ns;
  lease.holder = holder;
  Arm(offset, slot, deadline);
  TidyDeadlines();
  c.kind = ClaimKind::kGranted;
  c.generation = generation;
  c.deliveries = lease.deliveries;
  c.redelivery = lease.deliveries >= 2;
  return c;
}

const Lease* LeaseTable::Find(uint64_t offset) const {
  const Slot* slot = leases_.Find(offset);
  return slot == nullptr ? nullptr : &slot->lease;
}

bool LeaseTable::Settle(uint64_t offset, uint64_t generation) {
  Slot* slot = leases_.Find(offset);
  if (slot == nullptr || slot->lease.generation != generation) return false;
  Disarm(slot);
  leases_.Erase(offset);
  carried_.erase(offset);
  TidyDeadlines();
  return true;
}

bool LeaseTable::Nack(uint64_t offset, uint64_t generation, int64_t now_ns, int64_t delay_ns) {
  Slot* slot = leases_.Find(offset);
  if (slot == nullptr || slot->lease.generation != generation) return false;
  uint64_t fresh = 0;
  if (!MintGeneration(&fresh)) return false;
  slot->lease.generation = fresh;  // fences the nacker: its token is now stale
  slot->lease.holder = kNoHolder;
  // Not clamped to the hard cap: the delay schedules the next attempt, not this one.
  Arm(offset, slot, SaturatingAddNs(now_ns, delay_ns));
  TidyDeadlines();
  return true;
}

LeaseTable::ProgressResult LeaseTable::Progress(uint64_t offset, uint64_t generation, int64_t now_ns) {
  Slot* slot = leases_.Find(offset);
  if (slot == nullptr || slot->lease.generation != generation) return ProgressResult::kFenced;
  const int64_t cap_at = SaturatingAddNs(slot->lease.attempt_start_ns, hard_cap_ns_);
  if (now_ns >= cap_at) return ProgressResult::kCapReached;
  Arm(offset, slot, std::min(SaturatingAddNs(now_ns, visibility_ns_), cap_at));
  TidyDeadlines();
  return ProgressResult::kExtended;
}

void LeaseTable::Release(uint64_t offset, int64_t now_ns) {
  Slot* slot = leases_.Find(offset);
  if (slot == nullptr) return;
  slot->lease.holder = kNoHolder;
  if (slot->lease.deadline_ns > now_ns) {
    Arm(offset, slot, now_ns);
    TidyDeadlines();
  }
}

void LeaseTable::Erase(uint64_t offset) {
  if (Slot* slot = leases_.Find(offset); slot != nullptr) {
    Disarm(slot);
    leases_.Erase(offset);
    TidyDeadlines();
  }
  carried_.erase(offset);
}

void LeaseTable::EraseBelow(uint64_t watermark) {
  leases_.EraseIf(
      [&](uint64_t, const Slot& slot) {
        if (slot.armed_seq != 0) armed_live_ -= 1;  // its heap entry is superseded with it
        return true;
      },
      watermark);
  carried_.erase(carried_.begin(), carried_.lower_bound(watermark));
  TidyDeadlines();
}

uint32_t LeaseTable::CarriedCount(uint64_t offset) const {
  auto it = carried_.find(offset);
  return it == carried_.end() ? 0 : it->second;
}

std::map<uint64_t, uint32_t> LeaseTable::AttemptSnapshot() const {
  std::map<uint64_t, uint32_t> out = carried_;
  leases_.ForEach([&](uint64_t offset, const Slot& slot) {
    uint32_t& count = out[offset];
    count = std::max(count, slot.lease.deliveries);
  });
  return out;
}

std::vector<uint64_t> LeaseTable::PopExpired(int64_t now_ns) {
  std::vector<uint64_t> out;
  // TidyDeadlines keeps the top live, so each popped top is live until the next pop.
  while (!armed_.empty() && armed_.front().deadline_ns <= now_ns) {
    const Armed top = armed_.front();
    std::pop_heap(armed_.begin(), armed_.end(), Later);
    armed_.pop_back();
    Slot* slot = leases_.Find(top.offset);
    slot->armed_seq = 0;
    armed_live_ -= 1;
    out.push_back(top.offset);
    TidyDeadlines();
  }
  return out;
}

int64_t LeaseTable::NextDeadline() const { return armed_.empty() ? kNoDeadline : armed_.front().deadline_ns; }

}  // namespace ironbus::queue
