// The power-cut model: deterministic per seed, and torn writes never invent bytes.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <set>

#include "io/sim_file_system.h"
#include "io/sim_test_util.h"

namespace ironbus::io {
namespace {

using testing::Append;
using testing::WriteNew;

// A tree with every kind of non-durable change: new names, renames, removes, unsynced and
// failed-sync data, truncates, a new directory.
void BuildMessyTree(SimFileSystem& fs) {
  ASSERT_TRUE(fs.SetFileContent("/data/seg-1", AsBytes(std::string(3000, 'a'))).ok());
  ASSERT_TRUE(fs.SetFileContent("/data/seg-2", AsBytes(std::string(100, 'b'))).ok());
  ASSERT_TRUE(fs.SetFileContent("/data/gone", AsBytes("to be removed")).ok());
  ASSERT_TRUE(fs.SetFileContent("/data/state", AsBytes("old state")).ok());
  Append(fs, "/data/seg-1", std::string(5000, 'A'), /*sync=*/false);
  Append(fs, "/data/seg-2", std::string(700, 'B'), /*sync=*/true);
  Append(fs, "/data/seg-2", std::string(900, 'C'), /*sync=*/false);
  WriteNew(fs, "/data/seg-3", std::string(1200, 'c'), /*sync=*/false);
  WriteNew(fs, "/data/state.tmp", "new state", /*sync=*/true);
  ASSERT_TRUE(fs.Rename("/data/state.tmp", "/data/state").ok());
  ASSERT_TRUE(fs.Remove("/data/gone").ok());
  ASSERT_TRUE(fs.CreateDirs("/data/dlq").ok());
  WriteNew(fs, "/data/dlq/x", "dead letter", /*sync=*/true);
  auto file = fs.Open("/data/seg-2", OpenMode::kReadWrite);
  ASSERT_TRUE(file.ok());
  ASSERT_TRUE((*file)->Truncate(750).ok());
  ASSERT_TRUE((*file)->WriteAt(740, AsBytes(std::string(600, 'D'))).ok());
}

TEST(SimPowerCutTest, SameSeedGivesIdenticalContents) {
  std::set<std::map<std::string, Bytes>> distinct;
  for (uint64_t seed = 0; seed < 40; ++seed) {
    SimFileSystem first;
    SimFileSystem second;
    BuildMessyTree(first);
    BuildMessyTree(second);
    first.PowerCut(seed, PowerCutMode::kRandom);
    second.PowerCut(seed, PowerCutMode::kRandom);
    auto snapshot = first.Snapshot();
    EXPECT_EQ(snapshot, second.Snapshot()) << "seed " << seed;
    distinct.insert(snapshot);
  }
  EXPECT_GT(distinct.size(), 10u) << "different seeds should give different outcomes";
}

TEST(SimPowerCutTest, RandomModeProducesEveryKindOfTornAppend) {
  const std::string durable(100, 'd');
  const std::string appended(2048, 'A');
  bool none = false, full = false, zero_tail = false, partial_size = false, hole = false;
  for (uint64_t seed = 0; seed < 400; ++seed) {
    SimFileSystem fs;
    ASSERT_TRUE(fs.SetFileContent("/f", AsBytes(durable)).ok());
    Append(fs, "/f", appended, /*sync=*/false);
    fs.PowerCut(seed, PowerCutMode::kRandom);
    std::string after(AsChars(*fs.CurrentContent("/f")));
    ASSERT_EQ(after.substr(0, 100), durable) << "seed " << seed;
    std::string tail = after.substr(100);
    ASSERT_LE(tail.size(), appended.size());
    ASSERT_EQ(tail.find_first_not_of(std::string("A\0", 2)), std::string::npos) << "seed " << seed;
    size_t first_zero = tail.find('\0');
    if (tail.empty()) none = true;
    if (tail == appended) full = true;
    if (tail.size() == appended.size() && !tail.empty() && tail.back() == '\0') zero_tail = true;
    if (!tail.empty() && tail.size() < appended.size()) partial_size = true;
    if (first_zero != std::string::npos && tail.find('A', first_zero) != std::string::npos) hole = true;
  }
  EXPECT_TRUE(none);
  EXPECT_TRUE(full);
  EXPECT_TRUE(zero_tail) << "size extended, data missing (ext4 zero tail)";
  EXPECT_TRUE(partial_size) << "torn prefix";
  EXPECT_TRUE(hole) << "some sectors landed, an earlier one did not";
}

// ---- RapidCheck: random unsynced histories ----

struct History {
  Bytes durable;
  std::vector<SimFileOp> ops;
};

rc::Gen<Bytes> GenBytes(size_t max_len) {
  return rc::gen::mapcat(rc::gen::inRange<size_t>(0, max_len + 1), [](size_t n) {
    return rc::gen::container<Bytes>(n, rc::gen::arbitrary<uint8_t>());
  });
}

rc::Gen<SimFileOp> GenOp() {
  return rc::gen::mapcat(rc::gen::inRange(0, 6), [](int kind) -> rc::Gen<SimFileOp> {
    if (kind == 0) {
      return rc::gen::map(rc::gen::inRange<uint64_t>(0, 4000), [](uint64_t size) {
        return SimFileOp{SimFileOp::Kind::kTruncate, size, {}};
      });
    }
    return rc::gen::apply(
        [](uint64_t offset, Bytes data) { return SimFileOp{SimFileOp::Kind::kWrite, offset, std::move(data)}; },
        rc::gen::inRange<uint64_t>(0, 4000), GenBytes(1500));
  });
}

Bytes ApplyAll(Bytes content, const std::vector<SimFileOp>& ops) {
  for (const SimFileOp& op : ops) {
    if (op.kind == SimFileOp::Kind::kTruncate) {
      content.resize(op.offset, 0);
    } else {
      if (content.size() < op.offset + op.data.size()) content.resize(op.offset + op.data.size(), 0);
      std::copy(op.data.begin(), op.data.end(), content.begin() + static_cast<ptrdiff_t>(op.offset));
    }
  }
  return content;
}

// Every byte is a durable byte at its place, a byte some unsynced write put at that place,
// or zero; the length is one the history could have produced.
void CheckProvenance(const Bytes& durable, const std::vector<SimFileOp>& ops, const Bytes& after) {
  uint64_t max_len = durable.size();
  for (const SimFileOp& op : ops) {
    max_len = std::max<uint64_t>(max_len, op.kind == SimFileOp::Kind::kTruncate ? op.offset
                                                                               : op.offset + op.data.size());
  }
  RC_ASSERT(after.size() <= max_len);
  for (size_t i = 0; i < after.size(); ++i) {
    uint8_t b = after[i];
    if (b == 0 || (i < durable.size() && durable[i] == b)) continue;
    bool written = std::any_of(ops.begin(), ops.end(), [&](const SimFileOp& op) {
      return op.kind == SimFileOp::Kind::kWrite && i >= op.offset && i < op.offset + op.data.size() &&
             op.data[i - op.offset] == b;
    });
    RC_ASSERT(written);
  }
}

RC_GTEST_PROP(SimPowerCutProperty, TornWritesOnlyLeaveWrittenBytesOrZeros, ()) {
  const Bytes durable = *GenBytes(3000);
  const auto ops = *rc::gen::container<std::vector<SimFileOp>>(GenOp());
  const uint64_t seed = *rc::gen::arbitrary<uint64_t>();
  const Bytes after = ContentAfterPowerCut(durable, ops, PowerCutMode::kRandom, seed);
  CheckProvenance(durable, ops, after);
  RC_ASSERT(after == ContentAfterPowerCut(durable, ops, PowerCutMode::kRandom, seed));
  RC_ASSERT(ContentAfterPowerCut(durable, ops, PowerCutMode::kDropAll, seed) == durable);
  RC_ASSERT(ContentAfterPowerCut(durable, ops, PowerCutMode::kKeepAll, seed) == ApplyAll(durable, ops));
}

// The same property end to end through SimFileSystem, with syncs in the history: only the
// ops after the last sync may be torn, everything before it is the durable base.
RC_GTEST_PROP(SimPowerCutProperty, FileAfterPowerCutIsSyncedBytesPlusWrittenBytesOrZeros, ()) {
  const Bytes initial = *GenBytes(3000);
  const auto steps = *rc::gen::container<std::vector<std::pair<bool, SimFileOp>>>(
      rc::gen::pair(rc::gen::map(rc::gen::inRange(0, 5), [](int k) { return k == 0; }), GenOp()));
  const uint64_t seed = *rc::gen::arbitrary<uint64_t>();

  SimFileSystem fs;
  RC_ASSERT(fs.SetFileContent("/d/f", initial).ok());
  auto file = fs.Open("/d/f", OpenMode::kReadWrite);
  RC_ASSERT(file.ok());
  Bytes durable = initial;
  std::vector<SimFileOp> unsynced;
  for (const auto& [sync, op] : steps) {
    if (sync) {
      RC_ASSERT((*file)->Sync().ok());
      durable = ApplyAll(durable, unsynced);
      unsynced.clear();
      continue;
    }
    if (op.kind == SimFileOp::Kind::kTruncate) {
      RC_ASSERT((*file)->Truncate(op.offset).ok());
    } else {
      RC_ASSERT((*file)->WriteAt(op.offset, op.data).ok());
    }
    unsynced.push_back(op);
  }
  RC_ASSERT(*fs.DurableContent("/d/f") == durable);
  fs.PowerCut(seed, PowerCutMode::kRandom);
  CheckProvenance(durable, unsynced, *fs.CurrentContent("/d/f"));
}

}  // namespace
}  // namespace ironbus::io
