#include "queue/dedup.h"

#include <algorithm>

#include "queue/lease_table.h"

namespace ironbus::queue {

DedupTable::DedupTable(DedupOptions options)
    : options_{std::max<size_t>(options.max_ids, 1), options.window_ms, std::max<size_t>(options.max_producers, 1)},
      window_ns_(MsToNs(options.window_ms)) {}

void DedupTable::ExpireByTime(ProducerWindow& w, int64_t now_ns) {
  if (window_ns_ == 0) return;
  while (!w.order.empty() && now_ns - w.order.front().inserted_ns >= window_ns_) {
    const Slot& s = w.order.front();
    auto it = w.ids.find(s.msg_id);
    if (it != w.ids.end() && it->second.seq == s.seq) {
      w.ids.erase(it);
      out_of_window_ += 1;
    }
    w.order.pop_front();
  }
}

void DedupTable::Touch(ProducerWindow& w) { lru_.splice(lru_.end(), lru_, w.lru); }

DedupTable::ProducerWindow& DedupTable::WindowFor(std::string_view producer_id, int64_t now_ns) {
  if (producers_.size() >= options_.max_producers) {
    // Windows that aged fully empty go first, then the least recently touched one.
    for (auto it = producers_.begin(); it != producers_.end();) {
      ExpireByTime(it->second, now_ns);
      if (it->second.ids.empty()) {
        lru_.erase(it->second.lru);
        it = producers_.erase(it);
      } else {
        ++it;
      }
    }
    while (producers_.size() >= options_.max_producers) {
      producers_.erase(lru_.front());
      lru_.pop_front();
    }
  }
  auto [it, inserted] = producers_.emplace(std::string(producer_id), ProducerWindow());
  lru_.push_back(it->first);
  it->second.lru = std::prev(lru_.end());
  return it->second;
}

Result<DedupTable::Decision> DedupTable::Admit(std::string_view producer_id, uint64_t epoch, std::string_view msg_id,
                                               int64_t now_ns) {
  if (producer_id.size() > kMaxDedupIdBytes || msg_id.size() > kMaxDedupIdBytes) {
    return Status::InvalidArgument("dedup producer_id and msg_id are at most 256 bytes");
  }
  if (producer_id.empty()) epoch = 0;  // the anonymous producer is never fenced
  ProducerWindow* w = nullptr;
  if (auto it = producers_.find(producer_id); it != producers_.end()) {
    w = &it->second;
    if (epoch < w->epoch) {
      fenced_ += 1;
      return Decision{Verdict::kFenced, 0};
    }
    if (epoch > w->epoch) {  // a new incarnation: the old window no longer applies
      w->ids.clear();
      w->order.clear();
      w->epoch = epoch;
    }
    Touch(*w);
  } else {
    w = &WindowFor(producer_id, now_ns);
    w->epoch = epoch;
  }
  ExpireByTime(*w, now_ns);
  if (auto e = w->ids.find(msg_id); e != w->ids.end()) {
    hits_ += 1;  // not refreshed: the entry keeps its insertion time
    return e->second.pending ? Decision{Verdict::kDuplicatePending, 0} : Decision{Verdict::kDuplicate, e->second.offset};
  }
  while (w->ids.size() >= options_.max_ids && !w->order.empty()) {
    const Slot& s = w->order.front();
    auto it = w->ids.find(s.msg_id);
    if (it != w->ids.end() && it->second.seq == s.seq) w->ids.erase(it);
    w->order.pop_front();
  }
  const uint64_t seq = next_seq_++;
  w->ids[std::string(msg_id)] = Entry{0, true, seq};
  w->order.push_back(Slot{now_ns, seq, std::string(msg_id)});
  return Decision{Verdict::kFresh, 0};
}

DedupTable::ProducerWindow* DedupTable::Find(std::string_view producer_id, uint64_t epoch) {
  auto it = producers_.find(producer_id);
  if (it == producers_.end()) return nullptr;
  if (!producer_id.empty() && it->second.epoch != epoch) return nullptr;
  return &it->second;
}

void DedupTable::Commit(std::string_view producer_id, uint64_t epoch, std::string_view msg_id, uint64_t offset) {
  ProducerWindow* w = Find(producer_id, epoch);
  if (w == nullptr) return;  // evicted meanwhile: the id is simply not remembered
  auto it = w->ids.find(msg_id);
  if (it == w->ids.end() || !it->second.pending) return;
  it->second.offset = offset;
  it->second.pending = false;
}

void DedupTable::Abort(std::string_view producer_id, uint64_t epoch, std::string_view msg_id) {
  ProducerWindow* w = Find(producer_id, epoch);
  if (w == nullptr) return;
  auto it = w->ids.find(msg_id);
  if (it != w->ids.end() && it->second.pending) w->ids.erase(it);  // its order slot goes stale
}

size_t DedupTable::id_count(std::string_view producer_id) const {
  auto it = producers_.find(producer_id);
  return it == producers_.end() ? 0 : it->second.ids.size();
}

}  // namespace ironbus::queue
