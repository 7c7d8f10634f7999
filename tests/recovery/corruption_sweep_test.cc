// Corruption sweep on a real directory (PosixFileSystem, a temp dir): a log of sealed segments
// and an active one, written with the format encoders; per seed, one damage in each of up to
// three segments (bit flips, zeroed or random ranges, truncation, header or footer hits);
// then Recover and check the promises of DESIGN.md D1/D2:
//   - no record is invented or moved: everything served is the original record at its offset;
//   - every record whose bytes were not touched is served (unless its segment's header was);
//   - every original offset that is not served is inside a reported event's offset range, or
//     at/after the new head (a cut tail of the active segment);
//   - exact ranges are real holes; the new head never reuses an offset an unreadable last
//     segment may have held;
//   - loss stays within the caps, and an over-cap recovery is frozen with every byte untouched
//     (then `repair --apply` is run and the checks above are made on its result);
//   - only the active segment is ever cut, and only to a prefix; storage::Log opens the state;
//   - a second recovery is stable; every 8th seed, a dry run first changes no byte and plans
//     exactly what apply does.
// IRONBUS_SWEEP_SCALE scales the seed count (the ASan run uses 0.25).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <set>
#include <sstream>

#include "../io/temp_dir.h"
#include "base/clock.h"
#include "io/posix_file_system.h"
#include "recovery/recover.h"
#include "recovery_test_util.h"
#include "storage/log.h"

