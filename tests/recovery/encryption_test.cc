// Recovery of encrypted segments (spec/security.md 5.5): every record is authenticated at
// open; a tampered record (CRCs fixed) or a wrong key is an AeadTagMismatch loss event with its
// exact byte range, a segment whose key id is not loaded is an UnknownKeyId event, both go
// through the caps, nothing is cut, and no such record is ever served.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "base/clock.h"
#include "format/crc32c.h"
#include "format/key_ring.h"
#include "io/sim_file_system.h"
#include "recovery/open_data_dir.h"
#include "recovery/recover.h"
#include "recovery_test_util.h"

namespace ironbus::recovery {
namespace {

constexpr char kDir[] = "/data";

std::shared_ptr<const format::KeyRing> Ring(uint64_t active, std::vector<std::pair<uint64_t, uint8_t>> keys) {
  auto ring = std::make_shared<format::KeyRing>();
  for (auto [id, fill] : keys) EXPECT_TRUE(ring->Add(id, Bytes(32, fill)).ok());
  if (active != 0) {
    EXPECT_TRUE(ring->SetActive(active).ok());
  }
  return ring;
}

storage::LogOptions Options(std::shared_ptr<const format::KeyRing> keys, uint64_t segment_bytes = 1 << 20) {
  storage::LogOptions o;
  o.compression = format::Compression::kNone;
  o.max_segment_bytes = segment_bytes;
  o.keys = std::move(keys);
  return o;
}

// Opens kDir with `keys`, appends `payloads`, closes. Returns the open's report.
LossReport Session(io::FileSystem* fs, std::shared_ptr<const format::KeyRing> keys,
                   const std::vector<std::string>& payloads, uint64_t segment_bytes = 1 << 20) {
  ManualClock clock;
  auto opened = OpenDataDir(fs, kDir, RecoveryOptions{}, Options(keys, segment_bytes), &clock);
  EXPECT_TRUE(opened.ok()) << opened.status().ToString();
  if (!opened.ok()) return {};
  for (const std::string& p : payloads) {
    storage::AppendRecord rec;
    rec.payload = AsBytes(p);
    EXPECT_TRUE(opened->log->Append(rec).ok());
  }
  EXPECT_TRUE(opened->log->Sync().ok());
  EXPECT_TRUE(opened->log->Close().ok());
  return opened->report;
}

std::vector<std::string> Served(io::FileSystem* fs, std::shared_ptr<const format::KeyRing> keys, LossReport* report,
                                uint64_t segment_bytes = 1 << 20) {
  ManualClock clock;
  auto opened = OpenDataDir(fs, kDir, RecoveryOptions{}, Options(keys, segment_bytes), &clock);
  EXPECT_TRUE(opened.ok()) << opened.status().ToString();
  if (!opened.ok()) return {};
  *report = opened->report;
  auto batch = opened->log->Read(opened->log->first_offset(), 1000, 1 << 30);
  EXPECT_TRUE(batch.ok()) << batch.status().ToString();
  std::vector<std::string> out;
  for (const auto& r : batch->records) out.emplace_back(r.record.payload.begin(), r.record.payload.end());
  return out;
}

// Frames of equal-length payloads: each is 44 + len + 16 bytes.
uint64_t FrameAt(size_t i, size_t payload_len) {
  return format::kSegmentHeaderSize + i * (format::kMinRecordFrameSize + payload_len + format::kAeadTagSize);
}

TEST(EncryptionRecoveryTest, TamperedRecordWithAFixedBodyCrcIsAnAeadTagMismatchWithItsExactRange) {
  io::SimFileSystem fs;
  auto keys = Ring(3, {{3, 0x33}});
  Session(&fs, keys, {"rec-0", "rec-1", "rec-2"});
  const std::string path = testing::SegPath(kDir, 0);
  Bytes file = testing::ReadFile(&fs, path);
  const uint64_t start = FrameAt(1, 5);
  const uint64_t end = FrameAt(2, 5);
  const uint64_t body = start + format::kRecordHeaderSize;
  const uint64_t stored = 5 + format::kAeadTagSize;
  file[body + 2] ^= 0x80;  // a ciphertext byte
  EncodeFixed32(file.data() + end - format::kRecordTrailerSize, format::crc32c::Value(file.data() + body, stored));
  testing::WriteFile(&fs, path, file);

  LossReport report;
  EXPECT_EQ(Served(&fs, keys, &report), (std::vector<std::string>{"rec-0", "rec-2"}));
  ASSERT_EQ(report.events.size(), 1u);
  const LossEvent& e = report.events[0];
  EXPECT_EQ(e.reason, LossReason::kAeadTagMismatch);
  EXPECT_EQ(e.segment_id, 0u);
  EXPECT_EQ(e.byte_offset_start, start);
  EXPECT_EQ(e.byte_offset_end, end);
  EXPECT_EQ(e.first_lost_offset, 1u);
  EXPECT_EQ(e.end_lost_offset, 2u);
  EXPECT_FALSE(e.truncated);
  EXPECT_FALSE(report.frozen);
  // Nothing was cut: the ciphertext stays for the right key.
  EXPECT_EQ(testing::ReadFile(&fs, path).size(), file.size());
}

TEST(EncryptionRecoveryTest, FlippedCiphertextWithoutCrcFixIsOrdinaryBodyCorruption) {
  io::SimFileSystem fs;
  auto keys = Ring(3, {{3, 0x33}});
  Session(&fs, keys, {"rec-0", "rec-1", "rec-2"});
  const std::string path = testing::SegPath(kDir, 0);
  Bytes file = testing::ReadFile(&fs, path);
  file[FrameAt(1, 5) + format::kRecordHeaderSize + 2] ^= 0x80;
  testing::WriteFile(&fs, path, file);
  LossReport report;
  EXPECT_EQ(Served(&fs, keys, &report), (std::vector<std::string>{"rec-0", "rec-2"}));
  ASSERT_EQ(report.events.size(), 1u);
  EXPECT_EQ(report.events[0].reason, LossReason::kCorruptRecordBody);
}

TEST(EncryptionRecoveryTest, WrongKeyUnderTheSameIdIsAeadTagMismatchAndNothingIsCutOrServed) {
  io::SimFileSystem fs;
  Session(&fs, Ring(3, {{3, 0x33}}), {"rec-0", "rec-1"});
  const uint64_t len = testing::ReadFile(&fs, testing::SegPath(kDir, 0)).size();
  LossReport report;
  // Read-only wrong key: the reopen must not write under it either.
  EXPECT_TRUE(Served(&fs, Ring(0, {{3, 0x34}}), &report).empty());
  ASSERT_EQ(report.events.size(), 1u);
  EXPECT_EQ(report.events[0].reason, LossReason::kAeadTagMismatch);
  EXPECT_EQ(report.events[0].byte_offset_start, format::kSegmentHeaderSize);
  EXPECT_EQ(report.events[0].byte_offset_end, FrameAt(2, 5));
  EXPECT_EQ(report.events[0].first_lost_offset, 0u);
  EXPECT_EQ(report.events[0].end_lost_offset, 2u);
  // The segment was sealed (a footer added), never truncated: its records are all still there.
  EXPECT_EQ(testing::ReadFile(&fs, testing::SegPath(kDir, 0)).size(), len + format::kSegmentFooterSize);
  // With the right key again, everything is back.
  EXPECT_EQ(Served(&fs, Ring(0, {{3, 0x33}}), &report), (std::vector<std::string>{"rec-0", "rec-1"}));
  EXPECT_TRUE(report.events.empty());
}

TEST(EncryptionRecoveryTest, UnknownKeyIdIsReportedNotServed) {
  io::SimFileSystem fs;
  Session(&fs, Ring(3, {{3, 0x33}}), {"rec-0", "rec-1"});
  Recovered rec;
  {
    RecoveryOptions ro;
    ro.mode = Mode::kDryRun;
    auto r = Recover(&fs, kDir, ro);  // no keys at all
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    rec = std::move(*r);
  }
  ASSERT_EQ(rec.report.events.size(), 1u);
  EXPECT_EQ(rec.report.events[0].reason, LossReason::kUnknownKeyId);
  EXPECT_EQ(rec.report.events[0].byte_offset_start, format::kSegmentHeaderSize);
  EXPECT_EQ(rec.report.events[0].first_lost_offset, 0u);
  EXPECT_EQ(rec.report.events[0].end_lost_offset, 2u);
  ASSERT_EQ(rec.state.segments.size(), 1u);
  ASSERT_EQ(rec.state.segments[0].skipped.size(), 1u);
  EXPECT_EQ(rec.state.segments[0].skipped[0].byte_start, format::kSegmentHeaderSize);
  LossReport report;
  EXPECT_TRUE(Served(&fs, Ring(0, {{4, 0x33}}), &report).empty());
  ASSERT_FALSE(report.events.empty());
  EXPECT_EQ(report.events[0].reason, LossReason::kUnknownKeyId);
}

TEST(EncryptionRecoveryTest, AnUnknownSuiteIdIsRefusedAsUnknownKeyIdEvenWithTheKeyLoaded) {
  io::SimFileSystem fs;
  auto keys = Ring(3, {{3, 0x33}});
  Session(&fs, keys, {"rec-0"});
  const std::string path = testing::SegPath(kDir, 0);
  Bytes file = testing::ReadFile(&fs, path);
  format::SegmentHeader h;
  ASSERT_EQ(format::DecodeSegmentHeader(file, &h), format::SegmentHeaderError::kOk);
  format::SetSegmentEncryption(&h, /*suite_id=*/3, format::SegmentKeyId(h));  // CRC recomputed below
  const Bytes head = format::EncodeSegmentHeader(h);
  std::copy(head.begin(), head.end(), file.begin());
  testing::WriteFile(&fs, path, file);
  LossReport report;
  EXPECT_TRUE(Served(&fs, keys, &report).empty());
  ASSERT_EQ(report.events.size(), 1u);
  EXPECT_EQ(report.events[0].reason, LossReason::kUnknownKeyId);
}

TEST(EncryptionRecoveryTest, RotationKeepsOldSegmentsReadableAndWithoutTheOldKeyTheyAreReportedLosses) {
  io::SimFileSystem fs;
  Session(&fs, Ring(1, {{1, 0x01}}), {"one-a", "one-b"});
  Session(&fs, Ring(2, {{2, 0x02}, {1, 0x01}}), {"two-a", "two-b"});
  LossReport report;
  EXPECT_EQ(Served(&fs, Ring(2, {{2, 0x02}, {1, 0x01}}), &report),
            (std::vector<std::string>{"one-a", "one-b", "two-a", "two-b"}));
  EXPECT_TRUE(report.events.empty());
  // Key 1 gone: its segment is an UnknownKeyId loss (within the caps here), key 2's records
  // are still served, and nothing crashes.
  std::vector<std::string> served = Served(&fs, Ring(2, {{2, 0x02}}), &report);
  EXPECT_EQ(served, (std::vector<std::string>{"two-a", "two-b"}));
  ASSERT_FALSE(report.events.empty());
  EXPECT_EQ(report.events[0].reason, LossReason::kUnknownKeyId);
  EXPECT_EQ(report.events[0].segment_id, 0u);
}

TEST(EncryptionRecoveryTest, AFloodOfUndecryptableSegmentsFailsClosedOnTheCaps) {
  io::SimFileSystem fs;
  std::vector<std::string> many;
  for (int i = 0; i < 40; ++i) many.push_back("payload-" + std::to_string(i) + std::string(100, 'x'));
  Session(&fs, Ring(1, {{1, 0x01}}), many, /*segment_bytes=*/1024);
  LossReport report;
  // Wrong key for every segment; the per-event cap is min(1024, 64 MiB) and the global one
  // max(0 durable bytes / 100, 1024): the losses together are far over it.
  EXPECT_TRUE(Served(&fs, Ring(0, {{1, 0x07}}), &report, 1024).empty());
  EXPECT_TRUE(report.frozen);
  EXPECT_GT(report.events.size(), 1u);
  for (const LossEvent& e : report.events) EXPECT_EQ(e.reason, LossReason::kAeadTagMismatch);
}

}  // namespace
}  // namespace ironbus::recovery
