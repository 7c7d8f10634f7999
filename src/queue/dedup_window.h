// DedupWindow: the producer msg_id window (spec/consumers.md 9.1; spec/protocol.md 7.4).
//
// A Pub carrying a dedup block (producer_id, epoch, msg_id) is checked here before it is
// appended:
//   - epoch below the producer's high-water: fenced (nothing appended, ERR_PRODUCER_FENCED);
//     above it: the producer's old window is discarded and the high-water moves up. The
//     anonymous producer (empty id) is always epoch 0 and never fenced.
//   - msg_id in the window with a known offset: duplicate (nothing appended; PubAckDuplicate
//     with the original offset, which is durable: offsets are recorded only once the original
//     append completed after its fdatasync).
//   - msg_id in the window whose original is still being appended: the duplicate waits; its
//     Waiter is called with the original's outcome, so a duplicate never answers before the
//     original's offset is durable.
//   - otherwise fresh: the id is recorded as pending and the caller appends, then MUST call
//     Resolve(ticket, outcome) exactly once. Success records the offset; failure forgets the
//     id (a retry is fresh again). Either way every waiter is released with the outcome.
// Bounds, evicted on whichever hits first: max_ids per producer (FIFO by insertion; a hit does
// not refresh) and window_ms of monotonic time (0 = no time bound); max_producers windows, a
// new producer past it evicts a window that aged empty, else the least recently touched one.
// In memory only: a restart forgets every window (the spec's scope).
//
// Thread safety: every method may be called from any thread (one internal mutex). Waiters are
// called from the thread that calls Resolve, never under the mutex; they must be short (the
// broker's post to a strand).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/bytes.h"
#include "base/clock.h"
#include "base/result.h"

namespace ironbus::queue {

struct DedupOptions {
  size_t max_ids = 100'000;      // per producer; floored to 1
  int64_t window_ms = 120'000;   // 0 = no time bound
  size_t max_producers = 4096;   // floored to 1
  size_t max_id_bytes = 256;     // producer_id and msg_id caps (longer: refused by the caller)
};

struct DedupStats {
  uint64_t hits = 0;            // duplicates answered (at once or after their original)
  uint64_t out_of_window = 0;   // ids evicted by the time bound
  uint64_t fenced = 0;
};

class DedupWindow {
 public:
  using Waiter = std::function<void(const Result<uint64_t>& original)>;

  enum class Kind : uint8_t { kFresh, kDuplicate, kWaitForOriginal, kFenced };
  struct Decision {
    Kind kind = Kind::kFresh;
    uint64_t offset = 0;  // kDuplicate: the original offset
    uint64_t ticket = 0;  // kFresh: pass to Resolve
  };

  // `clock` (its monotonic time) must outlive the window.
  explicit DedupWindow(Clock* clock, DedupOptions options = {});

  // `waiter` is kept only for kWaitForOriginal (then called exactly once, from Resolve).
  Decision Check(ByteView producer_id, uint64_t epoch, ByteView msg_id, Waiter waiter);
  // The outcome of the append of a kFresh Pub. Call exactly once per ticket.
  void Resolve(uint64_t ticket, const Result<uint64_t>& outcome);

  DedupStats stats() const;
  size_t producers() const;

 private:
  struct Entry {
    bool resolved = false;
    uint64_t offset = 0;
    uint64_t ticket = 0;  // the Check that inserted it
  };
  struct Inserted {
    int64_t at_ns = 0;
    std::string msg_id;
    uint64_t ticket = 0;  // an id forgotten and inserted again has a new ticket
  };
  struct ProducerWindow {
    uint64_t epoch = 0;
    std::unordered_map<std::string, Entry> ids;
    std::deque<Inserted> fifo;  // oldest first
    int64_t last_touch_ns = 0;
  };
  struct Pending {
    std::string producer;
    std::string msg_id;
    uint64_t epoch = 0;
    std::vector<Waiter> waiters;
  };

  // All REQUIRE mu_.
  void Expire(ProducerWindow* w, int64_t now_ns);
  void EvictOneProducer(int64_t now_ns);
  ProducerWindow* Window(const std::string& producer, int64_t now_ns);

  Clock* const clock_;
  const DedupOptions options_;
  mutable std::mutex mu_;
  std::map<std::string, ProducerWindow> producers_;       // guarded by mu_
  std::unordered_map<uint64_t, Pending> pending_;          // guarded by mu_; ticket -> waiters
  uint64_t next_ticket_ = 1;                               // guarded by mu_
  DedupStats stats_;                                       // guarded by mu_
};

}  // namespace ironbus::queue