namespace ironbus::recovery {
namespace {

using testing::SegmentBuilder;
using testing::SegPath;

constexpr int kSegments = 5;
constexpr uint64_t kMaxSegmentBytes = 3000;  // per-event cap; some damage exceeds it

int SeedCount() {
  double scale = 1.0;
  if (const char* s = std::getenv("IRONBUS_SWEEP_SCALE")) scale = std::atof(s);
  return std::max(10, static_cast<int>(200 * scale));
}

std::vector<SegmentBuilder> BuildLog(std::mt19937_64& rng) {
  std::vector<SegmentBuilder> segs;
  uint64_t next = 1000;
  for (int s = 0; s < kSegments; ++s) {
    SegmentBuilder b(static_cast<uint64_t>(s) + 2, next, next);
    const int records = 8 + static_cast<int>(rng() % 25);
    for (int i = 0; i < records; ++i) {
      format::Record r;
      r.timestamp_ms = testing::kTs + rng() % 1000;
      if (rng() % 4 == 0) r.key = ToBytes("k" + std::to_string(rng() % 100));
      std::string payload = "o" + std::to_string(b.next_offset()) + ":";
      const size_t extra = rng() % 200;  // one rng() per statement: the sequence is portable
      const char fill = static_cast<char>('a' + rng() % 26);
      payload.resize(payload.size() + extra, fill);
      r.payload = ToBytes(payload);
      b.Add(std::move(r));
    }
    next = b.next_offset();
    segs.push_back(std::move(b));
  }
  return segs;
}

// Damages `bytes` in place; returns a description.
std::string Damage(std::mt19937_64& rng, Bytes* bytes) {
  const uint64_t len = bytes->size();
  auto pick = [&](uint64_t lo, uint64_t hi) { return hi <= lo ? lo : lo + rng() % (hi - lo); };
  std::ostringstream what;
  switch (rng() % 7) {
    case 0: {  // a few bit flips in a small window
      const uint64_t at = pick(format::kSegmentHeaderSize, len);
      const int flips = 1 + static_cast<int>(rng() % 4);
      for (int i = 0; i < flips; ++i) {
        const uint64_t where = std::min(len - 1, at + rng() % 48);
        const auto bit = static_cast<uint8_t>(1u << (rng() % 8));
        (*bytes)[where] ^= bit;
      }
      what << "flip@" << at;
      break;
    }
    case 1:
    case 2: {  // zeroed range (sometimes large)
      const uint64_t at = pick(format::kSegmentHeaderSize, len);
      const uint64_t max_len = rng() % 3 == 0 ? 4000 : 300;
      const uint64_t n = std::min(len - at, 1 + rng() % max_len);
      std::fill(bytes->begin() + static_cast<ptrdiff_t>(at), bytes->begin() + static_cast<ptrdiff_t>(at + n), 0);
      what << "zero[" << at << "," << at + n << ")";
      break;
    }
    case 3: {  // random garbage
      const uint64_t at = pick(format::kSegmentHeaderSize, len);
      const uint64_t n = std::min(len - at, 1 + rng() % 500);
      for (uint64_t i = at; i < at + n; ++i) (*bytes)[i] = static_cast<uint8_t>(rng());
      what << "garbage[" << at << "," << at + n << ")";
      break;
    }
    case 4: {  // truncation
      const uint64_t at = pick(rng() % 10 == 0 ? 0 : format::kSegmentHeaderSize, len);
      bytes->resize(at);
      what << "truncate@" << at;
      break;
    }
    case 5: {  // segment header hit
      const uint64_t where = rng() % format::kSegmentHeaderSize;
      const auto bit = static_cast<uint8_t>(1u << (rng() % 8));
      (*bytes)[where] ^= bit;
      what << "header";
      break;
    }
    default: {  // the last 40 bytes (footer of a sealed segment)
      const uint64_t at = pick(len > 40 ? len - 40 : 0, len);
      (*bytes)[at] ^= 0x55;
      what << "tail@" << at;
      break;
    }
  }
  return what.str();
}

struct Case {
  std::vector<SegmentBuilder> segs;
  std::map<uint64_t, Bytes> original;  // id -> file bytes before damage
  std::map<uint64_t, Bytes> damaged;   // id -> after damage
};

// True when frame [start, end) of segment `id` is byte-identical after damage.
bool Intact(const Case& c, uint64_t id, uint64_t start, uint64_t end) {
  const Bytes& a = c.original.at(id);
  const Bytes& b = c.damaged.at(id);
  if (end > b.size()) return false;
  return std::equal(a.begin() + static_cast<ptrdiff_t>(start), a.begin() + static_cast<ptrdiff_t>(end),
                    b.begin() + static_cast<ptrdiff_t>(start));
}

void CheckCaps(const Recovered& r) {
  uint64_t durable = 0;
  for (const auto& s : r.state.segments) durable += s.DurableRecordBytes();
  const LossCaps caps = ComputeLossCaps(kMaxSegmentBytes, durable);
  uint64_t total = 0;
  bool over = false;
  for (const auto& e : r.report.events) {
    if (e.accepted) continue;
    over |= e.bytes_skipped() > caps.per_event;
    if (e.data_loss()) total += e.bytes_skipped();
  }
  over |= total > caps.global;
  EXPECT_EQ(over, r.state.frozen) << "per_event " << caps.per_event << " global " << caps.global << " total " << total;
}

void CheckRecovered(io::FileSystem* fs, const std::string& dir, const Case& c, const Recovered& r) {
  auto served = testing::ReadServed(fs, r.state);
  std::map<uint64_t, const testing::FrameInfo*> frames;
  for (const auto& s : c.segs) {
    for (const auto& f : s.frames()) frames[f.offset] = &f;
  }
  // Nothing invented or moved.
  for (const auto& [offset, rec] : served) {
    auto it = frames.find(offset);
    ASSERT_NE(it, frames.end()) << "served an offset that never existed: " << offset;
    EXPECT_TRUE(testing::SameRecord(rec, it->second->record)) << "offset " << offset << " changed";
  }
  auto in_event = [&](uint64_t o) {
    for (const auto& e : r.report.events) {
      if (o >= e.first_lost_offset && o < e.end_lost_offset) return true;
    }
    return false;
  };
  for (const auto& s : c.segs) {
    const uint64_t id = s.header().segment_id;
    const bool header_ok = Intact(c, id, 0, format::kSegmentHeaderSize);
    for (const auto& f : s.frames()) {
      if (served.count(f.offset)) continue;
      if (header_ok && Intact(c, id, f.start, f.end)) {
        ADD_FAILURE() << "intact record lost: segment " << id << " offset " << f.offset << " bytes [" << f.start
                      << ", " << f.end << ")";
      }
      if (f.offset < r.state.next_offset && f.offset >= r.state.segments.front().base_offset) {
        EXPECT_TRUE(in_event(f.offset)) << "offset " << f.offset << " lost without an event";
      }
    }
  }
  // With every segment header intact, each span that stays in the log is bounded by good
  // records or by the next segment's base: its offsets are known exactly.
  bool headers_intact = true;
  for (const auto& s : c.segs) headers_intact &= Intact(c, s.header().segment_id, 0, format::kSegmentHeaderSize);
  for (const auto& e : r.report.events) {
    if (headers_intact && !e.truncated) {
      EXPECT_TRUE(e.offsets_exact) << "segment " << e.segment_id << " bytes [" << e.byte_offset_start << ", "
                                   << e.byte_offset_end << ")";
    }
    if (!e.offsets_exact) continue;
    for (uint64_t o = e.first_lost_offset; o < e.end_lost_offset; ++o) EXPECT_EQ(served.count(o), 0u) << o;
  }
  // The head never goes below an offset an unreadable last segment may have held.
  const uint64_t last_id = c.segs.back().header().segment_id;
  if (!Intact(c, last_id, 0, format::kSegmentHeaderSize)) {
    EXPECT_GE(r.state.next_offset, c.segs.back().next_offset());
  }
  // Only the active segment is cut, only to a prefix; sealed ones are never edited.
  for (const auto& s : c.segs) {
    const uint64_t id = s.header().segment_id;
    const Bytes now = testing::ReadFile(fs, SegPath(dir, id));
    const Bytes& before = c.damaged.at(id);
    if (id != last_id) {
      EXPECT_EQ(now, before) << "segment " << id << " was edited";
    } else {
      ASSERT_LE(now.size(), before.size());
      EXPECT_TRUE(std::equal(now.begin(), now.end(), before.begin()));
    }
  }
}

TEST(CorruptionSweepTest, DamageIsSkippedReportedAndBoundedOnARealDirectory) {
  const int seeds = SeedCount();
  io::PosixFileSystem fs;
  ManualClock clock;
  std::map<std::string, int> seen;  // coverage summary, printed at the end
  for (int seed = 1; seed <= seeds; ++seed) {
    io::testing::TempDir tmp;
    const std::string dir = tmp.path();
    std::mt19937_64 rng(static_cast<uint64_t>(seed) * 0x9E3779B97F4A7C15ull);
    Case c;
    c.segs = BuildLog(rng);
    std::ostringstream trace;
    trace << "seed=" << seed;
    std::set<size_t> hit;
    const int ops = 1 + static_cast<int>(rng() % 3);
    while (static_cast<int>(hit.size()) < ops) hit.insert(rng() % kSegments);
    for (size_t i = 0; i < c.segs.size(); ++i) {
      const uint64_t id = c.segs[i].header().segment_id;
      const bool sealed = i + 1 < c.segs.size();
      c.original[id] = sealed ? c.segs[i].Sealed() : c.segs[i].Unsealed();
      c.damaged[id] = c.original[id];
      if (hit.count(i)) trace << " seg" << id << ":" << Damage(rng, &c.damaged[id]);
      // Not synced: the sweep tests recovery's reading, and fsyncs dominate its run time.
      auto file = fs.Open(SegPath(dir, id), io::OpenMode::kCreateExclusive);
      ASSERT_TRUE(file.ok());
      ASSERT_TRUE((*file)->WriteAt(0, c.damaged[id]).ok());
      ASSERT_TRUE((*file)->Close().ok());
    }
    SCOPED_TRACE(trace.str());

    RecoveryOptions opts;
    opts.max_segment_bytes = kMaxSegmentBytes;
    if (seed % 8 == 0) {
      const auto before = testing::SnapshotTree(dir);
      opts.mode = Mode::kDryRun;
      auto plan = Recover(&fs, dir, opts);
      ASSERT_TRUE(plan.ok()) << plan.status().ToString();
      EXPECT_EQ(testing::SnapshotTree(dir), before) << "dry run changed a byte";
      opts.mode = Mode::kApply;
      auto done = Recover(&fs, dir, opts);
      ASSERT_TRUE(done.ok());
      EXPECT_EQ(plan->report, done->report);
      EXPECT_EQ(plan->state.next_offset, done->state.next_offset);
      continue;  // the apply ran; the next seed checks the rest
    }

    const auto before = testing::SnapshotTree(dir);
    auto first = Recover(&fs, dir, opts);
    ASSERT_TRUE(first.ok()) << first.status().ToString();
    CheckCaps(*first);
    Recovered result = std::move(first).value();
    for (const auto& e : result.report.events) ++seen[std::string(LossReasonJsonName(e.reason))];
    if (result.state.frozen) {
      ++seen["frozen"];
      auto after = testing::SnapshotTree(dir);
      ASSERT_EQ(after.erase("recovery-report.json"), 1u);
      EXPECT_EQ(after, before) << "a frozen recovery changed bytes";
      opts.ignore_caps = true;  // repair --apply
      auto repaired = Recover(&fs, dir, opts);
      ASSERT_TRUE(repaired.ok()) << repaired.status().ToString();
      EXPECT_FALSE(repaired->state.frozen);
      result = std::move(repaired).value();
      opts.ignore_caps = false;
    }
    CheckRecovered(&fs, dir, c, result);

    auto again = Recover(&fs, dir, opts);
    ASSERT_TRUE(again.ok());
    EXPECT_FALSE(again->state.frozen) << again->state.frozen_reason;
    EXPECT_EQ(again->state.next_offset, result.state.next_offset);
    for (const auto& e : again->report.events) EXPECT_FALSE(e.truncated);

    if (seed % 4 == 1) {  // opening may create a segment (fsyncs): a sample is enough
      auto log = storage::Log::Open(&fs, again->state, storage::LogOptions{}, &clock);
      ASSERT_TRUE(log.ok()) << log.status().ToString();
      EXPECT_EQ((*log)->next_offset(), result.state.next_offset);
    }
    if (::testing::Test::HasFailure()) break;  // one failing seed is enough to read
  }
  std::ostringstream summary;
  for (const auto& [what, n] : seen) summary << " " << what << "=" << n;
  std::printf("sweep: %d seeds;%s\n", seeds, summary.str().c_str());
  // The sweep must have met every kind of outcome it claims to check.
  for (const char* what : {"TornTail", "CorruptRecordHeader", "CorruptRecordBody", "CorruptSegmentHeader", "frozen"}) {
    EXPECT_GT(seen[what], 0) << what;
  }
}

}  // namespace
}  // namespace ironbus::recovery
