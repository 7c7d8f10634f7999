// Named crash points in the real `ironbus serve` (test builds compile them in; base/crash_point.h):
// for each point on the publish path, the broker is started with IRONBUS_CRASH_AT=<point>:<n>,
// driven by a pipelined producer until it dies there (exit 137, the way SIGKILL ends it), then
// restarted. Asserted against the producer's model: every acknowledged publish is present
// exactly once at its acknowledged offset with its bytes, every record present was sent by us
// (no phantom), offsets ascend with no duplicate, and the next publish continues the log.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <map>
#include <string>
#include <vector>

#include "client/client.h"
#include "e2e/e2e_test_util.h"

namespace ironbus::e2e {
namespace {

using client::Client;
using client::PublishRequest;

struct Case {
  const char* point;
  int hit;  // the crash fires at this hit of the point
};

// Every named point a publish passes through (storage/appender.cc, storage/segment_writer.cc,
// storage/log.cc), each at a hit that lands mid-run with 4 KiB segments. retention.after_unlink
// and dlq.after_sync need consumers and are covered in-process (tests/storage, tests/queue).
const Case kCases[] = {
    {"appender.after_write_before_sync", 12}, {"appender.after_sync_before_ack", 12},
    {"segment.after_create", 3},              {"segment.after_header_sync", 3},
    {"segment.after_seal_before_create", 2},
};

std::string PayloadText(uint64_t id) {
  std::string p = "record-" + std::to_string(id) + "-";
  while (p.size() < 200) p += static_cast<char>('a' + (id * 7 + p.size()) % 26);
  return p;
}

class CrashPointE2E : public E2ETest, public ::testing::WithParamInterface<Case> {};

TEST_P(CrashPointE2E, AcknowledgedPublishesSurviveACrashAtTheNamedPoint) {
  const Case c = GetParam();
  const std::string target = std::string(c.point) + ":" + std::to_string(c.hit);
  const std::vector<std::string> flags = {"--max-segment-bytes", "4096", "--compression", "none"};

  ::setenv("IRONBUS_CRASH_AT", target.c_str(), 1);
  auto crashing = std::make_unique<Broker>(data_, scratch_.path(), flags);
  ::unsetenv("IRONBUS_CRASH_AT");
  const std::string addr = crashing->WaitListening();
  ASSERT_FALSE(addr.empty()) << crashing->errors();
  auto c1 = Client::Connect(addr);
  ASSERT_TRUE(c1.ok()) << c1.status().ToString();

  std::map<uint64_t, uint64_t> acked;  // offset -> payload id
  std::vector<PublishRequest> requests;
  for (uint64_t id = 0; id < 600; ++id) {
    PublishRequest r;
    r.payload = ToBytes(PayloadText(id));
    requests.push_back(std::move(r));
  }
  std::vector<client::PublishResult> results = (*c1)->PublishWindow(requests, 8);
  bool broke = false;
  for (size_t id = 0; id < results.size(); ++id) {
    if (results[id].ok()) {
      ASSERT_TRUE(acked.emplace(results[id].offset, id).second) << "offset acked twice: " << results[id].offset;
    } else {
      broke = true;
    }
  }
  ASSERT_TRUE(broke) << target << " never fired in 600 publishes";
  (*c1)->Close();
  EXPECT_EQ(crashing->Stop(SIGKILL), 137) << target << " did not end the broker: " << crashing->errors();

  // Restart without the crash point: recovery keeps exactly what reached the disk.
  Broker restarted(data_, scratch_.path(), flags);
  const std::string addr2 = restarted.WaitListening();
  ASSERT_FALSE(addr2.empty()) << restarted.errors();
  auto c2 = Client::Connect(addr2);
  ASSERT_TRUE(c2.ok());
  ASSERT_TRUE((*c2)->Subscribe("check").ok());
  std::map<uint64_t, std::string> present;
  for (;;) {
    auto window = (*c2)->Fetch({.max_records = 256, .max_bytes = 0, .no_wait = true, .expires = {}});
    ASSERT_TRUE(window.ok()) << window.status().ToString();
    if (window->messages.empty()) break;
    for (const client::Message& m : window->messages) {
      ASSERT_TRUE(present.emplace(m.offset, std::string(m.payload.begin(), m.payload.end())).second)
          << "offset delivered twice: " << m.offset;
    }
    ASSERT_TRUE((*c2)->AckAll(window->messages).ok());
  }
  for (const auto& [offset, id] : acked) {
    auto it = present.find(offset);
    ASSERT_NE(it, present.end()) << target << ": acknowledged offset " << offset << " lost";
    EXPECT_EQ(it->second, PayloadText(id)) << target << ": offset " << offset;
  }
  // No phantom: every record present is one we sent, in send order.
  uint64_t previous_id = 0;
  bool first = true;
  for (const auto& [offset, payload] : present) {
    const size_t dash = payload.find('-', 7);
    ASSERT_EQ(payload.rfind("record-", 0), 0u) << "phantom at " << offset;
    const uint64_t id = std::stoull(payload.substr(7, dash - 7));
    EXPECT_EQ(payload, PayloadText(id)) << "offset " << offset;
    if (!first) {
      EXPECT_GT(id, previous_id) << "order broken at offset " << offset;
    }
    previous_id = id;
    first = false;
  }
  // The log continues after the recovered head.
  PublishRequest next;
  next.payload = ToBytes(std::string("after-restart"));
  Result<uint64_t> offset = (*c2)->Publish(next);
  ASSERT_TRUE(offset.ok()) << offset.status().ToString();
  if (!present.empty()) {
    EXPECT_GT(*offset, present.rbegin()->first);
  }
  EXPECT_EQ(restarted.Stop(SIGTERM), 0) << restarted.errors();
}

INSTANTIATE_TEST_SUITE_P(PublishPath, CrashPointE2E, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           std::string name = info.param.point;
                           for (char& ch : name) {
                             if (ch == '.') ch = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace ironbus::e2e
