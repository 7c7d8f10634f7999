// The health and metrics listener over real loopback sockets: each endpoint, 404/405/431, a
// request split across segments, a slow client cut by the read deadline, the connection cap,
// the loopback-only bind rule, and /readyz turning 503 when the broker's log freezes.
#include "server/health_server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "client/client.h"
#include "server/broker_test_util.h"
#include "server/http_test_util.h"

namespace ironbus::server {
namespace {

using testing::BrokerHarness;
using testing::HttpConn;
using testing::HttpGet;

std::unique_ptr<HealthServer> StartOrDie(HealthOptions options, std::function<MetricsSnapshot()> snapshot) {
  auto server = HealthServer::Start(std::move(options), HealthSources{std::move(snapshot)});
  EXPECT_TRUE(server.ok()) << server.status().ToString();
  return server.ok() ? std::move(*server) : nullptr;
}

MetricsSnapshot Healthy() {
  MetricsSnapshot s;
  s.durability = "sync";
  s.version = "test";
  return s;
}

// A health server over a real in-process broker, wired as serve would wire it.
struct BrokerWithHealth {
  explicit BrokerWithHealth(HealthOptions options = {}) {
    sources.log = &h.log();
    sources.broker = &h.broker();
    sources.groups = &h.groups();
    sources.max_connections = 256;
    sources.version = "test";
    HealthSources hs{[this] { return CollectMetrics(sources); },
                     [this](std::function<void()> done) { h.broker().PostProbe(std::move(done)); }};
    auto started = HealthServer::Start(options, hs);
    EXPECT_TRUE(started.ok()) << started.status().ToString();
    if (started.ok()) health = std::move(*started);
  }
  BrokerHarness h;
  MetricsSources sources;
  std::unique_ptr<HealthServer> health;
};

TEST(HealthServer, LivezAndHealthzAnswerOk) {
  auto server = StartOrDie({}, Healthy);
  ASSERT_NE(server, nullptr);
  for (const char* path : {"/livez", "/healthz", "/livez?verbose=1"}) {
    const auto r = HttpGet(server->port(), path);
    ASSERT_TRUE(r.ok) << path;
    EXPECT_EQ(r.status, 200) << path;
    EXPECT_EQ(r.body, "ok\n") << path;
    EXPECT_NE(r.head.find("Connection: close"), std::string::npos);
    EXPECT_NE(r.head.find("Content-Length: 3"), std::string::npos);
  }
  EXPECT_EQ(server->stats().requests, 3u);
}

TEST(HealthServer, HealthzTurns503WhenTheEventLoopStopsAnsweringProbes) {
  std::mutex mu;
  std::vector<std::function<void()>> held;  // probes the "event loop" has not run yet
  std::atomic<bool> stalled{false};
  HealthOptions o;
  o.liveness_window = std::chrono::milliseconds(300);
  HealthSources sources{Healthy, [&](std::function<void()> done) {
                          if (!stalled) return done();
                          std::lock_guard<std::mutex> lock(mu);
                          held.push_back(std::move(done));
                        }};
  auto server = HealthServer::Start(o, sources);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  EXPECT_EQ(HttpGet((*server)->port(), "/healthz").status, 200);
  stalled = true;
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  const auto stuck = HttpGet((*server)->port(), "/healthz");
  EXPECT_EQ(stuck.status, 503);
  EXPECT_EQ(stuck.body, "no event-loop progress\n");
  EXPECT_EQ(HttpGet((*server)->port(), "/livez").status, 200) << "the process itself still answers";
  stalled = false;
  {
    std::lock_guard<std::mutex> lock(mu);
    for (auto& f : held) f();  // the loop caught up
    held.clear();
  }
  EXPECT_EQ(HttpGet((*server)->port(), "/healthz").status, 200);
  (*server)->Stop();
}

TEST(HealthServer, UnknownPathIs404AndOtherMethodsAre405) {
  auto server = StartOrDie({}, Healthy);
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(HttpGet(server->port(), "/admin").status, 404);
  EXPECT_EQ(HttpGet(server->port(), "/").status, 404);
  EXPECT_EQ(HttpGet(server->port(), "/metrics", "POST").status, 405);
  EXPECT_EQ(HttpGet(server->port(), "/nope", "DELETE").status, 405) << "the method is checked before the path";
  HttpConn garbage(server->port());
  ASSERT_TRUE(garbage.Send("\x16\x03\x01 hello\r\n\r\n"));
  EXPECT_EQ(garbage.Reply().status, 405) << "a malformed request line is 405, never a crash";
  EXPECT_EQ(HttpGet(server->port(), "/livez").status, 200) << "still serving";
}

TEST(HealthServer, ARequestSplitAcrossSegmentsIsServed) {
  auto server = StartOrDie({}, Healthy);
  ASSERT_NE(server, nullptr);
  HttpConn c(server->port());
  const std::string request = "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n";
  for (char ch : request) {
    ASSERT_TRUE(c.Send(std::string(1, ch)));
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const auto r = c.Reply();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ready\n");
}

TEST(HealthServer, ASlowClientIsCutByTheReadDeadlineAndOthersAreServed) {
  HealthOptions o;
  o.read_timeout = std::chrono::milliseconds(200);
  auto server = StartOrDie(o, Healthy);
  ASSERT_NE(server, nullptr);
  HttpConn slow(server->port());
  ASSERT_TRUE(slow.Send("GET /liv"));  // never finishes its request head
  const auto start = std::chrono::steady_clock::now();
  bool never_closed = false;
  const std::string got = slow.ReadAll(5'000, &never_closed);
  EXPECT_FALSE(never_closed) << "the server must cut a client that stalls mid-request";
  EXPECT_TRUE(got.empty()) << got;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  EXPECT_EQ(server->stats().timed_out, 1u);
  EXPECT_EQ(HttpGet(server->port(), "/livez").status, 200);
}

TEST(HealthServer, AnOversizedRequestHeadGets431) {
  HealthOptions o;
  o.max_request_bytes = 1024;
  auto server = StartOrDie(o, Healthy);
  ASSERT_NE(server, nullptr);
  HttpConn c(server->port());
  ASSERT_TRUE(c.Send("GET /livez HTTP/1.1\r\nX-Big: " + std::string(4096, 'a')));
  const auto r = c.Reply();
  EXPECT_EQ(r.status, 431);
  EXPECT_EQ(server->stats().oversized, 1u);
}

TEST(HealthServer, ConnectionsOverTheCapAreClosedAtOnce) {
  HealthOptions o;
  o.max_connections = 1;
  o.read_timeout = std::chrono::milliseconds(3'000);
  auto server = StartOrDie(o, Healthy);
  ASSERT_NE(server, nullptr);
  HttpConn holder(server->port());
  ASSERT_TRUE(holder.Send("GET /li"));  // holds the only slot
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  HttpConn extra(server->port());
  extra.Send("GET /livez HTTP/1.1\r\n\r\n");
  bool never_closed = false;
  EXPECT_EQ(extra.ReadAll(2'000, &never_closed), "");
  EXPECT_FALSE(never_closed);
  EXPECT_EQ(server->stats().refused, 1u);
  ASSERT_TRUE(holder.Send("vez HTTP/1.1\r\n\r\n"));
  EXPECT_EQ(holder.Reply().status, 200) << "the admitted client is still served";
}

TEST(HealthServer, NonLoopbackBindIsRefusedUnlessAllowed) {
  HealthOptions o;
  o.host = "0.0.0.0";
  auto refused = HealthServer::Start(o, HealthSources{Healthy});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("not loopback"), std::string::npos) << refused.status().ToString();
  o.host = "no-such-host.invalid";
  EXPECT_FALSE(HealthServer::Start(o, HealthSources{Healthy}).ok());
  EXPECT_EQ(HealthServer::CheckAddress(o).code(), StatusCode::kInvalidArgument) << "resolves to nothing";
  o.host = "0.0.0.0";
  EXPECT_EQ(HealthServer::CheckAddress(o).code(), StatusCode::kInvalidArgument) << "not loopback";
  o.host = "127.0.0.1";
  EXPECT_TRUE(HealthServer::CheckAddress(o).ok());
  o.host = "0.0.0.0";
  o.allow_public = true;
  EXPECT_TRUE(HealthServer::CheckAddress(o).ok());
  auto allowed = HealthServer::Start(o, HealthSources{Healthy});
  ASSERT_TRUE(allowed.ok()) << allowed.status().ToString();
  EXPECT_EQ(HttpGet((*allowed)->port(), "/livez").status, 200);
  o.host = "localhost";
  o.allow_public = false;
  EXPECT_TRUE(HealthServer::Start(o, HealthSources{Healthy}).ok());
}

TEST(HealthServer, OptionsFromTheHealthAddrFlag) {
  auto v4 = HealthOptions::FromAddress("127.0.0.1:9102", false);
  ASSERT_TRUE(v4.ok()) << v4.status().ToString();
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, 9102);
  EXPECT_FALSE(v4->allow_public);
  auto v6 = HealthOptions::FromAddress("[::1]:0", true);
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 0);
  EXPECT_TRUE(v6->allow_public);
  for (const char* bad : {"", "127.0.0.1", ":80", "host:", "::1:80", "[::1:80", "h:99999", "h:8x"}) {
    EXPECT_FALSE(HealthOptions::FromAddress(bad, false).ok()) << bad;
  }
  auto server = HealthServer::Start(*v6, HealthSources{Healthy});
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  EXPECT_EQ((*server)->address().rfind("[::1]:", 0), 0u) << (*server)->address();
}

TEST(HealthServer, ReadyzOnAHealthyBrokerThen503WithTheReasonWhenTheLogFreezes) {
  BrokerWithHealth b;
  ASSERT_NE(b.health, nullptr);
  EXPECT_EQ(HttpGet(b.health->port(), "/healthz").status, 200) << "a real broker answers its probes";
  auto ready = HttpGet(b.health->port(), "/readyz");
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(ready.body, "ready\n");

  auto client = client::Client::Connect(b.h.addr());
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  client::PublishRequest req;
  req.payload = ToBytes("durable");
  ASSERT_TRUE((*client)->Publish(req).ok());
  b.h.fs().FailNextSync();
  EXPECT_FALSE((*client)->Publish(req).ok());
  ASSERT_TRUE(b.h.log().frozen());

  auto not_ready = HttpGet(b.health->port(), "/readyz");
  EXPECT_EQ(not_ready.status, 503);
  EXPECT_EQ(not_ready.body.rfind("writer frozen: ", 0), 0u) << not_ready.body;
  EXPECT_EQ(HttpGet(b.health->port(), "/livez").status, 200) << "a frozen writer is still live";
  const auto metrics = HttpGet(b.health->port(), "/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("\nironbus_writer_healthy 0\n"), std::string::npos) << metrics.body;
}

TEST(HealthServer, MetricsScrapeOfALiveBrokerHasPrometheusShapeAndMovingCounters) {
  BrokerWithHealth b;
  ASSERT_NE(b.health, nullptr);
  auto client = client::Client::Connect(b.h.addr());
  ASSERT_TRUE(client.ok());
  for (int i = 0; i < 3; ++i) {
    client::PublishRequest req;
    req.key = ToBytes("k");
    req.payload = ToBytes("abcd");
    ASSERT_TRUE((*client)->Publish(req).ok());
  }
  ASSERT_TRUE((*client)->Subscribe("workers").ok());
  client::FetchOptions fo;
  fo.max_records = 2;
  auto window = (*client)->Fetch(fo);
  ASSERT_TRUE(window.ok());
  ASSERT_EQ(window->messages.size(), 2u);
  ASSERT_TRUE((*client)->Ack(window->messages[0].offset, window->messages[0].generation).ok());

  const auto r = HttpGet(b.health->port(), "/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.head.find("Content-Type: text/plain; version=0.0.4"), std::string::npos) << r.head;
  const std::string& m = r.body;
  EXPECT_NE(m.find("\nironbus_produced_total 3\n"), std::string::npos) << m;
  EXPECT_NE(m.find("\nironbus_flushed_offset 3\n"), std::string::npos) << m;
  EXPECT_NE(m.find("\nironbus_delivered_total 2\n"), std::string::npos) << m;
  EXPECT_NE(m.find("\nironbus_acks_total 1\n"), std::string::npos) << m;
  EXPECT_NE(m.find("\nironbus_group_in_flight{group=\"workers\"} 1\n"), std::string::npos) << m;
  EXPECT_NE(m.find("\nironbus_group_committed_offset{group=\"workers\"} 1\n"), std::string::npos) << m;
  EXPECT_NE(m.find("\nironbus_group_consumer_lag{group=\"workers\"} 2\n"), std::string::npos) << m;
  EXPECT_NE(m.find("\nironbus_group_consumer_lag{group=\"\"} 3\n"), std::string::npos) << m;
  EXPECT_NE(m.find("\nironbus_connections_open 1\n"), std::string::npos) << m;
  EXPECT_NE(m.find("\nironbus_writer_healthy 1\n"), std::string::npos) << m;
  EXPECT_NE(m.find("# TYPE ironbus_produced_total counter\n"), std::string::npos);
}

// The value of an unlabelled sample (or a sample with its exact label set), -1 when absent.
double Sample(const std::string& text, const std::string& series) {
  const size_t at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

TEST(HealthServer, CountersMoveConsistentlyWhileScrapedUnderLoad) {
  BrokerWithHealth b;
  ASSERT_NE(b.health, nullptr);
  static constexpr int kProducers = 2;
  static constexpr int kPerProducer = 300;
  static constexpr int kTotal = kProducers * kPerProducer;
  std::vector<std::thread> workers;
  for (int p = 0; p < kProducers; ++p) {
    workers.emplace_back([&b] {
      auto c = client::Client::Connect(b.h.addr());
      ASSERT_TRUE(c.ok());
      std::vector<client::PublishRequest> batch(10);
      for (auto& r : batch) r.payload = ToBytes("load");
      for (int i = 0; i < kPerProducer / 10; ++i) ASSERT_TRUE((*c)->PublishPipelined(batch, 10).ok());
    });
  }
  workers.emplace_back([&b] {
    auto c = client::Client::Connect(b.h.addr());
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE((*c)->Subscribe("w").ok());
    client::FetchOptions fo;
    fo.no_wait = false;
    fo.expires = std::chrono::milliseconds(100);
    int consumed = 0;
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (consumed < kTotal && std::chrono::steady_clock::now() < give_up) {
      auto w = (*c)->Fetch(fo);
      ASSERT_TRUE(w.ok());
      if (w->messages.empty()) continue;
      ASSERT_TRUE((*c)->AckAll(w->messages).ok());
      consumed += static_cast<int>(w->messages.size());
    }
    EXPECT_EQ(consumed, kTotal);
  });

  double last_produced = 0, last_delivered = 0, last_acks = 0, last_flushed = 0;
  int scrapes = 0;
  std::atomic<bool> done{false};
  std::thread joiner([&] {
    for (auto& t : workers) t.join();
    done = true;
  });
  auto check = [&] {
    const auto r = HttpGet(b.health->port(), "/metrics");
    ASSERT_EQ(r.status, 200);
    const double produced = Sample(r.body, "ironbus_produced_total");
    const double flushed = Sample(r.body, "ironbus_flushed_offset");
    const double delivered = Sample(r.body, "ironbus_delivered_total");
    const double acks = Sample(r.body, "ironbus_acks_total");
    EXPECT_GE(produced, last_produced) << "counters never go back";
    EXPECT_GE(delivered, last_delivered);
    EXPECT_GE(acks, last_acks);
    EXPECT_GE(flushed, last_flushed);
    EXPECT_GE(flushed, produced) << "an ack follows durability";
    EXPECT_GE(delivered, acks) << "nothing is acked before it is delivered";
    last_produced = produced;
    last_delivered = delivered;
    last_acks = acks;
    last_flushed = flushed;
    ++scrapes;
  };
  while (!done) {
    check();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  joiner.join();
  check();
  EXPECT_GT(scrapes, 1);
  EXPECT_EQ(last_produced, kTotal);
  EXPECT_EQ(last_flushed, kTotal);
  EXPECT_EQ(last_acks, kTotal);
  EXPECT_GE(last_delivered, kTotal);
}

// spec/security.md 3: with an identity table, /admin answers only a bearer token whose identity
// holds the admin scope.
TEST(HealthServer, AdminNeedsAnAdminTokenWhenTheBrokerAuthenticates) {
  HealthOptions o;
  o.enable_admin = true;
  HealthSources sources{Healthy};
  std::mutex mu;  // the gate runs on the health thread
  std::vector<std::string> asked;
  sources.admin_authorized = [&mu, &asked](std::string_view token) {
    std::lock_guard<std::mutex> lock(mu);
    asked.emplace_back(token);
    return token == "admin-token";
  };
  auto server = HealthServer::Start(o, sources);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  const uint16_t port = (*server)->port();
  const auto none = HttpGet(port, "/admin");
  EXPECT_EQ(none.status, 401);
  EXPECT_NE(none.body.find("admin scope"), std::string::npos) << none.body;
  auto with = [&](const std::string& header) {
    HttpConn c(port);
    EXPECT_TRUE(c.Send("GET /admin HTTP/1.1\r\nHost: localhost\r\n" + header + "\r\n\r\n"));
    return c.Reply();
  };
  const auto wrong = with("Authorization: Bearer someone-else");
  EXPECT_EQ(wrong.status, 403);
  EXPECT_EQ(wrong.body, "Authorization Violation\n");
  EXPECT_EQ(with("authorization:   bearer admin-token  ").status, 200);  // header name and scheme are case-insensitive
  EXPECT_EQ(with("Authorization: Basic YWRtaW4=").status, 401);
  EXPECT_EQ(HttpGet(port, "/metrics").status, 200) << "only /admin is gated";
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(asked, (std::vector<std::string>{"someone-else", "admin-token"}));
}

TEST(HealthServer, BearerTokenOfReadsOnlyTheAuthorizationHeader) {
  EXPECT_EQ(BearerTokenOf("GET / HTTP/1.1\r\nAuthorization: Bearer abc\r\n"), "abc");
  EXPECT_EQ(BearerTokenOf("GET / HTTP/1.1\r\nX-Authorization: Bearer abc\r\n"), "");
  EXPECT_EQ(BearerTokenOf("GET /Authorization: Bearer abc HTTP/1.1\r\n"), "");
  EXPECT_EQ(BearerTokenOf("GET / HTTP/1.1\r\nAuthorization: Bearer \r\n"), "");
}

}  // namespace
}  // namespace ironbus::server
