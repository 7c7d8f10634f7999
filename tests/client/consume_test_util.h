// Helpers for the consume tests against an in-process broker (BrokerHarness).
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <string_view>

#include "client/client.h"
#include "server/broker_test_util.h"

namespace ironbus::client::testing {

using server::testing::BrokerHarness;

inline std::unique_ptr<Client> Connected(BrokerHarness& h) {
  auto c = Client::Connect(h.addr());
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? std::move(*c) : nullptr;
}

// Publishes "m<i>" with key "k<i>" for i in [0, n).
inline void PublishN(Client& c, int n) {
  for (int i = 0; i < n; ++i) {
    PublishRequest r;
    r.key = ToBytes("k" + std::to_string(i));
    r.payload = ToBytes("m" + std::to_string(i));
    EXPECT_TRUE(c.Publish(r).ok());
  }
}

inline std::unique_ptr<Client> Subscribed(BrokerHarness& h, std::string_view group) {
  auto c = Connected(h);
  if (!c) return nullptr;
  Status s = c->Subscribe(group);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return c;
}

// One window that must end with FlowEnd.
inline FetchResult MustFetch(Client& c, uint32_t max_records = 64) {
  FetchOptions options;
  options.max_records = max_records;
  auto window = c.Fetch(options);
  EXPECT_TRUE(window.ok()) << window.status().ToString();
  if (!window.ok()) return {};
  EXPECT_TRUE(window->error.ok()) << window->error.ToString();
  EXPECT_EQ(window->delivered, window->messages.size());
  return std::move(*window);
}

// A client that published `records` records (PublishN), subscribed to `group` and fetched
// its first window. `client` is null when connecting failed.
struct Consumer {
  std::unique_ptr<Client> client;
  FetchResult first;
};
inline Consumer StartConsumer(BrokerHarness& h, std::string_view group, int records) {
  Consumer out;
  out.client = Subscribed(h, group);
  if (!out.client) return out;
  PublishN(*out.client, records);
  out.first = MustFetch(*out.client);
  return out;
}

}  // namespace ironbus::client::testing
