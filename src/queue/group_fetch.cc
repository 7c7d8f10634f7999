// The delivery side of queue::Group: fetch passes, the per-poll scan of spec 4.1, the
// dead-letter move of spec 8.2 and the truncation jump of spec 12.4.
#include <algorithm>
#include <limits>

#include "base/log.h"
#include "format/record_format.h"
#include "queue/group.h"

namespace ironbus::queue {

// Reads records for one pass. The scan only moves upward inside a pass, so one batch read
// usually serves many polls; any offset outside the batch triggers a fresh Read.
class Group::RecordSource {
 public:
  // `position` carries where the group's last read stopped across passes, so the next pass
  // of a sequential drain starts there instead of seeking.
  RecordSource(const storage::Log* log, storage::ReadPosition* position) : log_(log), position_(position) {}

  // *rec = the record at `offset`; or null when the log has no record there (a hole recovery
  // stepped over, D1) and *hole_end is the next offset that may hold one.
  Status Get(uint64_t offset, const storage::LogRecord** rec, uint64_t* hole_end) {
    if (offset < start_ || offset >= next_) {
      auto batch = log_->Read(offset, kBatchRecords, kBatchBytes, position_);
      if (!batch.ok()) return batch.status();
      if (batch->next_offset <= offset) {
        return Status::Internal("log read at offset " + std::to_string(offset) + " made no progress");
      }
      Load(std::move(batch->records));
      start_ = offset;
      next_ = batch->next_offset;
    }
    auto it = std::lower_bound(batch_.begin(), batch_.end(), offset,
                               [](const storage::LogRecord& r, uint64_t o) { return r.offset < o; });
    if (it != batch_.end() && it->offset == offset) {
      if (taken_[it - batch_.begin()]) {
        // Its bytes were handed out by Take: read it again (a pass never asks twice today).
        start_ = next_ = 0;
        return Get(offset, rec, hole_end);
      }
      *rec = &*it;
      return Status::Ok();
    }
    *rec = nullptr;
    *hole_end = it != batch_.end() ? it->offset : next_;
    return Status::Ok();
  }

  // Moves the record Get just returned out of the batch, for its Delivery: the payload is
  // then copied once, into the Deliver frame, instead of once more into the window.
  format::Record Take(const storage::LogRecord* rec) {
    const size_t i = static_cast<size_t>(rec - batch_.data());
    taken_[i] = true;
    return std::move(batch_[i].record);
  }

 private:
  void Load(std::vector<storage::LogRecord> records) {
    batch_ = std::move(records);
    taken_.assign(batch_.size(), false);
  }

