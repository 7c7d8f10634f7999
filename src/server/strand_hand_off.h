// StrandHandOff<T>: items handed from any thread to one connection's strand, with one post per
// burst instead of one per item.
//
// A group commit completes a whole window of a connection's publishes at once, and the queue
// thread answers a window of acks at once. Posting each outcome would cost one allocation, one
// queue operation and one strand wake-up per record. Instead the producer pushes the item
// under a leaf mutex; only the push that found the list empty posts a drain, and that drain,
// when it runs, takes every item pushed until then. A push that comes after the drain swapped
// the list out finds it empty again and posts the next drain, so no item is left behind.
//
// Thread safety: Push from any thread; Drain on the owning strand only (its scratch list is
// not guarded). The mutex is a leaf (docs/locking.md): nothing is called while it is held.
#pragma once

#include <mutex>
#include <utility>
#include <vector>

namespace ironbus::server {

template <typename T>
class StrandHandOff {
 public:
  // Adds `item`. True when the list was empty: the caller must post one Drain to the strand.
  bool Push(T item) {
    std::lock_guard<std::mutex> lock(mu_);
    const bool first = items_.empty();
    items_.push_back(std::move(item));
    return first;
  }

  // Strand only: calls `handle(T&)` for every item pushed so far, in push order, with no lock
  // held (a handler may push again; that item goes to the next drain).
  template <typename Handle>
  void Drain(Handle&& handle) {
    draining_.clear();
    {
      std::lock_guard<std::mutex> lock(mu_);
      draining_.swap(items_);
    }
    for (T& item : draining_) handle(item);
    draining_.clear();  // keeps its capacity for the next burst
  }

 private:
  std::mutex mu_;
  std::vector<T> items_;     // guarded by mu_
  std::vector<T> draining_;  // strand only
};

}  // namespace ironbus::server
