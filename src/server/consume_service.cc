#include "server/consume_service.h"

#include <algorithm>
#include <exception>
#include <unordered_set>

#include "base/log.h"

namespace ironbus::server {
namespace {

queue::Window EmptyWindow() { return queue::Window{}; }

}  // namespace

ConsumeService::ConsumeService(queue::Groups* groups, Clock* clock, std::function<void(std::string_view)> log_line)
    : groups_(groups), clock_(clock), log_line_(std::move(log_line)) {}

ConsumeService::~ConsumeService() { Stop(); }

void ConsumeService::Start() {
  if (started_) return;
  started_ = true;
  work_.emplace(io_.get_executor());
  if (groups_->options().group_idle_evict_ms > 0) Run([this] { ArmEvictSweep(); });
  thread_ = std::thread([this] {
    for (;;) {
      try {
        io_.run();
        return;
      } catch (const std::exception& e) {
        // A Group call that throws (allocation failure) loses that one request; the queue
        // thread keeps serving everyone else.
        logging::LogTo(log_line_, logging::Level::kError, "consume.thread_error", {{"error", e.what()}});
      }
    }
  });
}

void ConsumeService::Stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  Run([this] {
    stopping_ = true;
    for (auto& [id, state] : members_) {
      AnswerAllParked(state);
    }
    if (Status s = groups_->CheckpointAll(); !s.ok()) {
      logging::LogTo(log_line_, logging::Level::kError, "consume.checkpoint_failed",
                     {{"group", "*"}, {"when", "stop"}, {"error", s.message()}});
    }
    timer_.cancel();
    evict_timer_.cancel();
    work_.reset();
  });
  thread_.join();
}

ConsumeStats ConsumeService::stats() const {
  return ConsumeStats{fetches_.load(), delivered_.load(), settles_.load(), parked_now_.load(), groups_evicted_.load()};
}

Status ConsumeService::SwitchTo(uint64_t member, std::string_view group, const queue::MemberOptions& credit) {
  ASSIGN_OR_RETURN(queue::Group * next, groups_->GetOrCreate(group));
  MemberState& state = members_[member];
  queue::Group* const previous = state.group;
  // Join first: a refused join leaves the old subscription in place (spec 8.1).
  RETURN_IF_ERROR(next->Join(member, credit));
  if (previous == next) return Status::Ok();
  if (previous != nullptr) {
    AnswerAllParked(state);
    Status left = previous->Leave(member, Now(), /*clean=*/true);
    if (!left.ok()) {
      logging::LogTo(log_line_, logging::Level::kError, "consume.checkpoint_failed",
                     {{"group", previous->name()}, {"when", "leave"}, {"error", left.message()}});
    }
    TickGroup(previous);  // released leases may complete someone else's parked fetch
  }
  state.group = next;
  return Status::Ok();
}

Result<queue::Group*> ConsumeService::GroupOf(uint64_t member, const queue::MemberOptions& credit) {
  auto it = members_.find(member);
  if (it != members_.end() && it->second.group != nullptr) return it->second.group;
  // A connection that never subscribed consumes the default group (spec 8.1).
  RETURN_IF_ERROR(SwitchTo(member, "", credit));
  return members_[member].group;
}

void ConsumeService::Subscribe(uint64_t member, std::string group, queue::MemberOptions credit, StatusHandler done) {
  Run([this, member, group = std::move(group), credit, done = std::move(done)] { done(SwitchTo(member, group, credit)); });
}

void ConsumeService::Unsubscribe(uint64_t member, queue::MemberOptions credit, StatusHandler done) {
  Run([this, member, credit, done = std::move(done)] { done(SwitchTo(member, "", credit)); });
}

