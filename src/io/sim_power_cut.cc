// The per-file power-cut model of SimFileSystem: which unsynced writes reached the platter.
//
// std::mt19937_64's output sequence is fixed by the C++ standard (the distributions are not),
// so only raw draws are used here: the same seed gives the same bytes on every platform.
#include <algorithm>
#include <random>

#include "io/sim_file_system.h"

namespace ironbus::io {
namespace {

// Disks write whole sectors; a torn write lands as some of its 512-byte sectors.
constexpr uint64_t kSectorBytes = 512;

class Draw {
 public:
  explicit Draw(uint64_t seed) : rng_(seed) {}
  uint64_t Below(uint64_t n) { return n == 0 ? 0 : rng_() % n; }  // [0, n)
  bool Coin() { return (rng_() & 1) != 0; }

 private:
  std::mt19937_64 rng_;
};

enum class Tear : uint8_t { kNone, kPrefix, kSectors };

void ApplyTruncate(Bytes& content, uint64_t size) { content.resize(static_cast<size_t>(size), 0); }

// Applies `op` (a write) to `content`, landing all, a prefix or some sectors of its bytes.
void ApplyWrite(Bytes& content, const SimFileOp& op, Tear tear, Draw& draw) {
  const uint64_t len = op.data.size();
  const uint64_t end = op.offset + len;
  std::vector<bool> landed(static_cast<size_t>(len), tear == Tear::kNone);
  if (tear == Tear::kPrefix) {
    uint64_t prefix = draw.Below(len + 1);
    std::fill(landed.begin(), landed.begin() + static_cast<ptrdiff_t>(prefix), true);
  } else if (tear == Tear::kSectors) {
    // Sectors are aligned to the file, not to the write: a write straddling a sector
    // boundary can land on one side only.
    for (uint64_t sector = op.offset / kSectorBytes * kSectorBytes; sector < end; sector += kSectorBytes) {
      if (!draw.Coin()) continue;
      uint64_t from = std::max(sector, op.offset) - op.offset;
      uint64_t to = std::min(sector + kSectorBytes, end) - op.offset;
      std::fill(landed.begin() + static_cast<ptrdiff_t>(from), landed.begin() + static_cast<ptrdiff_t>(to), true);
    }
  }
  uint64_t landed_end = 0;
  for (uint64_t i = len; i > 0; --i) {
    if (landed[i - 1]) {
      landed_end = op.offset + i;
      break;
    }
  }
  const uint64_t old_size = content.size();
  uint64_t new_size = std::max(old_size, landed_end);
  // The size (journalled metadata) may reach disk without the data: the file then ends in
  // zeros where the write did not land (ext4's zero tail after a power cut).
  if (tear == Tear::kNone || draw.Coin()) new_size = std::max(old_size, end);
  if (new_size > old_size) content.resize(static_cast<size_t>(new_size), 0);
  for (uint64_t i = 0; i < len; ++i) {
    if (landed[i] && op.offset + i < content.size()) content[op.offset + i] = op.data[i];
  }
}

void Apply(Bytes& content, const SimFileOp& op, Tear tear, Draw& draw) {
  if (op.kind == SimFileOp::Kind::kTruncate) {
    ApplyTruncate(content, op.offset);
  } else {
    ApplyWrite(content, op, tear, draw);
  }
}

Tear RandomTear(Draw& draw) {
  switch (draw.Below(4)) {
    case 0: return Tear::kPrefix;
    case 1: return Tear::kSectors;
    default: return Tear::kNone;
  }
}

}  // namespace

Bytes ContentAfterPowerCut(ByteView durable, std::span<const SimFileOp> unsynced, PowerCutMode mode,
                           uint64_t seed) {
  Bytes content(durable.begin(), durable.end());
  Draw draw(seed);
  switch (mode) {
    case PowerCutMode::kDropAll:
      return content;
    case PowerCutMode::kKeepAll:
      for (const SimFileOp& op : unsynced) Apply(content, op, Tear::kNone, draw);
      return content;
    case PowerCutMode::kRandom:
      break;
  }
  if (draw.Below(4) == 0) {
    // The common real-world outcome: writeback went in order and stopped somewhere, the last
    // write possibly torn. Kept as its own case so tests meet it often, not by luck.
    uint64_t count = draw.Below(unsynced.size() + 1);
    for (uint64_t i = 0; i < count; ++i) {
      Apply(content, unsynced[i], i + 1 == count ? RandomTear(draw) : Tear::kNone, draw);
    }
    return content;
  }
  // Any subset, in any order, each possibly torn: the page cache writes back pages in no
  // promised order, and the disk may reorder again.
  std::vector<size_t> chosen;
  for (size_t i = 0; i < unsynced.size(); ++i) {
    if (draw.Coin()) chosen.push_back(i);
  }
  for (size_t i = chosen.size(); i > 1; --i) std::swap(chosen[i - 1], chosen[draw.Below(i)]);
  for (size_t i : chosen) Apply(content, unsynced[i], RandomTear(draw), draw);
  return content;
}

}  // namespace ironbus::io
