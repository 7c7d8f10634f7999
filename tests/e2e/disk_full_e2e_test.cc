// A disk that fills up during a run, on a real small file system: a tmpfs mounted with a size
// cap for the test (needs root, as CI runs; elsewhere the tests skip and say why). The real
// `ironbus serve` is driven by the client library and scraped over /metrics and /readyz.
//
//   - The free-disk watermark refuses publishes "at capacity" before the disk is full, and
//     nothing acknowledged is lost: every acked record is delivered back, byte for byte.
//   - /readyz turns not-ready with the figures; the refusals are counted in /metrics.
//   - Writes resume once consumers commit (the consumed segments go) and once a foreign file
//     that filled the disk is removed.
//   - With the watermark off, the disk really fills (ENOSPC when a segment is preallocated):
//     publishes are refused, the log never freezes, and a restart on the full disk keeps
//     every acknowledged record.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "client/client.h"
#include "e2e/e2e_test_util.h"
#include "server/http_test_util.h"

namespace ironbus::e2e {
namespace {

using client::Client;
using client::PublishRequest;
using server::testing::HttpGet;

constexpr uint64_t kMiB = 1ull << 20;
constexpr size_t kPayloadBytes = 4096;

// Incompressible payload `i`: its id in the first 8 bytes, then bytes from a seeded PRNG (the
// broker's lz4 would otherwise shrink it and the disk would fill much later).
Bytes PayloadFor(uint64_t i) {
  Bytes b(kPayloadBytes);
  std::mt19937_64 rng(i * 7919 + 1);
  for (size_t j = 0; j < b.size(); j += 8) {
    const uint64_t v = j == 0 ? i : rng();
    for (size_t k = 0; k < 8 && j + k < b.size(); ++k) b[j + k] = static_cast<uint8_t>(v >> (8 * k));
  }
  return b;
}

uint64_t FreeBytes(const std::string& path) {
  struct statvfs st {};
  if (statvfs(path.c_str(), &st) != 0) return 0;
  return static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
}

class DiskFullE2E : public E2ETest {
 protected:
  void SetUp() override {
    E2ETest::SetUp();
    mount_ = scratch_.path() + "/small-disk";
    ASSERT_EQ(::mkdir(mount_.c_str(), 0700), 0);
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to mount a size-capped tmpfs (CI runs as root)";
    if (::mount("tmpfs", mount_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "size=12m,mode=0700") != 0) {
      GTEST_SKIP() << "mount tmpfs refused (" << std::strerror(errno) << "): no small file system for this test";
    }
    mounted_ = true;
    data_ = mount_ + "/data";
  }
  void TearDown() override {
    broker_.reset();  // SIGKILL if still running, before the unmount
    if (mounted_) ::umount2(mount_.c_str(), MNT_DETACH);
  }

  // Starts the broker on the small disk; returns its wire address and sets health_port_.
  std::string StartBroker(std::vector<std::string> extra) {
    extra.insert(extra.end(), {"--max-segment-bytes", "1048576", "--health-addr", "127.0.0.1:0"});
    broker_ = std::make_unique<Broker>(data_, scratch_.path(), extra);
    const std::string addr = broker_->WaitListening();
    EXPECT_FALSE(addr.empty()) << broker_->errors();
    health_port_ = broker_->HealthPort();
    EXPECT_NE(health_port_, 0) << broker_->output();
    return addr;
  }

  // Publishes payloads from `next_id_` on until the first refusal; returns the refusal's text.
  std::string PublishUntilRefused(Client& c) {
    for (int n = 0; n < 100'000; ++n) {
      PublishRequest r;
      r.payload = PayloadFor(next_id_);
      Result<uint64_t> offset = c.Publish(r);
      if (!offset.ok()) return offset.status().message() + " / " + c.last_error().message;
      acked_[*offset] = next_id_++;
    }
    return "never refused";
  }

  // Drains the default group with acks; checks every delivered payload against what was acked
  // at that offset. Returns how many were delivered.
  uint64_t DrainAndCheck(Client& c) {
    uint64_t delivered = 0;
    for (;;) {
      auto window = c.Fetch({.max_records = 64, .max_bytes = 0, .no_wait = true, .expires = {}});
      EXPECT_TRUE(window.ok()) << window.status().ToString();
      if (!window.ok() || window->messages.empty()) break;
      for (const client::Message& m : window->messages) {
        auto it = acked_.find(m.offset);
        EXPECT_NE(it, acked_.end()) << "phantom record at offset " << m.offset;
        if (it != acked_.end()) {
          EXPECT_EQ(m.payload, PayloadFor(it->second)) << "offset " << m.offset;
        }
        ++delivered;
      }
      auto acks = c.AckAll(window->messages);
      EXPECT_TRUE(acks.ok()) << acks.status().ToString();
    }
    return delivered;
  }

