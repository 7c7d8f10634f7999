#include "queue/group.h"

#include <algorithm>
#include <utility>

#include "base/crash_point.h"

namespace ironbus::queue {

Group::Group(const Env& env, std::string name, GroupMode mode)
    : env_(env),
      name_(std::move(name)),
      mode_(mode),
      cursor_(0, env.options->max_ahead_runs),
      leases_(MsToNs(env.options->visibility_timeout_ms), MsToNs(env.options->hard_cap_ms)) {}

Result<std::unique_ptr<Group>> Group::Open(const Env& env, std::string name, GroupMode mode) {
  std::unique_ptr<Group> g(new Group(env, std::move(name), mode));
  ASSIGN_OR_RETURN(g->checkpoint_, GroupCheckpoint::Open(env.fs, env.data_dir, g->name_));
  const uint64_t head = env.log->readable_offset();
  GroupCheckpoint::Loaded loaded = g->checkpoint_->Load(head, env.options->max_ahead_runs);
  g->cursor_ = std::move(loaded.cursor);
  g->attempts_nonempty_on_disk_ = !loaded.carried.empty();
  g->leases_.SetCarried(std::move(loaded.carried));
  g->committed_mirror_.store(g->cursor_.committed(), std::memory_order_relaxed);
  g->last_head_ = head;
  if (env.dlq != nullptr) env.dlq->PruneBelow(g->name_, g->cursor_.committed());
  if (loaded.needs_rewrite) {
    // Before anything is served, so no record can reuse an offset the old files still name.
    // attempts_nonempty_on_disk_ is forced so an empty map still replaces stale counts.
    g->attempts_nonempty_on_disk_ = true;
    Status st = g->WriteCursorAndAttempts();
    if (!st.ok()) return st.WithContext("rewriting the clamped checkpoint of group '" + g->name_ + "'");
  }
  return g;
}

Status Group::SetMode(GroupMode mode) {
  if (mode == mode_) return Status::Ok();
  if (mode == GroupMode::kBroadcast) {
    if (name_.empty()) {
      return CodedError(StatusCode::kInvalidArgument, kErrBroadcastGroupNotNamed,
                        "the default group cannot be a broadcast group");
    }
    if (mode_ == GroupMode::kKeyShared) {
      return Status::InvalidArgument("group '" + name_ + "' is key_shared; it cannot also be broadcast");
    }
    if (leases_.size() != 0 || cursor_.ahead_run_count() != 0 || members_.size() > 1) {
      return CodedError(StatusCode::kFailedPrecondition, kErrBroadcastGroupBusy,
                        "group '" + name_ + "' has leases, acked-ahead ranges or several subscribers");
    }
  } else if (mode == GroupMode::kKeyShared) {
    if (mode_ == GroupMode::kBroadcast) {
      return Status::InvalidArgument("group '" + name_ + "' is broadcast; it cannot also be key_shared");
    }
    for (const auto& [id, m] : members_) router_.Join(id);
  } else {
    router_ = KeyRouter();
  }
  mode_ = mode;
  dirty_ = true;
  return Status::Ok();
}

Status Group::Join(uint64_t member_id, const MemberOptions& options) {
  if (mode_ == GroupMode::kBroadcast && !members_.empty() && members_.count(member_id) == 0) {
    return CodedError(StatusCode::kFailedPrecondition, kErrBroadcastGroupBusy,
                      "broadcast group '" + name_ + "' already has a subscriber");
  }
  Member& m = members_[member_id];
  m.id = member_id;
  m.credit = std::max<uint32_t>(options.credit, 1);  // consumer_credit 0 -> 1
  m.credit_bytes = options.credit_bytes;
  if (mode_ == GroupMode::kKeyShared) router_.Join(member_id);
  dirty_ = true;
  return Status::Ok();
}

Status Group::Leave(uint64_t member_id, int64_t now_ns, bool clean) {
  Touch(now_ns);
  auto it = members_.find(member_id);
  if (it != members_.end()) {
    it->second.leased.ForEach([&](uint64_t offset, const Held& held) {
      const Lease* lease = leases_.Find(offset);
      if (lease != nullptr && lease->generation == held.generation && lease->holder == member_id) {
        leases_.Release(offset, now_ns);
      }
    });
    members_.erase(it);
    router_.Leave(member_id);
    parked_.erase(std::remove_if(parked_.begin(), parked_.end(),
                                 [&](const Parked& p) { return p.member_id == member_id; }),
                  parked_.end());
    dirty_ = true;
  }
  if (!clean) return Status::Ok();
  Status st = WriteCursorAndAttempts();
  NoteCheckpointError(st);
  return st;
}

size_t Group::held_by(uint64_t member_id) const {
  auto it = members_.find(member_id);
  return it == members_.end() ? 0 : it->second.leased.size();
}

size_t Group::held_storage_by(uint64_t member_id) const {
  auto it = members_.find(member_id);
  return it == members_.end() ? 0 : it->second.leased.capacity();
}

void Group::PruneHeld(Member& m, int64_t now_ns) {
  m.leased.EraseIf([&](uint64_t offset, const Held& held) {
    const Lease* lease = leases_.Find(offset);
    // Settled, re-granted elsewhere, or at/past its deadline: this connection no longer holds
    // it, and its credit comes back now (spec 4.2 step 1).
    if (lease == nullptr || lease->generation != held.generation || now_ns >= lease->deadline_ns ||
        cursor_.IsAcked(offset)) {
      m.leased_bytes -= held.bytes;
      return true;
    }
    return false;
  });
}

void Group::DropHeld(uint64_t member_id, uint64_t offset) {
  auto m = members_.find(member_id);
  if (m == members_.end()) return;
  const Held* held = m->second.leased.Find(offset);
  if (held == nullptr) return;
  m->second.leased_bytes -= held->bytes;
  m->second.leased.Erase(offset);
}

void Group::DropHeldBelow(uint64_t watermark) {
  for (auto& entry : members_) {
    Member& m = entry.second;  // not a structured binding: clang 14 cannot capture one
    m.leased.EraseIf(
        [&](uint64_t, const Held& held) {
          m.leased_bytes -= held.bytes;
          return true;
        },
        watermark);
  }
}

AckStatus Group::Settle(uint64_t member_id, AckOp op, uint64_t offset, uint64_t generation, uint64_t delay_ms,
                        int64_t now_ns) {
  Touch(now_ns);
  auto mit = members_.find(member_id);
  if (mit == members_.end()) return AckStatus::kFenced;
  const Held* held = mit->second.leased.Find(offset);
  // Connection scoping (spec 5.4): only a token this member was handed, and still holds.
  if (held == nullptr || held->generation != generation) return AckStatus::kFenced;
  dirty_ = true;
  switch (op) {
    case AckOp::kAck:
    case AckOp::kTerm: {
      DropHeld(member_id, offset);
      if (!leases_.Settle(offset, generation)) return AckStatus::kFenced;
      stats_.acks += 1;
      return CommitOffset(offset) ? AckStatus::kOk : AckStatus::kFenced;
    }
    case AckOp::kNack: {
      DropHeld(member_id, offset);
      const Lease* lease = leases_.Find(offset);
      const uint32_t attempt = lease != nullptr ? lease->deliveries : 1;
      const int64_t delay = delay_ms == kNackUseBackoff ? BackoffNs(attempt) : MsToNs(delay_ms);
      if (!leases_.Nack(offset, generation, now_ns, delay)) return AckStatus::kFenced;
      stats_.nacks += 1;
      return AckStatus::kOk;
    }
    case AckOp::kProgress: {
      switch (leases_.Progress(offset, generation, now_ns)) {
        case LeaseTable::ProgressResult::kExtended:
          return AckStatus::kOk;
        case LeaseTable::ProgressResult::kCapReached:
          return AckStatus::kCapReached;
        case LeaseTable::ProgressResult::kFenced:
          DropHeld(member_id, offset);
          return AckStatus::kFenced;
      }
    }
  }
  return AckStatus::kFenced;
}

int64_t Group::BackoffNs(uint32_t attempt) const {
  const std::vector<uint64_t>& schedule = env_.options->backoff_ms;
  if (schedule.empty()) return 0;
  const size_t index = std::min<size_t>(std::max<uint32_t>(attempt, 1) - 1, schedule.size() - 1);
  return MsToNs(schedule[index]);
}

bool Group::CommitOffset(uint64_t offset) {
  const Cursor::AckOutcome outcome = cursor_.Ack(offset);
  // Refused only by the max_ahead_runs cap: the offset stays unacked and redelivers (a
  // bounded duplicate, never a loss).
  if (outcome == Cursor::AckOutcome::kRefused) return false;
  router_.Clear(offset);
  leases_.Erase(offset);
  if (outcome == Cursor::AckOutcome::kAdvanced) OnCommitted();
  return true;
}

void Group::OnCommitted() {
  const uint64_t c = cursor_.committed();
  leases_.EraseBelow(c);
  router_.ClearBelow(c);
  DropHeldBelow(c);
  if (env_.dlq != nullptr) env_.dlq->PruneBelow(name_, c);
  committed_mirror_.store(c, std::memory_order_relaxed);
  const uint64_t interval = std::max<uint64_t>(env_.options->checkpoint_interval, 1);
  if (c - std::min(c, checkpoint_->last_written_committed()) >= interval) NoteCheckpointError(WriteCursorAndAttempts());
}

Status Group::WriteCursorAndAttempts() {
  Status st = checkpoint_->WriteCursor(cursor_);
  if (st.ok()) stats_.checkpoint_writes += 1;
  // The cursor is durable, the attempt counts are one write behind: a restart must drop the
  // stale counts of offsets the new cursor covers.
  CRASH_POINT("group.after_cursor_before_attempts");
  const AttemptMap attempts = leases_.AttemptSnapshot();
  // An empty map over an absent or empty file changes nothing: skip the 32 KiB write.
  if (attempts.empty() && !attempts_nonempty_on_disk_) return st;
  Status at = checkpoint_->WriteAttempts(attempts);
  if (at.ok()) {
    stats_.attempts_writes += 1;
    attempts_nonempty_on_disk_ = !attempts.empty();
    redeliveries_since_flush_ = 0;
  }
  return st.ok() ? at : st;
}

void Group::MaybeFlushAttempts() {
  const uint32_t trigger = env_.options->attempts_flush_redeliveries;
  if (trigger == 0 || redeliveries_since_flush_ < trigger) return;
  const AttemptMap attempts = leases_.AttemptSnapshot();
  if (attempts.empty() && !attempts_nonempty_on_disk_) {
    redeliveries_since_flush_ = 0;  // nothing to protect: the redelivered offsets settled
    return;
  }
  Status st = checkpoint_->WriteAttempts(attempts);
  if (st.ok()) {
    stats_.attempts_writes += 1;
    attempts_nonempty_on_disk_ = !attempts.empty();
    redeliveries_since_flush_ = 0;
  }
  NoteCheckpointError(st);
}

void Group::NoteCheckpointError(const Status& s) {
  if (s.ok()) return;
  stats_.checkpoint_failures += 1;
  stats_.last_checkpoint_error = s;
}

Status Group::Checkpoint() {
  Status st = WriteCursorAndAttempts();
  NoteCheckpointError(st);
  return st;
}

Status Group::CumulativeAck(uint64_t up_to, int64_t now_ns) {
  Touch(now_ns);
  if (mode_ != GroupMode::kBroadcast) {
    return CodedError(StatusCode::kFailedPrecondition, kErrCumulativeAckNotAllowed,
                      "group '" + name_ + "' is not a broadcast group");
  }
  const uint64_t head = env_.log->readable_offset();
  const uint64_t earliest = env_.log->first_offset();
  if (up_to > head || up_to < earliest) {
    return CodedError(StatusCode::kOutOfRange, kErrCumulativeAckOutOfRange,
                      "up_to " + std::to_string(up_to) + " outside [" + std::to_string(earliest) + ", " +
                          std::to_string(head) + "]");
  }
  if (up_to <= cursor_.committed()) return Status::Ok();  // idempotent, never backwards
  cursor_.CommitUpTo(up_to);
  OnCommitted();  // releases every lease, carried count and held entry below the watermark
  dirty_ = true;
  return Status::Ok();
}

std::vector<CompletedFetch> Group::Tick(int64_t now_ns) {
  std::vector<CompletedFetch> out;
  if (!leases_.PopExpired(now_ns).empty()) dirty_ = true;
  const uint64_t head = env_.log->readable_offset();
  if (head != last_head_) {
    last_head_ = head;
    dirty_ = true;
  }
  const bool run = dirty_;
  dirty_ = false;
  // Members with an earlier fetch still parked: their later ones wait behind it (Fetch).
  std::vector<uint64_t> blocked;
  for (auto it = parked_.begin(); it != parked_.end();) {
    auto m = members_.find(it->member_id);
    if (m == members_.end()) {
      it = parked_.erase(it);
      continue;
    }
    if (std::find(blocked.begin(), blocked.end(), it->member_id) != blocked.end()) {
      ++it;
      continue;
    }
    Window w;
    bool had_budget = false;
    if (run) w = RunPass(m->second, it->request, now_ns, &had_budget);
    if (!w.items.empty() || !w.error.ok() || now_ns >= it->request.wait_until_ns) {
      out.push_back(CompletedFetch{it->member_id, std::move(w)});
      it = parked_.erase(it);
    } else {
      blocked.push_back(it->member_id);
      ++it;
    }
  }
  return out;
}

int64_t Group::NextDeadline() const {
  int64_t next = leases_.NextDeadline();
  for (const Parked& p : parked_) next = std::min(next, p.request.wait_until_ns);
  return next;
}

bool Group::EvictableAt(int64_t now_ns, int64_t idle_ns) {
  // The default group is never evicted; a key_shared group keeps its key routes in memory only.
  if (name_.empty() || mode_ == GroupMode::kKeyShared) return false;
  if (!members_.empty() || leases_.size() != 0 || !parked_.empty() || cursor_.ahead_run_count() != 0) return false;
  if (cursor_.committed() < env_.log->readable_offset()) return false;  // not caught up
  if (last_activity_ns_ < 0) {
    last_activity_ns_ = now_ns;  // loaded at open and untouched since: idle from now
    return false;
  }
  return now_ns - last_activity_ns_ >= idle_ns;
}

GroupStats Group::stats() const {
  GroupStats s = stats_;
  s.mode = mode_;
  s.committed = cursor_.committed();
  s.ahead_runs = cursor_.ahead_run_count();
  s.leases = leases_.size();
  s.members = members_.size();
  return s;
}

}  // namespace ironbus::queue
