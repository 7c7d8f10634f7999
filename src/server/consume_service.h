// ConsumeService: the broker's consumer side (spec/protocol.md 8, spec/consumers.md; DESIGN.md
// section 2). It runs every queue::Group call on one dedicated queue thread, so
//   - no storage work (log reads, checkpoint writes, the DLQ append and its fdatasync) ever
//     runs on an io thread, and
//   - every Group (single-threaded by contract) is serialized without a lock.
// Sessions call in from their strands; each call is posted to the queue thread and its result
// handed to a callback there, which the session posts back to its own strand.
//
// Members are connections (the session id). A connection belongs to one group at a time: the
// default group "" until it subscribes. Subscribe joins the new group before leaving the old
// one, so a refused join (ERR_BROADCAST_GROUP_BUSY, a bad name, the group cap) keeps the old
// subscription. Leaving (a switch, Unsub, the connection closing) releases the member's leases
// at once and answers its parked fetches with empty windows.
//
// Timers: one steady timer on the queue thread, armed at the earliest NextDeadline() of any
// group, runs Tick() there, so a redelivery (lease expiry, nack backoff end) reaches a consumer
// that is waiting in a long-poll at its deadline and not at its next poll. NotifyAppended() (the
// appender's on_appended hook) ticks the groups with parked fetches when the readable head moves.
//
// Idle eviction (QueueOptions::group_idle_evict_ms > 0): a periodic sweep on the queue thread
// hands every group no member belongs to to Groups::EvictIfIdle; a later Sub reloads it.
//
// Stop(): no fetch parks from then on; parked fetches are answered empty; every group writes
// its cursor and attempts checkpoints; the thread is joined. The Broker calls it after its
// sessions drained, so every ack they sent is applied before the cursors are flushed.
//
// Thread safety: every public method may be called from any thread. Callbacks run on the
// queue thread and must only post elsewhere. `groups` must outlive the service.
#pragma once

#include <asio.hpp>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "queue/group.h"
#include "queue/groups.h"

namespace ironbus::server {

struct ConsumeStats {
  uint64_t fetches = 0;
  uint64_t delivered = 0;
  uint64_t settles = 0;
  uint64_t parked_now = 0;
  uint64_t groups_evicted = 0;  // idle groups dropped from memory (group_idle_evict_ms)
};

class ConsumeService {
 public:
  using StatusHandler = std::function<void(Status)>;
  using WindowHandler = std::function<void(queue::Window)>;
  using SettleHandler = std::function<void(queue::AckStatus)>;

  ConsumeService(queue::Groups* groups, Clock* clock, std::function<void(std::string_view)> log_line);
  ~ConsumeService();  // Stop()
  ConsumeService(const ConsumeService&) = delete;
  ConsumeService& operator=(const ConsumeService&) = delete;

  void Start();
  void Stop();

  // Sub (empty name = the default group). The handler gets Ok or the coded queue error.
  void Subscribe(uint64_t member, std::string group, queue::MemberOptions credit, StatusHandler done);
  // Unsub: back to the default group.
  void Unsubscribe(uint64_t member, queue::MemberOptions credit, StatusHandler done);
  // Flow/Fetch on the member's group (the default group when it never subscribed). `wait_ms`
  // > 0 parks an empty window for up to that long (long-poll). `done` runs exactly once.
  void Fetch(uint64_t member, queue::MemberOptions credit, uint32_t max_records, uint64_t max_bytes, uint64_t wait_ms,
             WindowHandler done);
  // Ack/Nack/Term/Progress on the member's group; fenced when it holds no such lease.
  void Settle(uint64_t member, queue::AckOp op, uint64_t offset, uint64_t generation, uint64_t delay_ms,
              SettleHandler done);
  // CumulativeAck of a broadcast group, by any connection.
  void CumulativeAck(std::string group, uint64_t up_to, StatusHandler done);
  // The connection closed: leave its group (leases released, checkpoints written).
  void Disconnect(uint64_t member);
  // The readable head may have moved (appender thread).
  void NotifyAppended();

  ConsumeStats stats() const;
  // Every group's name and stats (the default group is ""), read on the queue thread, where
  // `done` runs. Never called when the service is stopped (the caller's wait times out).
  using GroupStatsHandler = std::function<void(std::vector<std::pair<std::string, queue::GroupStats>>)>;
  void SnapshotGroupStats(GroupStatsHandler done);

 private:
  struct MemberState {
    queue::Group* group = nullptr;
    // The member's long-poll fetches that wait, oldest first (a pipelining client may have
    // several; queue::Group completes them in this order).
    std::deque<WindowHandler> parked;
  };

  int64_t Now() const { return clock_->MonotonicNanos(); }
  // Queue thread only.
  Result<queue::Group*> GroupOf(uint64_t member, const queue::MemberOptions& credit);
  Status SwitchTo(uint64_t member, std::string_view group, const queue::MemberOptions& credit);
  // Answers the member's oldest parked fetch.
  void AnswerParked(MemberState& state, queue::Window window);
  // Answers every parked fetch of the member with an empty window (it leaves, or Stop).
  void AnswerAllParked(MemberState& state);
  void TickGroup(queue::Group* group);
  void TickAll();
  void ArmTimer(int64_t deadline_ns);
  // group_idle_evict_ms: a sweep every min(window / 2, 1 s) evicts idle groups no member uses.
  void ArmEvictSweep();
  void EvictIdleGroups();
  template <typename F>
  void Run(F&& f) {
    asio::post(io_, std::forward<F>(f));
  }

  queue::Groups* const groups_;
  Clock* const clock_;
  const std::function<void(std::string_view)> log_line_;

  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  asio::steady_timer timer_{io_};
  int64_t timer_deadline_ns_ = INT64_MAX;  // queue thread only
  std::thread thread_;
  bool started_ = false;
  std::atomic<bool> stopped_{false};  // read by Disconnect and NotifyAppended from any thread
  bool stopping_ = false;  // queue thread only: no fetch parks any more
  std::atomic<bool> append_tick_posted_{false};

  std::unordered_map<uint64_t, MemberState> members_;  // queue thread only
  std::atomic<uint64_t> fetches_{0};
  std::atomic<uint64_t> delivered_{0};
  std::atomic<uint64_t> settles_{0};
  std::atomic<uint64_t> parked_now_{0};
  std::atomic<uint64_t> groups_evicted_{0};
  asio::steady_timer evict_timer_{io_};
};

}  // namespace ironbus::server
