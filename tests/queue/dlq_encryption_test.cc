// Dead letters under at-rest encryption (docs/security.md): the DLQ log is opened with the
// main log's keys, so a dead-lettered copy of an encrypted record is encrypted again under the
// active key (its own DLQ segment's nonce) and no plaintext reaches the disk.
#include <gtest/gtest.h>

#include <algorithm>

#include "format/key_ring.h"
#include "format/segment.h"
#include "format/segment_name.h"
#include "queue/queue_test_util.h"

namespace ironbus::queue {
namespace {

class DlqEncryptionTest : public testing::QueueTest {
 protected:
  void SetUp() override {
    auto ring = std::make_shared<format::KeyRing>();
    ASSERT_TRUE(ring->Add(9, Bytes(32, 0x09)).ok());
    ASSERT_TRUE(ring->SetActive(9).ok());
    log_options_.keys = ring;
    options_.visibility_timeout_ms = 1000;
    options_.max_deliver = 1;
  }
  bool AnyFileContains(const std::string& dir, std::string_view needle) {
    auto entries = fs_.List(dir);
    EXPECT_TRUE(entries.ok());
    for (const auto& e : *entries) {
      const std::string path = io::JoinPath(dir, e.name);
      if (*fs_.IsDirectory(path)) {
        if (AnyFileContains(path, needle)) return true;
        continue;
      }
      auto content = io::ReadWholeFile(fs_, path, 1 << 30);
      if (content.ok() && std::search(content->begin(), content->end(), needle.begin(), needle.end()) != content->end()) {
        return true;
      }
    }
    return false;
  }
};

TEST_F(DlqEncryptionTest, TheDeadLetterCopyIsEncryptedUnderTheActiveKey) {
  Open();
  Group* g = Subscribe(1, "orders-group");
  Produce("poison-plaintext", "secret-key", "h=secret-header");
  for (int i = 0; i < 10 && ReadDlq().empty(); ++i) {
    Window w = FetchN(g, 1, 1);
    for (const auto& d : Deliveries(w)) EXPECT_EQ(Nack(g, 1, d, 0), AckStatus::kOk);
  }
  auto dlq = ReadDlq();
  ASSERT_EQ(dlq.size(), 1u);
  EXPECT_EQ(AsChars(dlq[0].stored.record.payload), "poison-plaintext");
  EXPECT_EQ(AsChars(dlq[0].stored.record.key), "secret-key");
  EXPECT_EQ(dlq[0].group, "orders-group");
  // Neither the main log nor dlq/ holds the payload, key, headers or DLQ group in clear.
  auto top = fs_.List(testing::kDir);
  ASSERT_TRUE(top.ok());
  for (std::string_view clear : {"poison-plaintext", "secret-key", "secret-header", "orders-group"}) {
    EXPECT_FALSE(AnyFileContains(std::string(testing::kDir) + "/dlq", clear)) << clear;
    for (const auto& e : *top) {
      if (!format::ParseSegmentFileName(e.name)) continue;
      auto content = io::ReadWholeFile(fs_, io::JoinPath(testing::kDir, e.name), 1 << 30);
      ASSERT_TRUE(content.ok());
      EXPECT_EQ(std::search(content->begin(), content->end(), clear.begin(), clear.end()), content->end()) << clear;
    }
  }
  auto head = io::ReadWholeFile(fs_, std::string(testing::kDir) + "/dlq/" + format::SegmentFileName(0), 1 << 30);
  ASSERT_TRUE(head.ok());
  format::SegmentHeader h;
  ASSERT_EQ(format::DecodeSegmentHeader(*head, &h), format::SegmentHeaderError::kOk);
  EXPECT_TRUE(format::SegmentEncrypted(h));
  EXPECT_EQ(format::SegmentKeyId(h), 9u);
}

}  // namespace
}  // namespace ironbus::queue
