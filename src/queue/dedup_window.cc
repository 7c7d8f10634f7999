#include "queue/dedup_window.h"

#include <algorithm>

namespace ironbus::queue {

DedupWindow::DedupWindow(Clock* clock, DedupOptions options) : clock_(clock), options_([&] {
  options.max_ids = std::max<size_t>(options.max_ids, 1);
  options.max_producers = std::max<size_t>(options.max_producers, 1);
  return options;
}()) {}

void DedupWindow::Expire(ProducerWindow* w, int64_t now_ns) {
  const int64_t window_ns = options_.window_ms * 1'000'000;
  while (!w->fifo.empty()) {
    const Inserted& oldest = w->fifo.front();
    const bool too_old = options_.window_ms > 0 && now_ns - oldest.at_ns >= window_ns;
    const bool too_many = w->fifo.size() > options_.max_ids;
    if (!too_old && !too_many) break;
    auto it = w->ids.find(oldest.msg_id);
    const bool current = it != w->ids.end() && it->second.ticket == oldest.ticket;
    // A pending original outlives the time bound until it resolves: dropping it would let a
    // retry append a second copy meanwhile. (Its waiters are keyed by ticket either way.)
    if (current && !it->second.resolved && !too_many) break;
    if (current) {
      if (too_old) stats_.out_of_window++;
      w->ids.erase(it);
    }
    w->fifo.pop_front();
  }
}

void DedupWindow::EvictOneProducer(int64_t now_ns) {
  // First a window that aged empty, else the least recently touched one.
  auto victim = producers_.end();
  for (auto it = producers_.begin(); it != producers_.end(); ++it) {
    Expire(&it->second, now_ns);
    if (it->second.ids.empty()) {
      victim = it;
      break;
    }
    if (victim == producers_.end() || it->second.last_touch_ns < victim->second.last_touch_ns) victim = it;
  }
  if (victim != producers_.end()) producers_.erase(victim);
}

DedupWindow::ProducerWindow* DedupWindow::Window(const std::string& producer, int64_t now_ns) {
  auto it = producers_.find(producer);
  if (it == producers_.end()) {
    if (producers_.size() >= options_.max_producers) EvictOneProducer(now_ns);
    it = producers_.emplace(producer, ProducerWindow{}).first;
  }
  it->second.last_touch_ns = now_ns;
  return &it->second;
}

DedupWindow::Decision DedupWindow::Check(ByteView producer_id, uint64_t epoch, ByteView msg_id, Waiter waiter) {
  const std::string producer(AsChars(producer_id));
  const std::string id(AsChars(msg_id));
  if (producer.empty()) epoch = 0;  // the anonymous producer is never fenced
  const int64_t now_ns = clock_->MonotonicNanos();
  std::lock_guard<std::mutex> lock(mu_);
  ProducerWindow* w = Window(producer, now_ns);
  if (epoch < w->epoch) {
    stats_.fenced++;
    return {Kind::kFenced, 0, 0};
  }
  if (epoch > w->epoch) {
    // A new incarnation of the producer: its old ids no longer count.
    w->epoch = epoch;
    w->ids.clear();
    w->fifo.clear();
  }
  Expire(w, now_ns);
  auto it = w->ids.find(id);
  if (it != w->ids.end()) {
    stats_.hits++;
    if (it->second.resolved) return {Kind::kDuplicate, it->second.offset, 0};
    pending_[it->second.ticket].waiters.push_back(std::move(waiter));
    return {Kind::kWaitForOriginal, 0, 0};
  }
  const uint64_t ticket = next_ticket_++;
  w->ids.emplace(id, Entry{false, 0, ticket});
  w->fifo.push_back(Inserted{now_ns, id, ticket});
  Expire(w, now_ns);  // the count bound
  pending_.emplace(ticket, Pending{producer, id, epoch, {}});
  return {Kind::kFresh, 0, ticket};
}

void DedupWindow::Resolve(uint64_t ticket, const Result<uint64_t>& outcome) {
  std::vector<Waiter> waiters;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto p = pending_.find(ticket);
    if (p == pending_.end()) return;
    waiters = std::move(p->second.waiters);
    auto w = producers_.find(p->second.producer);
    if (w != producers_.end() && w->second.epoch == p->second.epoch) {
      auto e = w->second.ids.find(p->second.msg_id);
      if (e != w->second.ids.end() && !e->second.resolved && e->second.ticket == ticket) {
        if (outcome.ok()) {
          e->second.resolved = true;
          e->second.offset = *outcome;
        } else {
          w->second.ids.erase(e);  // not appended: a retry is fresh (its fifo entry ages out)
        }
      }
    }
    pending_.erase(p);
  }
  for (auto& waiter : waiters) waiter(outcome);
}

DedupStats DedupWindow::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

size_t DedupWindow::producers() const {
  std::lock_guard<std::mutex> lock(mu_);
  return producers_.size();
}

}  // namespace ironbus::queue