void ConsumeService::Fetch(uint64_t member, queue::MemberOptions credit, uint32_t max_records, uint64_t max_bytes,
                           uint64_t wait_ms, WindowHandler done) {
  Run([this, member, credit, max_records, max_bytes, wait_ms, done = std::move(done)]() mutable {
    fetches_++;
    auto group = GroupOf(member, credit);
    if (!group.ok()) {
      queue::Window w;
      w.error = group.status();
      done(std::move(w));
      return;
    }
    queue::Group* g = *group;
    const int64_t now = Now();
    queue::FetchRequest request;
    request.max_records = max_records;
    request.max_bytes = max_bytes;
    if (wait_ms > 0 && !stopping_) {
      const uint64_t wait_ns = std::min<uint64_t>(wait_ms, 24ull * 3600 * 1000) * 1'000'000;
      request.wait_until_ns = now + static_cast<int64_t>(wait_ns);
    }
    queue::Window w = g->Fetch(member, request, now);
    if (w.parked) {
      MemberState& state = members_[member];
      state.parked.push_back(std::move(done));
      parked_now_++;
      ArmTimer(g->NextDeadline());
      return;
    }
    delivered_ += w.delivered;
    done(std::move(w));
    TickGroup(g);
  });
}

void ConsumeService::Settle(uint64_t member, queue::AckOp op, uint64_t offset, uint64_t generation, uint64_t delay_ms,
                            SettleHandler done) {
  Run([this, member, op, offset, generation, delay_ms, done = std::move(done)] {
    settles_++;
    auto it = members_.find(member);
    if (it == members_.end() || it->second.group == nullptr) {
      done(queue::AckStatus::kFenced);  // never delivered anything to this connection
      return;
    }
    queue::Group* g = it->second.group;
    done(g->Settle(member, op, offset, generation, delay_ms, Now()));
    TickGroup(g);
  });
}

void ConsumeService::CumulativeAck(std::string group, uint64_t up_to, StatusHandler done) {
  Run([this, group = std::move(group), up_to, done = std::move(done)] {
    queue::Group* g = groups_->Find(group);
    if (g == nullptr) {
      const auto& declared = groups_->options().broadcast_groups;
      if (std::find(declared.begin(), declared.end(), group) == declared.end()) {
        done(queue::CodedError(StatusCode::kFailedPrecondition, queue::kErrCumulativeAckNotAllowed,
                               "group '" + group + "' is not a broadcast group"));
        return;
      }
      auto created = groups_->GetOrCreate(group);
      if (!created.ok()) {
        done(created.status());
        return;
      }
      g = *created;
    }
    done(g->CumulativeAck(up_to, Now()));
    TickGroup(g);
  });
}

void ConsumeService::SnapshotGroupStats(GroupStatsHandler done) {
  if (stopped_) return;
  Run([this, done = std::move(done)] {
    std::vector<std::pair<std::string, queue::GroupStats>> out;
    for (std::string& name : groups_->names()) {
      if (const queue::Group* g = groups_->Find(name)) out.emplace_back(std::move(name), g->stats());
    }
    done(std::move(out));
  });
}

void ConsumeService::Disconnect(uint64_t member) {
  if (stopped_) return;
  Run([this, member] {
    auto it = members_.find(member);
    if (it == members_.end()) return;
    queue::Group* g = it->second.group;
    AnswerAllParked(it->second);
    members_.erase(it);
    if (g == nullptr) return;
    // Leases are released at once (they keep their delivery counts) and the cursor is written.
    Status left = g->Leave(member, Now(), /*clean=*/true);
    if (!left.ok()) {
      logging::LogTo(log_line_, logging::Level::kError, "consume.checkpoint_failed",
                     {{"group", g->name()}, {"when", "disconnect"}, {"error", left.message()}});
    }
    TickGroup(g);
  });
}

void ConsumeService::NotifyAppended() {
  if (stopped_ || append_tick_posted_.exchange(true)) return;  // one wake-up in flight is enough
  Run([this] {
    append_tick_posted_ = false;
    // Only a parked fetch cares that the head moved; the next poll sees it anyway.
    for (const std::string& name : groups_->names()) {
      queue::Group* g = groups_->Find(name);
      if (g != nullptr && g->has_parked_fetches()) TickGroup(g);
    }
  });
}

