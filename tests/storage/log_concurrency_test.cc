// Readers concurrent with the appender (run under TSan in the sanitizer build), and the
// whole write path on the real POSIX file system.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

#include "io/posix_file_system.h"
#include "io/temp_dir.h"
#include "storage/appender.h"
#include "storage_test_util.h"

namespace ironbus::storage {
namespace {

using testing::Eventually;
using testing::Payload;

AppendRequest Req(uint64_t tag) {
  AppendRequest r;
  r.payload = Payload(tag, 24);
  return r;
}

// Writers submit and wait; readers chase the readable head from offset 0 and check every
// record they see: contiguous offsets, intact payloads, never past the durable offset.
void RunReadersAgainstWriters(io::FileSystem& fs, const std::string& dir, uint64_t max_segment_bytes) {
  constexpr int kWriters = 4;
  constexpr int kEach = 100;
  constexpr uint64_t kTotal = kWriters * kEach;
  ManualClock clock;
  LogState st = testing::FreshState(dir);
  auto log = testing::OpenLog(fs, st, testing::RawOptions(max_segment_bytes), &clock);
  ASSERT_NE(log, nullptr);
  auto appender = Appender::Start(log.get(), &clock);
  ASSERT_TRUE(appender.ok());

  std::atomic<bool> failed{false};
  auto reader = [&] {
    uint64_t next = 0;
    while (next < kTotal && !failed) {
      const uint64_t durable = log->durable_offset();
      auto batch = log->Read(next, 37, 4096);
      if (!batch.ok()) {
        ADD_FAILURE() << batch.status().ToString();
        failed = true;
        return;
      }
      for (const LogRecord& r : batch->records) {
        if (r.offset != next || r.record.payload.size() != 24 || r.record.payload[0] != 'p') {
          ADD_FAILURE() << "unexpected record at " << r.offset << ", wanted " << next;
          failed = true;
          return;
        }
        ++next;
      }
      // Only durable records are served: everything read was below the durable offset
      // observed after the read.
      if (next > log->durable_offset()) {
        ADD_FAILURE() << "read past the durable offset " << durable;
        failed = true;
        return;
      }
      if (batch->records.empty()) std::this_thread::yield();
    }
  };
  std::vector<std::thread> threads;
  for (int r = 0; r < 2; ++r) threads.emplace_back(reader);
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < kEach && !failed; ++i) {
        auto p = std::make_shared<std::promise<Result<uint64_t>>>();
        auto f = p->get_future();
        Status s = (*appender)->Submit(Req(w * 1000 + i), [p](Result<uint64_t> o) { p->set_value(std::move(o)); });
        if (!s.ok() || !f.get().ok()) {
          ADD_FAILURE() << "append failed";
          failed = true;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_TRUE((*appender)->Stop().ok());
  EXPECT_FALSE(failed.load());
  EXPECT_EQ(log->durable_offset(), kTotal);
  EXPECT_GT(log->segments().size(), 1u);  // the readers crossed rolls
  ASSERT_TRUE(log->Close().ok());
}

TEST(LogConcurrencyTest, ReadersChaseTheAppenderAcrossRollsOnSim) {
  io::SimFileSystem fs;
  ASSERT_TRUE(fs.CreateDirs("/data").ok());
  fs.SyncAll();
  RunReadersAgainstWriters(fs, "/data", 4096);
}

TEST(LogConcurrencyTest, ReadersChaseTheAppenderOnPosix) {
  io::testing::TempDir tmp;
  io::PosixFileSystem fs;
  RunReadersAgainstWriters(fs, tmp.path(), 8192);
  // What the appender acknowledged is what a clean scan of the directory finds.
  LogState st = testing::ScanCleanDir(fs, tmp.path());
  EXPECT_EQ(st.next_offset, 400u);
  for (size_t i = 0; i + 1 < st.segments.size(); ++i) EXPECT_TRUE(st.segments[i].sealed) << i;
}

TEST(LogConcurrencyTest, PowerCutKeepsEveryAcknowledgedRecord) {
  io::SimFileSystem fs;
  ASSERT_TRUE(fs.CreateDirs("/data").ok());
  fs.SyncAll();
  ManualClock clock;
  uint64_t acked = 0;
  {
    auto log = testing::OpenLog(fs, testing::FreshState(), testing::RawOptions(2048), &clock);
    auto appender = Appender::Start(log.get(), &clock);
    ASSERT_TRUE(appender.ok());
    std::atomic<uint64_t> max_acked{0};
    for (uint64_t i = 0; i < 100; ++i) {
      ASSERT_TRUE((*appender)
                      ->Submit(Req(i),
                               [&](Result<uint64_t> o) {
                                 if (o.ok()) max_acked = std::max<uint64_t>(max_acked.load(), *o + 1);
                               })
                      .ok());
    }
    // Cut the power while the appender may still be working: no Stop, no final sync.
    ASSERT_TRUE(Eventually([&] { return max_acked.load() >= 50; }));
    fs.PowerCut(42, io::PowerCutMode::kDropAll);
    acked = max_acked.load();
    // The appender now fails on the dead handles and freezes; that is fine.
    (void)(*appender)->Stop();
  }
  LogState st = testing::ScanCleanDir(fs);
  EXPECT_GE(st.next_offset, acked) << "seed 42: an acknowledged record was lost";
}

}  // namespace
}  // namespace ironbus::storage