  // One read fills a whole delivery window at the credit the bench and the peers use (256),
  // still capped at 1 MiB of frames.
  static constexpr size_t kBatchRecords = 256;
  static constexpr uint64_t kBatchBytes = 1ull << 20;
  const storage::Log* log_;
  storage::ReadPosition* position_;
  std::vector<storage::LogRecord> batch_;
  std::vector<bool> taken_;  // taken_[i]: batch_[i].record was moved out by Take
  uint64_t start_ = 0;
  uint64_t next_ = 0;  // the batch covers [start_, next_)
};

Window Group::Fetch(uint64_t member_id, const FetchRequest& request, int64_t now_ns) {
  Touch(now_ns);
  Window w;
  auto m = members_.find(member_id);
  if (m == members_.end()) {
    w.error = CodedError(StatusCode::kFailedPrecondition, kErrNotSubscribed,
                         "member is not subscribed to group '" + name_ + "'");
    return w;
  }
  // A fetch pipelined behind one of the same member that is still waiting queues behind it
  // with no pass of its own: a pass now would take records before the waiting fetch, and the
  // connection answers them in the order they came. It waits at least as long as the one
  // ahead, so Tick completes a member's fetches in that order too. Without a wait it is
  // answered at once, empty.
  for (auto p = parked_.rbegin(); p != parked_.rend(); ++p) {
    if (p->member_id != member_id) continue;
    if (request.wait_until_ns > now_ns) {
      FetchRequest behind = request;
      behind.wait_until_ns = std::max(request.wait_until_ns, p->request.wait_until_ns);
      parked_.push_back(Parked{member_id, behind});
      w.parked = true;
    }
    return w;
  }
  bool had_budget = false;
  w = RunPass(m->second, request, now_ns, &had_budget);
  // Park only a fetch that could have taken something: a zero-credit hold answers at once.
  if (w.items.empty() && w.error.ok() && had_budget && request.wait_until_ns > now_ns) {
    parked_.push_back(Parked{member_id, request});
    w.parked = true;
  }
  return w;
}

Window Group::RunPass(Member& m, const FetchRequest& request, int64_t now_ns, bool* had_budget) {
  Window w;
  *had_budget = false;
  PruneHeld(m, now_ns);
  if (m.leased.size() >= m.credit) return w;  // zero-credit hold: FlowEnd 0, nothing dropped
  uint64_t budget = std::min<uint64_t>(request.max_records, m.credit - m.leased.size());
  uint64_t byte_cap = m.credit_bytes;
  if (request.max_bytes != 0) byte_cap = byte_cap == 0 ? request.max_bytes : std::min(byte_cap, request.max_bytes);
  if (budget == 0) return w;
  if (byte_cap != 0 && !m.leased.empty() && m.leased_bytes >= byte_cap) return w;
  *had_budget = true;
  // Delivery items are large: growing the vector item by item moved each one several times.
  w.items.reserve(std::min<uint64_t>(budget, kMaxItemsReserved));
  RecordSource source(env_.log, &read_position_);
  uint64_t scan_from = 0;
  while (budget > 0) {
    if (PollOne(m, now_ns, byte_cap, &scan_from, &source, &w) != Poll::kItem) break;
    --budget;
  }
  MaybeFlushAttempts();
  return w;
}

bool Group::MaybeTruncate(Window* out) {
  const uint64_t earliest = env_.log->first_offset();
  const uint64_t old = cursor_.committed();
  if (old >= earliest) return false;
  // The records below `earliest` are gone (drop_oldest reaped them): move up, forget every
  // lease and range below, and say so once (spec 4.1 step 2, 12.4).
  cursor_.CommitUpTo(earliest);
  OnCommitted();
  stats_.truncations += 1;
  stats_.truncated_records += earliest - old;
  out->items.push_back(TruncationNotice{earliest, earliest - old});
  logging::Warn("consumer.truncated", {{"group", name_},
                                       {"committed", old},
                                       {"earliest_retained", earliest},
                                       {"skipped", earliest - old},
                                       {"reason", "retention removed unconsumed records"}});
  return true;
}

Group::Poll Group::PollOne(Member& m, int64_t now_ns, uint64_t byte_cap, uint64_t* scan_from,
                           RecordSource* source, Window* out) {
  if (MaybeTruncate(out)) return Poll::kItem;
  const uint64_t head = env_.log->readable_offset();
  for (;;) {
    const uint64_t committed = cursor_.committed();
    const uint64_t window_end = std::min<uint64_t>(
        head, committed > std::numeric_limits<uint64_t>::max() - env_.options->max_in_flight
                  ? std::numeric_limits<uint64_t>::max()
                  : committed + env_.options->max_in_flight);
    const uint64_t o = cursor_.NextUnacked(std::max(*scan_from, committed));
    if (o >= window_end) return Poll::kIdle;
    if (!leases_.IsClaimable(o, now_ns)) {
      *scan_from = o + 1;
      continue;
    }
    const storage::LogRecord* rec = nullptr;
    uint64_t hole_end = 0;
    Status st = source->Get(o, &rec, &hole_end);
    if (!st.ok()) {
      // Retention can race a pass (force-reap under drop_oldest): report the gap instead.
      if (MaybeTruncate(out)) return Poll::kItem;
      out->error = st.WithContext(kErrStorage);
      return Poll::kError;
    }
    if (rec == nullptr) {
      // Offsets recovery could not keep (D1): consumers step over the hole.
      stats_.holes_skipped += hole_end - o;
      logging::Warn("consumer.hole_skipped",
                    {{"group", name_}, {"first_offset", o}, {"end_offset", hole_end}, {"skipped", hole_end - o}});
      const uint64_t before = cursor_.committed();
      cursor_.AckRange(o, hole_end);
      if (cursor_.committed() != before) OnCommitted();
      *scan_from = hole_end;
      continue;
    }
    const format::Record& record = rec->record;
    if (env_.dlq != nullptr && env_.dlq->Contains(name_, o, record)) {
      // Dead-lettered before a crash that came between the DLQ fdatasync and the source
      // commit (spec 8.2 step 1): never deliver it again, finish the move (step 3).
      *scan_from = o + 1;
      leases_.Erase(o);
      stats_.dead_lettered += 1;
      stats_.last_dead_lettered_offset = static_cast<int64_t>(o);
      CommitOffset(o);
      out->items.push_back(DeadLetterNotice{o, format::kDlqReasonMaxDeliver});
      logging::Warn("consumer.dead_lettered",
                    {{"group", name_}, {"offset", o}, {"reason", "max_deliver"}, {"resumed", true}});
      return Poll::kItem;
    }
    if (mode_ == GroupMode::kKeyShared && router_.Decide(record.key, o, m.id) != KeyRouter::Route::kDeliver) {
      *scan_from = o + 1;
      continue;
    }
    const uint64_t bytes = record.key.size() + record.headers.size() + record.payload.size();
    if (byte_cap != 0 && !m.leased.empty() && m.leased_bytes + bytes > byte_cap) return Poll::kBlocked;
    const LeaseTable::Claim claim = leases_.TryClaim(o, now_ns, m.id);
    if (claim.kind == LeaseTable::ClaimKind::kExhausted) {
      out->error = CodedError(StatusCode::kInternal, kErrGenerationExhausted,
                              "group '" + name_ + "' has used every lease generation");
      return Poll::kError;
    }
    *scan_from = o + 1;
    if (claim.kind == LeaseTable::ClaimKind::kInFlight) continue;  // IsClaimable said otherwise
    if (claim.previous_holder != kNoHolder) DropHeld(claim.previous_holder, o);
    if (claim.redelivery) redeliveries_since_flush_ += 1;
    const uint32_t max_deliver = env_.options->max_deliver;
    if (max_deliver != 0 && claim.deliveries > max_deliver) return DeadLetter(o, claim.deliveries, record, out);
    if (mode_ == GroupMode::kKeyShared) router_.MarkBusy(record.key, o);
    m.leased.Put(o, Held{claim.generation, bytes});
    m.leased_bytes += bytes;
    stats_.delivered += 1;
    if (claim.redelivery) stats_.redelivered += 1;
    out->items.push_back(Delivery{o, claim.generation, claim.deliveries, source->Take(rec)});
    out->delivered += 1;
    return Poll::kItem;
  }
}

Group::Poll Group::DeadLetter(uint64_t offset, uint32_t deliveries, const format::Record& record, Window* out) {
  if (env_.dlq == nullptr) {
    out->error = Status::Internal("group '" + name_ + "' has no dead-letter log");
    return Poll::kError;
  }
  // Step 2: append + fdatasync. On failure the move did not happen: nothing is committed,
  // the lease just granted stays (held by nobody) and the move is retried when it expires.
  Status st = env_.dlq->Append(name_, offset, deliveries, record);
  if (!st.ok()) {
    logging::Error("consumer.dead_letter_failed",
                   {{"group", name_}, {"offset", offset}, {"deliveries", deliveries}, {"error", st.message()}});
    out->error = st.WithContext(kErrStorage);
    return Poll::kError;
  }
  // Step 3: only now may the source cursor move past the message.
  leases_.Erase(offset);
  stats_.dead_lettered += 1;
  stats_.last_dead_lettered_offset = static_cast<int64_t>(offset);
  CommitOffset(offset);
  out->items.push_back(DeadLetterNotice{offset, format::kDlqReasonMaxDeliver});
  logging::Warn("consumer.dead_lettered", {{"group", name_},
                                           {"offset", offset},
                                           {"deliveries", deliveries},
                                           {"max_deliver", env_.options->max_deliver},
                                           {"reason", "max_deliver"}});
  return Poll::kItem;
}

}  // namespace ironbus::queue
