#include "server/reply_queue.h"

namespace ironbus::server {

uint64_t ReplyQueue::PushReady(Bytes frame) {
  bytes_ += frame.size();
  slots_.push_back(Slot{std::move(frame), true});
  return front_id_ + slots_.size() - 1;
}

uint64_t ReplyQueue::PushPending() {
  slots_.push_back(Slot{});
  ++pending_;
  return front_id_ + slots_.size() - 1;
}

bool ReplyQueue::Fill(uint64_t id, Bytes frame) {
  if (id < front_id_ || id - front_id_ >= slots_.size()) return false;
  Slot& slot = slots_[id - front_id_];
  if (slot.ready) return false;
  bytes_ += frame.size();
  slot.frame = std::move(frame);
  slot.ready = true;
  --pending_;
  return true;
}

size_t ReplyQueue::TakeReady(std::vector<Bytes>* out, size_t max_bytes) {
  size_t taken = 0;
  size_t taken_bytes = 0;
  while (!slots_.empty() && slots_.front().ready && (taken == 0 || taken_bytes < max_bytes)) {
    Slot& slot = slots_.front();
    taken_bytes += slot.frame.size();
    bytes_ -= slot.frame.size();
    out->push_back(std::move(slot.frame));
    slots_.pop_front();
    ++front_id_;
    ++taken;
  }
  return taken;
}

}  // namespace ironbus::server
