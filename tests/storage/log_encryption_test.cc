// At-rest encryption in storage::Log (spec/security.md 5): what reaches the segment files with
// and without a key, reads through the log, the SegmentReader's refusals, rotation at reopen,
// and the key file loader's permission checks.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "../io/temp_dir.h"
#include "base/clock.h"
#include "format/crc32c.h"
#include "format/key_ring.h"
#include "storage/key_file.h"
#include "storage/segment_reader.h"
#include "storage_test_util.h"

namespace ironbus::storage {
namespace {

using ::testing::HasSubstr;
using testing::OpenLog;
using testing::RawOptions;
using testing::Rec;
using testing::SegPath;

constexpr uint64_t kTs = 1'700'000'000'000;

std::shared_ptr<const format::KeyRing> Ring(uint64_t active, std::vector<std::pair<uint64_t, uint8_t>> keys,
                                           format::AeadSuite suite = format::AeadSuite::kAes256Gcm) {
  auto ring = std::make_shared<format::KeyRing>();
  for (auto [id, fill] : keys) EXPECT_TRUE(ring->Add(id, Bytes(32, fill)).ok());
  if (active != 0) {
    EXPECT_TRUE(ring->SetActive(active).ok());
  }
  ring->set_suite(suite);
  return ring;
}

LogOptions WithKeys(std::shared_ptr<const format::KeyRing> keys) {
  LogOptions o = RawOptions();
  o.keys = std::move(keys);
  return o;
}

Bytes FileBytes(io::FileSystem& fs, const std::string& path) {
  auto c = io::ReadWholeFile(fs, path, 1 << 30);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? *c : Bytes();
}

bool Contains(const Bytes& hay, std::string_view needle) {
  return std::search(hay.begin(), hay.end(), needle.begin(), needle.end()) != hay.end();
}

void Write(Log& log, const std::vector<std::string>& payloads) {
  for (const std::string& p : payloads) {
    const Bytes b = ToBytes(p);
    ASSERT_TRUE(log.Append(Rec(b, kTs)).ok());
  }
  ASSERT_TRUE(log.Sync().ok());
}

std::vector<std::string> ReadAll(const Log& log) {
  auto batch = log.Read(log.first_offset(), 1000, 1 << 30);
  EXPECT_TRUE(batch.ok()) << batch.status().ToString();
  std::vector<std::string> out;
  if (batch.ok()) {
    for (const LogRecord& r : batch->records) out.emplace_back(r.record.payload.begin(), r.record.payload.end());
  }
  return out;
}

TEST(LogEncryptionTest, WithoutAnActiveKeyTheSegmentBytesAreTheFixedPlaintextEncoding) {
  const std::vector<std::string> payloads = {"alpha-plain", "beta-plain", "gamma-plain"};
  // Expected bytes from the format encoders alone (whose output the corpus pins).
  format::SegmentHeader h;
  h.segment_id = 0;
  h.created_unix_ms = kTs;
  Bytes expected = format::EncodeSegmentHeader(h);
  for (size_t i = 0; i < payloads.size(); ++i) {
    format::Record r;
    r.seq = i;
    r.timestamp_ms = kTs;
    r.payload = ToBytes(payloads[i]);
    ASSERT_TRUE(format::EncodeRecord(r.view(), &expected).ok());
  }
  // No ring, and a ring holding only a read-only key: both write plaintext, byte for byte.
  for (auto keys : {std::shared_ptr<const format::KeyRing>(), Ring(0, {{9, 0x11}})}) {
    io::SimFileSystem fs;
    ASSERT_TRUE(fs.CreateDirs(testing::kDir).ok());
    ManualClock clock;
    clock.SetUnixMs(kTs);
    auto log = OpenLog(fs, testing::FreshState(), WithKeys(keys), &clock);
    ASSERT_NE(log, nullptr);
    Write(*log, payloads);
    EXPECT_EQ(FileBytes(fs, SegPath(0)), expected);
  }
}

class LogEncryptionSuiteTest : public ::testing::TestWithParam<format::AeadSuite> {};

TEST_P(LogEncryptionSuiteTest, ActiveKeyEncryptsEveryRecordAndReadsDecrypt) {
  io::SimFileSystem fs;
  ASSERT_TRUE(fs.CreateDirs(testing::kDir).ok());
  ManualClock clock;
  auto log = OpenLog(fs, testing::FreshState(), WithKeys(Ring(77, {{77, 0x42}}, GetParam())), &clock);
  ASSERT_NE(log, nullptr);
  Write(*log, {"secret-payload-one", "secret-payload-two"});
  const Bytes file = FileBytes(fs, SegPath(0));
  format::SegmentHeader h;
  ASSERT_EQ(format::DecodeSegmentHeader(file, &h), format::SegmentHeaderError::kOk);
  EXPECT_TRUE(format::SegmentEncrypted(h));
  EXPECT_EQ(format::SegmentAeadSuiteId(h), static_cast<uint8_t>(GetParam()));
  EXPECT_EQ(format::SegmentKeyId(h), 77u);
  EXPECT_FALSE(Contains(file, "secret-payload"));
  // Each frame: flag set, total = plaintext frame + 16.
  format::RecordView v;
  const auto d = format::DecodeRecord(ByteView(file).subspan(64), &v);
  ASSERT_EQ(d.outcome, format::ParseOutcome::kOk);
  EXPECT_NE(file[64 + format::kRecordOffFlags] & format::kFlagEncrypted, 0);
  EXPECT_EQ(d.frame_len, format::kMinRecordFrameSize + 18 + format::kAeadTagSize);
  EXPECT_EQ(ReadAll(*log), (std::vector<std::string>{"secret-payload-one", "secret-payload-two"}));
}

INSTANTIATE_TEST_SUITE_P(BothSuites, LogEncryptionSuiteTest,
                         ::testing::Values(format::AeadSuite::kAes256Gcm, format::AeadSuite::kChaCha20Poly1305),
                         [](const auto& info) {
                           return std::string(info.param == format::AeadSuite::kAes256Gcm ? "Aes" : "ChaCha");
                         });

TEST(LogEncryptionTest, SegmentReaderRefusesWithoutTheKeyOrWithTheWrongOne) {
  io::SimFileSystem fs;
  ASSERT_TRUE(fs.CreateDirs(testing::kDir).ok());
  ManualClock clock;
  {
    auto log = OpenLog(fs, testing::FreshState(), WithKeys(Ring(5, {{5, 0x01}})), &clock);
    Write(*log, {"hidden"});
    ASSERT_TRUE(log->Close().ok());
  }
  LogState state = testing::ScanCleanDir(fs);
  ASSERT_EQ(state.segments.size(), 1u);
  const SegmentState& st = state.segments[0];
  EXPECT_EQ(st.key_id, 5u);
  auto file = fs.Open(SegPath(0), io::OpenMode::kRead);
  ASSERT_TRUE(file.ok());
  auto wrong = Ring(0, {{5, 0x02}});  // same id, other bytes: the tag fails
  auto other = Ring(0, {{6, 0x01}});  // the right bytes under another id: unknown key id
  for (const format::KeyRing* keys : {static_cast<const format::KeyRing*>(nullptr), wrong.get(), other.get()}) {
    SegmentReader reader(file->get(), &st, st.valid_end, keys);
    SegmentRecord rec;
    auto more = reader.Next(&rec);
    ASSERT_FALSE(more.ok());
    EXPECT_TRUE(more.status().IsCorruption());
    EXPECT_THAT(more.status().message(), keys == wrong.get() ? HasSubstr("AeadTagMismatch") : HasSubstr("UnknownKeyId"));
  }
  auto right = Ring(0, {{5, 0x01}});
  SegmentReader reader(file->get(), &st, st.valid_end, right.get());
  SegmentRecord rec;
  auto more = reader.Next(&rec);
  ASSERT_TRUE(more.ok() && *more);
  EXPECT_EQ(std::string(rec.record.payload.begin(), rec.record.payload.end()), "hidden");
}

TEST(LogEncryptionTest, ReopenUnderANewKeySealsTheOldSegmentAndBothStayReadable) {
  io::SimFileSystem fs;
  ASSERT_TRUE(fs.CreateDirs(testing::kDir).ok());
  ManualClock clock;
  {
    auto log = OpenLog(fs, testing::FreshState(), WithKeys(Ring(1, {{1, 0x01}})), &clock);
    Write(*log, {"under-key-one"});
    ASSERT_TRUE(log->Close().ok());
  }
  {
    auto log = OpenLog(fs, testing::ScanCleanDir(fs), WithKeys(Ring(2, {{2, 0x02}, {1, 0x01}})), &clock);
    ASSERT_NE(log, nullptr);
    ASSERT_EQ(log->segments().size(), 2u);
    EXPECT_TRUE(log->segments()[0].sealed);
    Write(*log, {"under-key-two"});
    EXPECT_EQ(ReadAll(*log), (std::vector<std::string>{"under-key-one", "under-key-two"}));
    ASSERT_TRUE(log->Close().ok());
  }
  format::SegmentHeader h0, h1;
  ASSERT_EQ(format::DecodeSegmentHeader(FileBytes(fs, SegPath(0)), &h0), format::SegmentHeaderError::kOk);
  ASSERT_EQ(format::DecodeSegmentHeader(FileBytes(fs, SegPath(1)), &h1), format::SegmentHeaderError::kOk);
  EXPECT_EQ(format::SegmentKeyId(h0), 1u);
  EXPECT_EQ(format::SegmentKeyId(h1), 2u);
  // Removing the key: the next open writes plaintext in a new segment.
  auto log = OpenLog(fs, testing::ScanCleanDir(fs), RawOptions(), &clock);
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->segments().size(), 3u);
}

// ---- key file loading (spec/security.md 5.6, 6.2) ----

std::string WriteKeyFile(const std::string& dir, const std::string& name, size_t len, mode_t mode) {
  const std::string path = dir + "/" + name;
  std::ofstream(path, std::ios::binary) << std::string(len, 'k');
  EXPECT_EQ(::chmod(path.c_str(), mode), 0);
  return path;
}

TEST(KeyFileTest, OwnerOnly32ByteFileLoadsUnderItsDerivedId) {
  io::testing::TempDir tmp;
  const std::string path = WriteKeyFile(tmp.path(), "key", 32, 0600);
  auto ring = LoadKeyRing(path, {}, format::AeadSuite::kChaCha20Poly1305);
  ASSERT_TRUE(ring.ok()) << ring.status().ToString();
  ASSERT_NE(*ring, nullptr);
  EXPECT_EQ((*ring)->active_id(), format::KeyRing::DeriveKeyId(Bytes(32, 'k')));
  EXPECT_EQ((*ring)->suite(), format::AeadSuite::kChaCha20Poly1305);
}

TEST(KeyFileTest, Mode0644IsRefusedNamingPathAndCondition) {
  io::testing::TempDir tmp;
  const std::string path = WriteKeyFile(tmp.path(), "key", 32, 0644);
  auto ring = LoadKeyRing(path, {}, format::AeadSuite::kAes256Gcm);
  ASSERT_FALSE(ring.ok());
  EXPECT_THAT(ring.status().message(), HasSubstr(path));
  EXPECT_THAT(ring.status().message(), HasSubstr("group_world_readable"));
  // The message never carries key bytes.
  EXPECT_THAT(ring.status().message(), ::testing::Not(HasSubstr("kkkk")));
}

TEST(KeyFileTest, MissingWrongLengthAndNothingConfigured) {
  io::testing::TempDir tmp;
  auto missing = LoadKeyRing(tmp.path() + "/absent", {}, format::AeadSuite::kAes256Gcm);
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(), HasSubstr("missing"));
  for (size_t len : {0u, 31u, 33u}) {
    const std::string path = WriteKeyFile(tmp.path(), "k" + std::to_string(len), len, 0600);
    auto r = LoadKeyRing(path, {}, format::AeadSuite::kAes256Gcm);
    EXPECT_FALSE(r.ok()) << len;
  }
  const std::string old = WriteKeyFile(tmp.path(), "old", 32, 0600);
  auto bad_old = LoadKeyRing("", {old, tmp.path() + "/absent"}, format::AeadSuite::kAes256Gcm);
  EXPECT_FALSE(bad_old.ok());
  auto none = LoadKeyRing("", {}, format::AeadSuite::kAes256Gcm);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, nullptr);
  auto only_old = LoadKeyRing("", {old}, format::AeadSuite::kAes256Gcm);
  ASSERT_TRUE(only_old.ok());
  EXPECT_FALSE((*only_old)->has_active());
}

}  // namespace
}  // namespace ironbus::storage