void ConsumeService::AnswerParked(MemberState& state, queue::Window window) {
  WindowHandler done = std::move(state.parked.front());
  state.parked.pop_front();
  parked_now_--;
  delivered_ += window.delivered;
  done(std::move(window));
}

void ConsumeService::AnswerAllParked(MemberState& state) {
  while (!state.parked.empty()) AnswerParked(state, EmptyWindow());
}

void ConsumeService::TickGroup(queue::Group* g) {
  if (g->has_parked_fetches()) {
    for (queue::CompletedFetch& c : g->Tick(Now())) {
      auto it = members_.find(c.member_id);
      if (it != members_.end() && !it->second.parked.empty()) AnswerParked(it->second, std::move(c.window));
    }
  }
  ArmTimer(g->NextDeadline());
}

void ConsumeService::TickAll() {
  const int64_t now = Now();
  int64_t next = queue::kNoDeadline;
  for (const std::string& name : groups_->names()) {
    queue::Group* g = groups_->Find(name);
    if (g == nullptr) continue;
    // Tick also expires leases nobody waits for, so their claims are exact at the deadline.
    for (queue::CompletedFetch& c : g->Tick(now)) {
      auto it = members_.find(c.member_id);
      if (it != members_.end() && !it->second.parked.empty()) AnswerParked(it->second, std::move(c.window));
    }
    next = std::min(next, g->NextDeadline());
  }
  ArmTimer(next);
}

void ConsumeService::ArmTimer(int64_t deadline_ns) {
  if (stopping_ || deadline_ns == queue::kNoDeadline || deadline_ns >= timer_deadline_ns_) return;
  timer_deadline_ns_ = deadline_ns;
  const int64_t delay = std::max<int64_t>(0, deadline_ns - Now());
  timer_.expires_after(std::chrono::nanoseconds(delay));
  timer_.async_wait([this, deadline_ns](const asio::error_code& ec) {
    // A re-arm cancels this wait; only the wait for the current deadline runs the tick.
    if (ec == asio::error::operation_aborted || deadline_ns != timer_deadline_ns_) return;
    timer_deadline_ns_ = queue::kNoDeadline;
    TickAll();
  });
}

void ConsumeService::ArmEvictSweep() {
  if (stopping_) return;
  const uint64_t window_ms = groups_->options().group_idle_evict_ms;
  const uint64_t period_ms = std::clamp<uint64_t>(window_ms / 2, 10, 1000);
  evict_timer_.expires_after(std::chrono::milliseconds(period_ms));
  evict_timer_.async_wait([this](const asio::error_code& ec) {
    if (ec == asio::error::operation_aborted || stopping_) return;
    EvictIdleGroups();
    ArmEvictSweep();
  });
}

void ConsumeService::EvictIdleGroups() {
  // A group some connection is subscribed to holds members (not evictable anyway) and its
  // Group* sits in members_: never hand it to eviction.
  std::unordered_set<const queue::Group*> in_use;
  for (const auto& [id, state] : members_) in_use.insert(state.group);
  const int64_t now = Now();
  for (const std::string& name : groups_->names()) {
    const queue::Group* g = groups_->Find(name);
    if (g == nullptr || in_use.count(g) != 0) continue;
    const uint64_t committed = g->committed();
    Result<bool> evicted = groups_->EvictIfIdle(name, now);
    if (!evicted.ok()) {
      logging::LogTo(log_line_, logging::Level::kWarn, "group.evict_failed",
                     {{"group", name}, {"error", evicted.status().message()}});
    } else if (*evicted) {
      groups_evicted_++;
      logging::LogTo(log_line_, logging::Level::kInfo, "group.evicted",
                     {{"group", name},
                      {"committed", committed},
                      {"idle_ms", groups_->options().group_idle_evict_ms},
                      {"msg", "idle group dropped from memory; its checkpoint stays and a later Sub resumes from it"}});
    }
  }
}

}  // namespace ironbus::server
