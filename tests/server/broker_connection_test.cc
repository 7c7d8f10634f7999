// How the broker treats a connection: unknown and unsupported frames, unframeable streams, the
// connection cap, the idle and slow-reader bounds, a frozen log, and the graceful stop
// (spec/protocol.md sections 2, 6, 9, 14; spec/cli-config-ops.md section 8).
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <atomic>
#include <thread>

#include "server/broker_test_util.h"

namespace ironbus::server::testing {
namespace {

TEST(BrokerFrames, UnknownTagGetsErrAndTheConnectionIsKept) {
  BrokerHarness h;
  RawConn c(h.port());
  c.Handshake();
  ASSERT_TRUE(c.SendRaw(200, {}));
  EXPECT_EQ(c.ReadAs<pr::Err>().message, "unknown frame type");
  ASSERT_TRUE(c.SendRaw(0, {}));
  EXPECT_EQ(c.ReadAs<pr::Err>().message, "unknown frame type");
  ASSERT_TRUE(c.SendFrame(pr::Ping{}));
  c.ReadAs<pr::Pong>();
}

TEST(BrokerFrames, ResponseReservedAndPeerTagsAreNotSupportedOnTheClientPort) {
  BrokerHarness h;
  RawConn c(h.port());
  c.Handshake();
  for (uint8_t tag : {uint8_t{14}, uint8_t{9}, uint8_t{4}, uint8_t{27}, uint8_t{42}, uint8_t{51}}) {
    ASSERT_TRUE(c.SendRaw(tag, {}));
    EXPECT_EQ(c.ReadAs<pr::Err>().message, "verb not supported on this connection") << "tag " << int{tag};
  }
  ASSERT_TRUE(c.SendFrame(pr::Ping{}));
  c.ReadAs<pr::Pong>();
}

TEST(BrokerFrames, UnbuiltV2VerbsAreNotSupportedAndNeverCrash) {
  BrokerHarness h;
  RawConn c(h.port());
  c.Handshake();
  ASSERT_TRUE(c.SendFrame(pr::StreamDeclare{ToBytes("orders")}));
  EXPECT_EQ(c.ReadAs<pr::Err>().message, "verb not supported on this connection");
  ASSERT_TRUE(c.SendRaw(44, {}));  // TxnPrepare: a client verb with no codec yet
  EXPECT_EQ(c.ReadAs<pr::Err>().message, "verb not supported on this connection");
  ASSERT_TRUE(c.SendFrame(MakePub("still fine")));
  EXPECT_EQ(c.ReadAs<pr::PubAck>().offset, 0u);
}

TEST(BrokerFrames, MalformedPubBodyGetsErrAndTheConnectionIsKept) {
  BrokerHarness h;
  RawConn c(h.port());
  c.Handshake();
  const uint8_t short_body[] = {0x00, 1, 2};  // flags, then a timestamp cut short
  ASSERT_TRUE(c.SendRaw(5, short_body));
  const auto err = c.ReadAs<pr::Err>();
  EXPECT_TRUE(err.code.empty());
  EXPECT_EQ(err.message, "malformed pub body");
  ASSERT_TRUE(c.SendFrame(MakePub("next")));
  EXPECT_EQ(c.ReadAs<pr::PubAck>().offset, 0u);
}

TEST(BrokerFraming, AnOversizeLengthClosesTheConnectionAfterItsQueuedReplies) {
  BrokerOptions o;
  o.max_frame_len = 1024;
  BrokerHarness h(o);
  RawConn c(h.port());
  c.Handshake();
  Bytes bytes;
  ASSERT_TRUE(pr::EncodeFrame(pr::Frame(pr::Ping{}), &bytes).ok());
  PutFixed32(&bytes, 2048);  // a length over the maximum: checked on the prefix alone
  ASSERT_TRUE(c.Send(bytes));
  c.ReadAs<pr::Pong>();  // the reply owed before the bad prefix is still written
  EXPECT_TRUE(c.WaitClosed());
  EXPECT_EQ(h.broker().stats().framing_errors, 1u);
  EXPECT_NE(h.lines().find("above the maximum"), std::string::npos) << h.lines();
}

TEST(BrokerFraming, GarbageClosesThatConnectionAndOthersAreStillServed) {
  BrokerHarness h;
  RawConn good(h.port());
  good.Handshake();
  RawConn bad(h.port());
  ASSERT_TRUE(bad.Send(AsBytes("GET / HTTP/1.1\r\nHost: x\r\n\r\n")));
  EXPECT_TRUE(bad.WaitClosed());
  RawConn zero(h.port());
  const uint8_t zero_len[] = {0, 0, 0, 0};
  ASSERT_TRUE(zero.Send(zero_len));
  EXPECT_TRUE(zero.WaitClosed());
  ASSERT_TRUE(good.SendFrame(MakePub("after the garbage")));
  EXPECT_EQ(good.ReadAs<pr::PubAck>().offset, 0u);
  EXPECT_EQ(h.broker().stats().framing_errors, 2u);
}

TEST(BrokerLimits, ConnectionsPastTheCapAreClosedAtOnce) {
  BrokerOptions o;
  o.max_connections = 2;
  BrokerHarness h(o);
  auto a = std::make_unique<RawConn>(h.port());
  a->Handshake();
  RawConn b(h.port());
  b.Handshake();
  RawConn third(h.port());
  ASSERT_TRUE(third.connected());  // TCP accepts it; the broker closes it with no frame
  (void)third.SendFrame(pr::Connect{});
  EXPECT_TRUE(third.WaitClosed());
  EXPECT_GE(h.broker().stats().connections_refused, 1u);
  // Once a slot frees (the broker notices the close asynchronously), a new client gets in.
  a.reset();
  bool admitted = false;
  for (int attempt = 0; attempt < 200 && !admitted; ++attempt) {
    RawConn next(h.port());
    (void)next.SendFrame(pr::Connect{});
    auto reply = next.Read();
    admitted = reply.ok() && std::holds_alternative<pr::Info>(*reply);
    if (!admitted) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(admitted);
}

TEST(BrokerLimits, TenThousandIdleConnectionsAreRefusedPastTheCapAndTheAdmittedClientIsStillServed) {
  // The test process holds every idle socket open, so it needs the file descriptors.
  rlimit limit{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
  limit.rlim_cur = std::min<rlim_t>(limit.rlim_max, 30'000);
  (void)setrlimit(RLIMIT_NOFILE, &limit);
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
  const size_t attempts = std::min<size_t>(10'000, limit.rlim_cur > 2'000 ? limit.rlim_cur - 1'000 : 0);
  ASSERT_GE(attempts, 500u) << "file descriptor limit too low for this test";
  BrokerOptions o;
  o.max_connections = 64;
  BrokerHarness h(o);
  RawConn worker(h.port());
  worker.Handshake();
  std::vector<std::unique_ptr<RawConn>> idle;
  idle.reserve(attempts);
  for (size_t i = 0; i < attempts; ++i) idle.push_back(std::make_unique<RawConn>(h.port()));
  // The admitted client is still served: publish, consume, ack.
  ASSERT_TRUE(worker.SendFrame(MakePub("through the flood")));
  EXPECT_EQ(worker.ReadAs<pr::PubAck>().offset, 0u);
  ASSERT_TRUE(worker.SendFrame(pr::Fetch{true, 8, 0, 0}));
  const auto deliver = worker.ReadAs<pr::Deliver>();
  EXPECT_EQ(Str(deliver.payload), "through the flood");
  EXPECT_EQ(worker.ReadAs<pr::FlowEnd>().count, 1u);
  ASSERT_TRUE(worker.SendFrame(pr::Ack{pr::kAckOpAck, deliver.offset, deliver.generation, 0}));
  EXPECT_EQ(worker.ReadAs<pr::AckStatus>().status, 1);
  // Every attempt was seen by the broker: at most 64 were admitted, the rest closed at once.
  BrokerStats stats = h.broker().stats();
  for (int i = 0; i < 1'000 && stats.connections_accepted + stats.connections_refused < attempts + 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    stats = h.broker().stats();
  }
  EXPECT_EQ(stats.connections_accepted + stats.connections_refused, attempts + 1);
  EXPECT_LE(stats.connections_open, 64u);
  EXPECT_GE(stats.connections_refused, attempts + 1 - 64);
  idle.clear();
}

TEST(BrokerLimits, AnIdleConnectionIsClosed) {
  BrokerOptions o;
  o.idle_timeout = std::chrono::milliseconds(200);
  BrokerHarness h(o);
  RawConn c(h.port());
  c.Handshake();
  EXPECT_TRUE(c.WaitClosed(20'000));
  EXPECT_EQ(h.broker().stats().idle_closed, 1u);
  EXPECT_NE(h.lines().find("idle"), std::string::npos) << h.lines();
}

TEST(BrokerLimits, PingKeepsAConnectionAlive) {
  BrokerOptions o;
  o.idle_timeout = std::chrono::milliseconds(1'500);
  BrokerHarness h(o);
  RawConn c(h.port());
  c.Handshake();
  // 30 pings 100 ms apart: three times the idle window in total, never idle for one.
  for (int i = 0; i < 30; ++i) {
    ASSERT_TRUE(c.SendFrame(pr::Ping{}));
    c.ReadAs<pr::Pong>();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(h.broker().stats().idle_closed, 0u);
}

TEST(BrokerLimits, AClientThatStopsReadingIsDisconnectedAndOthersAreServed) {
  BrokerOptions o;
  o.write_timeout = std::chrono::milliseconds(300);
  o.idle_timeout = std::chrono::milliseconds(300);
  o.max_pending_replies = 16;
  o.socket_send_buffer_bytes = 4096;
  BrokerHarness h(o);
  RawConn slow(h.port(), /*receive_buffer_bytes=*/4096);
  slow.Handshake();
  // Pings whose Pongs are never read: the kernel buffers fill, the broker's reply queue fills,
  // it stops reading, and after write_timeout it cuts the connection.
  Bytes pings;
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(pr::EncodeFrame(pr::Frame(pr::Ping{}), &pings).ok());
  // This client never reads. Sends time out instead of blocking once everything is full.
  timeval send_timeout{0, 100'000};
  ::setsockopt(slow.fd(), SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof(send_timeout));
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (h.broker().stats().slow_closed == 0 && std::chrono::steady_clock::now() < give_up) {
    (void)::send(slow.fd(), pings.data(), pings.size(), MSG_NOSIGNAL);
  }
  EXPECT_EQ(h.broker().stats().slow_closed, 1u);
  RawConn other(h.port());
  other.Handshake();
  ASSERT_TRUE(other.SendFrame(MakePub("served")));
  EXPECT_EQ(other.ReadAs<pr::PubAck>().offset, 0u);
}

TEST(BrokerStorage, AFailedSyncIsAFatalStorageErrorThenTheFrozenLogRefusesWithErrStorage) {
  BrokerHarness h;
  RawConn first(h.port());
  first.Handshake();
  ASSERT_TRUE(first.SendFrame(MakePub("durable")));
  EXPECT_EQ(first.ReadAs<pr::PubAck>().offset, 0u);

  h.fs().FailNextSync();
  ASSERT_TRUE(first.SendFrame(MakePub("lost")));
  const auto fatal = first.ReadAs<pr::Err>();
  EXPECT_EQ(fatal.code, "ERR_STORAGE");
  EXPECT_TRUE(first.WaitClosed()) << "a fatal storage error ends the session";

  RawConn second(h.port());
  second.Handshake();
  ASSERT_TRUE(second.SendFrame(MakePub("refused")));
  const auto frozen = second.ReadAs<pr::Err>();
  EXPECT_EQ(frozen.code, "ERR_STORAGE");
  EXPECT_NE(frozen.message.find("log frozen"), std::string::npos) << frozen.message;
  ASSERT_TRUE(second.SendFrame(pr::Ping{}));  // a refusal keeps the connection
  second.ReadAs<pr::Pong>();
  EXPECT_TRUE(h.log().frozen());
}

TEST(BrokerStorage, ALogAtCapacityRefusesWithErrAtCapacity) {
  BrokerHarness h({}, {}, /*segment_bytes=*/4096);
  RawConn c(h.port());
  c.Handshake();
  h.fs().NoSpaceOnPreallocate("", 1000);  // the next segment cannot be created
  std::string payload(1000, 'x');
  bool refused = false;
  for (int i = 0; i < 20 && !refused; ++i) {
    ASSERT_TRUE(c.SendFrame(MakePub(payload)));
    auto frame = c.Read();
    ASSERT_TRUE(frame.ok()) << frame.status().ToString();
    if (auto* err = std::get_if<pr::Err>(&*frame)) {
      EXPECT_EQ(err->code, "ERR_AT_CAPACITY");
      refused = true;
    }
  }
  EXPECT_TRUE(refused);
  EXPECT_FALSE(h.log().frozen()) << "at capacity is not a failure";
}

TEST(BrokerStop, GracefulStopAcksEveryAppendItAcceptedAndClosesCleanly) {
  BrokerHarness h;
  RawConn c(h.port());
  c.Handshake();
  Bytes window;
  constexpr int kPubs = 2000;
  for (int i = 0; i < kPubs; ++i) ASSERT_TRUE(pr::EncodeFrame(pr::Frame(MakePub(std::to_string(i))), &window).ok());
  std::thread writer([&] { (void)c.Send(window); });
  EXPECT_EQ(c.ReadAs<pr::PubAck>().offset, 0u);  // the produce path is running
  std::thread stopper([&] { h.broker().Stop(); });
  // Every reply that comes is a PubAck in order or "shutting down"; then a clean close.
  uint64_t acked = 1;
  uint64_t refused = 0;
  for (;;) {
    auto frame = c.Read(20'000);
    if (!frame.ok()) {
      EXPECT_EQ(frame.status().message(), "closed");
      break;
    }
    if (auto* ack = std::get_if<pr::PubAck>(&*frame)) {
      EXPECT_EQ(refused, 0u) << "an ack after a refusal would be out of order";
      EXPECT_EQ(ack->offset, acked++);
    } else {
      ASSERT_TRUE(std::holds_alternative<pr::Err>(*frame));
      EXPECT_EQ(std::get<pr::Err>(*frame).message, "shutting down");
      ++refused;
    }
  }
  stopper.join();
  ::shutdown(c.fd(), SHUT_RDWR);
  writer.join();
  EXPECT_LE(acked + refused, static_cast<uint64_t>(kPubs));
  // Every acked record is durable (the appender stopped with a final sync).
  EXPECT_GE(h.log().durable_offset(), acked);
  // Every record the broker appended was acked to the client before the close.
  EXPECT_EQ(acked, h.log().next_offset());
}

}  // namespace
}  // namespace ironbus::server::testing