  std::string mount_;
  bool mounted_ = false;
  std::unique_ptr<Broker> broker_;
  uint16_t health_port_ = 0;
  std::map<uint64_t, uint64_t> acked_;  // offset -> payload id
  uint64_t next_id_ = 0;
};

TEST_F(DiskFullE2E, WatermarkRefusesBeforeTheDiskIsFullAndWritesResumeWhenSpaceFrees) {
  const std::string addr = StartBroker({"--min-free-bytes", "3145728"});
  auto c = Client::Connect(addr);
  ASSERT_TRUE(c.ok()) << c.status().ToString();

  const std::string refusal = PublishUntilRefused(**c);
  EXPECT_NE(refusal.find("at capacity"), std::string::npos) << refusal;
  EXPECT_NE(refusal.find("below min_free_bytes"), std::string::npos) << refusal;
  EXPECT_GT(acked_.size(), 500u) << "about 12 MiB - 3 MiB of 4 KiB records fit";
  // Stopped before the disk was full: the watermark's worth is still free (less at most the
  // preallocated active segment and the ~768 KiB between two statvfs readings).
  EXPECT_GT(FreeBytes(mount_), kMiB) << "the disk was allowed to fill";

  // Visible: not ready with the reason, the refusal counted, the figures exported.
  server::testing::HttpReply ready = HttpGet(health_port_, "/readyz");
  EXPECT_EQ(ready.status, 503) << ready.body;
  EXPECT_NE(ready.body.find("at capacity"), std::string::npos) << ready.body;
  const std::string metrics = HttpGet(health_port_, "/metrics").body;
  EXPECT_EQ(MetricValue(metrics, "ironbus_at_capacity"), 1) << metrics;
  EXPECT_GE(MetricValue(metrics, "ironbus_produce_at_capacity_total"), 1);
  EXPECT_EQ(MetricValue(metrics, "ironbus_min_free_bytes"), 3.0 * kMiB);
  EXPECT_EQ(MetricValue(metrics, "ironbus_produced_total"), static_cast<double>(acked_.size()));

  // Nothing acknowledged was lost: the default group gets every record back, byte for byte.
  EXPECT_EQ(DrainAndCheck(**c), acked_.size());

  // The group committed everything: the consumed segments may go, so publishing resumes.
  PublishRequest r;
  r.payload = PayloadFor(next_id_);
  Result<uint64_t> resumed = (*c)->Publish(r);
  ASSERT_TRUE(resumed.ok()) << resumed.status().ToString() << " " << (*c)->last_error().message;
  acked_[*resumed] = next_id_++;
  const std::string after = HttpGet(health_port_, "/metrics").body;
  EXPECT_GT(MetricValue(after, "ironbus_segments_reaped_total"), 0) << after;
  EXPECT_EQ(MetricValue(after, "ironbus_segments_force_reaped_total"), 0);
  EXPECT_EQ(HttpGet(health_port_, "/readyz").status, 200);

  // A foreign file fills the disk past the watermark: refused again, before ENOSPC.
  const std::string hog = mount_ + "/hog";
  {
    std::ofstream out(hog, std::ios::binary);
    const std::string block(64 * 1024, 'h');
    while (FreeBytes(mount_) > 2 * kMiB && out.write(block.data(), block.size())) {
    }
  }
  const std::string hogged = PublishUntilRefused(**c);
  EXPECT_NE(hogged.find("below min_free_bytes"), std::string::npos) << hogged;
  ASSERT_EQ(::unlink(hog.c_str()), 0);
  Result<uint64_t> again = (*c)->Publish(r);
  ASSERT_TRUE(again.ok()) << again.status().ToString() << " " << (*c)->last_error().message;
  acked_[*again] = next_id_ - 1;  // the same payload, published again: a new record
  (*c)->Close();

  // A clean stop and a restart keep every record acknowledged since the drain.
  ASSERT_EQ(broker_->Stop(SIGTERM), 0) << broker_->errors();
  const std::vector<uint64_t> dumped = DumpedOffsets(data_, scratch_.path());
  for (const auto& [offset, id] : acked_) {
    if (offset < *resumed) continue;  // consumed and reaped by design
    EXPECT_TRUE(std::find(dumped.begin(), dumped.end(), offset) != dumped.end()) << "acked offset " << offset << " lost";
  }
}

TEST_F(DiskFullE2E, WithoutTheWatermarkAFullDiskRefusesWithoutFreezingAndLosesNothing) {
  const std::string addr = StartBroker({"--min-free-bytes", "0"});
  auto c = Client::Connect(addr);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  const std::string refusal = PublishUntilRefused(**c);
  EXPECT_NE(refusal.find("at capacity"), std::string::npos) << refusal;
  EXPECT_GT(acked_.size(), 1000u);
  EXPECT_LT(FreeBytes(mount_), kMiB) << "the disk really is full";
  // Refused, not frozen: the writer stays healthy and says why it is not ready.
  server::testing::HttpReply ready = HttpGet(health_port_, "/readyz");
  EXPECT_EQ(ready.status, 503);
  EXPECT_EQ(ready.body.find("frozen"), std::string::npos) << ready.body;
  const std::string metrics = HttpGet(health_port_, "/metrics").body;
  EXPECT_EQ(MetricValue(metrics, "ironbus_writer_healthy"), 1) << metrics;
  (*c)->Close();

  // A restart on the full disk recovers every acknowledged record, in order, and serves them.
  ASSERT_EQ(broker_->Stop(SIGTERM), 0) << broker_->errors();
  const std::string addr2 = StartBroker({"--min-free-bytes", "0"});
  ASSERT_FALSE(addr2.empty());
  auto c2 = Client::Connect(addr2);
  ASSERT_TRUE(c2.ok()) << c2.status().ToString();
  EXPECT_EQ(DrainAndCheck(**c2), acked_.size());
  // Consumed: the next publish frees the consumed segments and goes in.
  PublishRequest r;
  r.payload = PayloadFor(next_id_);
  Result<uint64_t> resumed = (*c2)->Publish(r);
  ASSERT_TRUE(resumed.ok()) << resumed.status().ToString() << " " << (*c2)->last_error().message;
  EXPECT_EQ(*resumed, acked_.rbegin()->first + 1);
}

}  // namespace
}  // namespace ironbus::e2e
