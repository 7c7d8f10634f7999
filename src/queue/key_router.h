// queue::KeyRouter: member affinity and per-key serialization of a key_shared group
// (spec/consumers.md 3.3). Pure state, no I/O, no clock.
//
//   members    live member ids (a u64 the broker derives from the connection identity);
//              Join and Leave are idempotent.
//   busy keys  key bytes -> the one offset of that key delivered and not yet settled.
//
// Route(key, offset, member), consulted BEFORE a claim (so a declined offset never consumes a
// generation):
//   1. the key is busy with another offset          -> kKeyBusy (nobody may take it yet)
//   2. the key is empty                              -> kDeliver (no affinity; but rule 1 still
//      applies, because an empty key is marked busy like any other: keyless records of a
//      key_shared group are serialized, one in flight at a time)
//   3. owner = the live member with the highest xxh3_64(member_id as 8 LE bytes ++ key), a tie
//      to the larger id: the owner gets kDeliver, anyone else kNotOwner.
// Rendezvous hashing: when a member joins or leaves, only keys whose owner changed move. A
// moved key that is still busy stays busy, so its new owner gets the next record only after
// the outstanding one settles, or expires and is redelivered (the redelivery is re-routed, so
// it goes to the new owner): drain-or-expire, per-key order kept across the change.
//
// Thread safety: none; owned by one Group.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "base/bytes.h"

namespace ironbus::queue {

class KeyRouter {
 public:
  enum class Route : uint8_t { kDeliver, kKeyBusy, kNotOwner };

  void Join(uint64_t member_id) { members_.insert(member_id); }
  void Leave(uint64_t member_id) { members_.erase(member_id); }
  const std::set<uint64_t>& members() const { return members_; }

  Route Decide(ByteView key, uint64_t offset, uint64_t member_id) const;
  // The live owner of a non-empty key; kNoOwner with no members.
  uint64_t OwnerOf(ByteView key) const;
  static constexpr uint64_t kNoOwner = UINT64_MAX;

  // After a successful claim of `offset` (whose record has `key`).
  void MarkBusy(ByteView key, uint64_t offset);
  // Ack, term, DLQ move or any commit past `offset`. A nack or an expiry keeps it busy.
  void Clear(uint64_t offset);
  void ClearBelow(uint64_t watermark);
  size_t busy_count() const { return busy_by_key_.size(); }

 private:
  std::set<uint64_t> members_;
  std::map<std::string, uint64_t> busy_by_key_;     // key bytes -> offset
  std::map<uint64_t, std::string> busy_by_offset_;  // offset -> key bytes
};

}  // namespace ironbus::queue
