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
  auto it = leases_.find(offset);
  // The deadline itself belongs to expiry: at now == deadline the lease is no longer in flight.
  return it == leases_.end() || now_ns >= it->second.deadline_ns;
}

bool LeaseTable::MintGeneration(uint64_t* out) {
  // Never reuse a generation: refuse the last value rather than wrap (ERR_GENERATION_EXHAUSTED).
  if (next_generation_ == std::numeric_limits<uint64_t>::max()) return false;
  *out = next_generation_++;
  return true;
}

void LeaseTable::Arm(uint64_t offset, Lease* lease, int64_t deadline_ns) {
  Disarm(offset, *lease);
  lease->deadline_ns = deadline_ns;
  armed_.emplace(deadline_ns, offset);
}

void LeaseTable::Disarm(uint64_t offset, const Lease& lease) { armed_.erase({lease.deadline_ns, offset}); }

LeaseTable::Claim LeaseTable::TryClaim(uint64_t offset, int64_t now_ns, uint64_t holder) {
  Claim c;
  auto it = leases_.find(offset);
  if (it != leases_.end() && now_ns < it->second.deadline_ns) return c;  // kInFlight
  uint64_t generation = 0;
  if (!MintGeneration(&generation)) {
    c.kind = ClaimKind::kExhausted;
    return c;
  }
  const int64_t deadline = SaturatingAddNs(now_ns, std::min(visibility_ns_, hard_cap_ns_));
  if (it == leases_.end()) {
    Lease lease;
    lease.deliveries = 1;
    if (auto carried = carried_.find(offset); carried != carried_.end()) {
      // Resumed after a restart: continue the persisted count (spec 7.3).
      lease.deliveries = carried->second == UINT32_MAX ? UINT32_MAX : carried->second + 1;
      carried_.erase(carried);
    }
    it = leases_.emplace(offset, lease).first;
  } else {
    c.previous_holder = it->second.holder;
    if (it->second.deliveries != UINT32_MAX) it->second.deliveries += 1;
  }
  Lease& lease = it->second;
  lease.generation = generation;
  lease.attempt_start_ns = now_ns;
  lease.holder = holder;
  Arm(offset, &lease, deadline);
  c.kind = ClaimKind::kGranted;
  c.generation = generation;
  c.deliveries = lease.deliveries;
  c.redelivery = lease.deliveries >= 2;
  return c;
}

const Lease* LeaseTable::Find(uint64_t offset) const {
  auto it = leases_.find(offset);
  return it == leases_.end() ? nullptr : &it->second;
}

bool LeaseTable::Settle(uint64_t offset, uint64_t generation) {
  auto it = leases_.find(offset);
  if (it == leases_.end() || it->second.generation != generation) return false;
  Disarm(offset, it->second);
  leases_.erase(it);
  carried_.erase(offset);
  return true;
}

bool LeaseTable::Nack(uint64_t offset, uint64_t generation, int64_t now_ns, int64_t delay_ns) {
  auto it = leases_.find(offset);
  if (it == leases_.end() || it->second.generation != generation) return false;
  uint64_t fresh = 0;
  if (!MintGeneration(&fresh)) return false;
  it->second.generation = fresh;  // fences the nacker: its token is now stale
  it->second.holder = kNoHolder;
  // Not clamped to the hard cap: the delay schedules the next attempt, not this one.
  Arm(offset, &it->second, SaturatingAddNs(now_ns, delay_ns));
  return true;
}

LeaseTable::ProgressResult LeaseTable::Progress(uint64_t offset, uint64_t generation, int64_t now_ns) {
  auto it = leases_.find(offset);
  if (it == leases_.end() || it->second.generation != generation) return ProgressResult::kFenced;
  const int64_t cap_at = SaturatingAddNs(it->second.attempt_start_ns, hard_cap_ns_);
  if (now_ns >= cap_at) return ProgressResult::kCapReached;
  Arm(offset, &it->second, std::min(SaturatingAddNs(now_ns, visibility_ns_), cap_at));
  return ProgressResult::kExtended;
}

void LeaseTable::Release(uint64_t offset, int64_t now_ns) {
  auto it = leases_.find(offset);
  if (it == leases_.end()) return;
  it->second.holder = kNoHolder;
  if (it->second.deadline_ns > now_ns) Arm(offset, &it->second, now_ns);
}

void LeaseTable::Erase(uint64_t offset) {
  auto it = leases_.find(offset);
  if (it != leases_.end()) {
    Disarm(offset, it->second);
    leases_.erase(it);
  }
  carried_.erase(offset);
}

void LeaseTable::EraseBelow(uint64_t watermark) {
  for (auto it = leases_.begin(); it != leases_.end() && it->first < watermark;) {
    Disarm(it->first, it->second);
    it = leases_.erase(it);
  }
  carried_.erase(carried_.begin(), carried_.lower_bound(watermark));
}

uint32_t LeaseTable::CarriedCount(uint64_t offset) const {
  auto it = carried_.find(offset);
  return it == carried_.end() ? 0 : it->second;
}

std::map<uint64_t, uint32_t> LeaseTable::AttemptSnapshot() const {
  std::map<uint64_t, uint32_t> out = carried_;
  for (const auto& [offset, lease] : leases_) {
    uint32_t& slot = out[offset];
    slot = std::max(slot, lease.deliveries);
  }
  return out;
}

std::vector<uint64_t> LeaseTable::PopExpired(int64_t now_ns) {
  std::vector<uint64_t> out;
  while (!armed_.empty() && armed_.begin()->first <= now_ns) {
    out.push_back(armed_.begin()->second);
    armed_.erase(armed_.begin());
  }
  return out;
}

int64_t LeaseTable::NextDeadline() const { return armed_.empty() ? kNoDeadline : armed_.begin()->first; }

}  // namespace ironbus::queue
