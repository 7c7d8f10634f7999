// ReplyQueue: the ordered replies of one connection (spec/protocol.md section 1: replies leave
// in request order; a produce ack waiting for its fdatasync is never overtaken).
//
// A slot is either ready (its encoded frame is known) or pending (a produce whose append has
// not completed). The writer takes ready frames from the FRONT only, so a pending slot holds
// back every later reply until it is filled. Slot ids are assigned in push order and stay
// valid until the slot is taken.
//
// Thread safety: none; a session touches its queue only from its strand.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <vector>

#include "base/bytes.h"

namespace ironbus::server {

class ReplyQueue {
 public:
  // Appends a ready frame; returns its id.
  uint64_t PushReady(Bytes frame);
  // Appends a pending slot; returns its id for Fill.
  uint64_t PushPending();
  // Fills pending slot `id` with its frame. False if `id` is not a pending slot (already
  // filled, taken, or never pushed): the caller drops the frame.
  bool Fill(uint64_t id, Bytes frame);

  // Moves the ready frames at the front, in order, into *out, stopping before the first pending
  // slot or once at least `max_bytes` were taken (at least one frame when any is ready).
  // Returns the number of frames taken.
  size_t TakeReady(std::vector<Bytes>* out, size_t max_bytes);

  bool front_ready() const { return !slots_.empty() && slots_.front().ready; }
  bool empty() const { return slots_.empty(); }
  size_t size() const { return slots_.size(); }    // slots, ready and pending
  size_t pending() const { return pending_; }      // pending slots
  size_t bytes() const { return bytes_; }          // bytes of the ready frames held

 private:
  struct Slot {
    Bytes frame;
    bool ready = false;
  };
  std::deque<Slot> slots_;
  uint64_t front_id_ = 0;  // id of slots_.front()
  size_t pending_ = 0;
  size_t bytes_ = 0;
};

}  // namespace ironbus::server
