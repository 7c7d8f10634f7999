// queue::DedupTable: producer dedup by msg_id window (spec/consumers.md 9.1). Pure and
// clock-injected: every call takes `now_ns` (monotonic, I6). In memory only: a broker restart
// forgets every window (spec 7.2), so a republish after a restart or an eviction is fresh.
//
// One window per producer_id (<= 256 bytes; empty = the anonymous producer), holding msg_ids
// (<= 256 bytes; oversized ids are InvalidArgument and the connection stays open). The body
// is never hashed. A window forgets an id on whichever bound hits first:
//   max_ids     entries per window (default 100,000; floored to 1), FIFO by insertion;
//   window_ms   age since insertion (default 120,000 ms; 0 = no time bound): an id inserted at
//               t is a duplicate while now - t < window and fresh again from t + window on.
// A duplicate hit does not refresh the entry. Producers: at most max_producers windows
// (default 4,096; floored to 1); a new producer over the cap first reaps windows that aged
// fully empty, then evicts the least recently touched one.
//
// Epoch fencing: a window keeps the producer's epoch high-water. epoch < known -> kFenced
// (ERR_PRODUCER_FENCED, nothing appended); epoch > known -> the old window is discarded and
// the high-water moves up. The anonymous producer is epoch 0 and never fenced.
//
// Protocol with the broker's produce path (offsets are assigned on the appender thread):
//   Admit    before submitting the append. kFresh reserves the id (pending); kDuplicate
//            carries the original offset (reply PubAckDuplicate after the covering commit);
//            kDuplicatePending means the original is still being appended: answer it once the
//            original's completion arrives (Admit again then, or chain it to that completion);
//            kFenced: reply Err.
//   Commit   from the original's completion: the id now maps to its offset.
//   Abort    the original append failed: the reservation is dropped, a retry is fresh.
//
// Thread safety: none. The broker calls it under one mutex (every call is O(1) amortized
// apart from the reaping of aged producers, bounded by max_producers).
#pragma once

#include <cstdint>
#include <deque>
#include <list>
#include <map>
#include <string>
#include <string_view>

#include "base/result.h"

namespace ironbus::queue {

struct DedupOptions {
  size_t max_ids = 100'000;
  uint64_t window_ms = 120'000;
  size_t max_producers = 4'096;
};

inline constexpr size_t kMaxDedupIdBytes = 256;

class DedupTable {
 public:
  explicit DedupTable(DedupOptions options = {});

  enum class Verdict : uint8_t { kFresh, kDuplicate, kDuplicatePending, kFenced };
  struct Decision {
    Verdict verdict = Verdict::kFresh;
    uint64_t offset = 0;  // kDuplicate: the original offset
  };

  Result<Decision> Admit(std::string_view producer_id, uint64_t epoch, std::string_view msg_id, int64_t now_ns);
  void Commit(std::string_view producer_id, uint64_t epoch, std::string_view msg_id, uint64_t offset);
  void Abort(std::string_view producer_id, uint64_t epoch, std::string_view msg_id);

  uint64_t hits() const { return hits_; }                    // ironbus_dedup_hits_total
  uint64_t out_of_window() const { return out_of_window_; }  // ironbus_dedup_out_of_window_total
  uint64_t fenced() const { return fenced_; }
  size_t producer_count() const { return producers_.size(); }
  size_t id_count(std::string_view producer_id) const;

 private:
  struct Entry {
    uint64_t offset = 0;
    bool pending = true;
    uint64_t seq = 0;  // identifies the insertion (an aborted id may be inserted again)
  };
  struct Slot {
    int64_t inserted_ns = 0;
    uint64_t seq = 0;
    std::string msg_id;
  };
  struct ProducerWindow {
    uint64_t epoch = 0;
    std::map<std::string, Entry, std::less<>> ids;
    std::deque<Slot> order;  // insertion order (FIFO eviction); slots of removed ids go stale
    std::list<std::string>::iterator lru;
  };

  // Drops ids that reached the time bound; counts them as out-of-window.
  void ExpireByTime(ProducerWindow& w, int64_t now_ns);
  void Touch(ProducerWindow& w);
  ProducerWindow& WindowFor(std::string_view producer_id, int64_t now_ns);
  ProducerWindow* Find(std::string_view producer_id, uint64_t epoch);

  const DedupOptions options_;
  const int64_t window_ns_;  // 0 = no time bound
  std::map<std::string, ProducerWindow, std::less<>> producers_;
  std::list<std::string> lru_;  // front = least recently touched
  uint64_t hits_ = 0;
  uint64_t out_of_window_ = 0;
  uint64_t fenced_ = 0;
  uint64_t next_seq_ = 0;
};

}  // namespace ironbus::queue
