#include "queue/key_router.h"

#include <xxhash.h>

namespace ironbus::queue {
namespace {

// xxh3_64(member_id as 8 little-endian bytes ++ key), the reference's rendezvous score.
uint64_t Score(uint64_t member_id, ByteView key) {
  Bytes buf(8);
  EncodeFixed64(buf.data(), member_id);
  PutBytes(&buf, key);
  return XXH3_64bits(buf.data(), buf.size());
}

std::string KeyString(ByteView key) { return std::string(AsChars(key)); }

}  // namespace

uint64_t KeyRouter::OwnerOf(ByteView key) const {
  uint64_t owner = kNoOwner;
  uint64_t best = 0;
  for (uint64_t m : members_) {
    const uint64_t s = Score(m, key);
    // Members iterate in ascending id order, so ">=" hands a tie to the larger id.
    if (owner == kNoOwner || s >= best) {
      owner = m;
      best = s;
    }
  }
  return owner;
}

KeyRouter::Route KeyRouter::Decide(ByteView key, uint64_t offset, uint64_t member_id) const {
  auto busy = busy_by_key_.find(KeyString(key));
  if (busy != busy_by_key_.end() && busy->second != offset) return Route::kKeyBusy;
  if (key.empty()) return Route::kDeliver;
  return OwnerOf(key) == member_id ? Route::kDeliver : Route::kNotOwner;
}

void KeyRouter::MarkBusy(ByteView key, uint64_t offset) {
  std::string k = KeyString(key);
  auto old = busy_by_key_.find(k);
  if (old != busy_by_key_.end()) busy_by_offset_.erase(old->second);
  busy_by_key_[k] = offset;
  busy_by_offset_[offset] = std::move(k);
}

void KeyRouter::Clear(uint64_t offset) {
  auto it = busy_by_offset_.find(offset);
  if (it == busy_by_offset_.end()) return;
  busy_by_key_.erase(it->second);
  busy_by_offset_.erase(it);
}

void KeyRouter::ClearBelow(uint64_t watermark) {
  for (auto it = busy_by_offset_.begin(); it != busy_by_offset_.end() && it->first < watermark;) {
    busy_by_key_.erase(it->second);
    it = busy_by_offset_.erase(it);
  }
}

}  // namespace ironbus::queue
