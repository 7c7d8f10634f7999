// consume_bench: end-to-end consume throughput over loopback TCP (the workloads (d) and (e) of
// the performance issue): `--records` stored 256-byte records are published first (window 256,
// `sync` durability), then
//   competing   one consumer on a competing group drains them: Fetch (no_wait, the negotiated
//               credit of 64) then every Ack pipelined (Client::AckAll), window after window;
//   broadcast   one consumer on a broadcast group drains them: Fetch, then one CumulativeAck
//               per window.
// Each line: msgs/s for the drain alone (publishing is not timed), and the cursor it reached,
// which must equal --records (checked: a short drain is an error, not a figure).
//
// Usage: consume_bench [--dir=PATH] [--records=200000] [--payload-bytes=256] [--credit=64]
//   --dir   where the data goes (a real disk). Default: $IRONBUS_BENCH_DIR, else the directory
//           of this binary, else /tmp. A fresh subdirectory is made there and removed at the end.
// A plain main(), not a test: it is never run by CTest.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "base/clock.h"
#include "client/client.h"
#include "io/posix_file_system.h"
#include "queue/groups.h"
#include "recovery/open_data_dir.h"
#include "server/broker.h"
#include "storage/appender.h"

namespace {

using namespace ironbus;  // NOLINT: a small standalone program
using SteadyClock = std::chrono::steady_clock;

std::string DefaultDir() {
  if (const char* env = std::getenv("IRONBUS_BENCH_DIR")) return env;
  std::error_code ec;
  auto exe = std::filesystem::canonical("/proc/self/exe", ec);
  if (!ec) return exe.parent_path().string();
  return "/tmp";
}

[[noreturn]] void Die(const std::string& what, const Status& s) {
  std::fprintf(stderr, "consume_bench: %s: %s\n", what.c_str(), s.ToString().c_str());
  std::exit(1);
}

struct Options {
  std::string base = DefaultDir();
  uint64_t records = 200'000;
  size_t payload_bytes = 256;
  uint32_t credit = 64;
};

// An in-process broker over the real file system, as `ironbus serve` builds it.
class Stack {
 public:
  Stack(const std::string& dir, const Options& o) {
    io::FileSystem& fs = io::DefaultFileSystem();
    storage::LogOptions log_options;
    recovery::RecoveryOptions recovery_options;
    recovery_options.max_segment_bytes = log_options.max_segment_bytes;
    auto opened = recovery::OpenDataDir(&fs, dir, recovery_options, log_options, SystemClock::Default());
    if (!opened.ok()) Die("open " + dir, opened.status());
    opened_ = std::move(*opened);
    queue::QueueOptions queue_options;
    queue_options.broadcast_groups = {"audit"};
    auto groups = queue::Groups::Open(&fs, dir, opened_.log.get(), std::move(opened_.dlq_log), queue_options,
                                      SystemClock::Default());
    if (!groups.ok()) Die("groups", groups.status());
    groups_ = std::move(*groups);
    auto appender = storage::Appender::Start(opened_.log.get(), SystemClock::Default());
    if (!appender.ok()) Die("appender", appender.status());
    appender_ = std::move(*appender);
    server::BrokerOptions broker_options;
    broker_options.port = 0;
    broker_options.credit = broker_options.credit_cap = o.credit;
    broker_ = std::make_unique<server::Broker>(opened_.log.get(), appender_.get(), groups_.get(), broker_options);
    if (Status s = broker_->Start(); !s.ok()) Die("broker", s);
  }
  ~Stack() {
    broker_->Stop();
    (void)appender_->Stop();
    (void)opened_.log->Close();
    (void)groups_->Close();
  }
  std::string addr() const { return broker_->address(); }

 private:
  recovery::OpenedDataDir opened_;
  std::unique_ptr<queue::Groups> groups_;
  std::unique_ptr<storage::Appender> appender_;
  std::unique_ptr<server::Broker> broker_;
};

std::unique_ptr<client::Client> Connect(const std::string& addr) {
  auto c = client::Client::Connect(addr);
  if (!c.ok()) Die("connect", c.status());
  return std::move(*c);
}

void Preload(const std::string& addr, const Options& o) {
  auto c = Connect(addr);
  std::vector<client::PublishRequest> batch(4096);
  for (auto& r : batch) r.payload = Bytes(o.payload_bytes, 'c');
  uint64_t done = 0;
  while (done < o.records) {
    batch.resize(std::min<uint64_t>(batch.size(), o.records - done));
    auto offsets = c->PublishPipelined(batch, 256);
    if (!offsets.ok()) Die("preload", offsets.status());
    done += offsets->size();
  }
}

// Drains the group; returns the seconds it took.
double Drain(const std::string& addr, const std::string& group, bool cumulative, const Options& o) {
  auto c = Connect(addr);
  if (Status s = c->Subscribe(group); !s.ok()) Die("subscribe " + group, s);
  uint64_t consumed = 0;
  uint64_t next = 0;
  const auto start = SteadyClock::now();
  while (consumed < o.records) {
    client::FetchOptions fetch;
    fetch.max_records = o.credit;
    auto window = c->Fetch(fetch);
    if (!window.ok()) Die("fetch", window.status());
    if (!window->error.ok()) Die("fetch window", window->error);
    if (window->messages.empty()) Die("drain", Status::Internal("an empty window before the end"));
    for (const auto& m : window->messages) {
      if (m.offset != next) Die("order", Status::Internal("offset " + std::to_string(m.offset)));
      ++next;
    }
    consumed += window->messages.size();
    if (cumulative) {
      if (Status s = c->CumulativeAck(group, next); !s.ok()) Die("cumulative ack", s);
    } else {
      auto acks = c->AckAll(window->messages);
      if (!acks.ok()) Die("ack", acks.status());
      for (auto a : *acks) {
        if (a != client::AckOutcome::kDone) Die("ack", Status::Internal("fenced"));
      }
    }
  }
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](const std::string& flag) { return arg.substr(flag.size()); };
    if (arg.rfind("--dir=", 0) == 0) {
      o.base = value("--dir=");
    } else if (arg.rfind("--records=", 0) == 0) {
      o.records = std::stoull(value("--records="));
    } else if (arg.rfind("--payload-bytes=", 0) == 0) {
      o.payload_bytes = std::stoul(value("--payload-bytes="));
    } else if (arg.rfind("--credit=", 0) == 0) {
      o.credit = static_cast<uint32_t>(std::stoul(value("--credit=")));
    } else {
      std::fprintf(stderr, "usage: consume_bench [--dir=PATH] [--records=N] [--payload-bytes=B] [--credit=C]\n");
      return 1;
    }
  }
  const std::string dir = o.base + "/consume-bench-" + std::to_string(::getpid());
  std::printf("consume_bench: %llu x %zu-byte records, sync durability, credit %u, loopback, data under %s\n",
              static_cast<unsigned long long>(o.records), o.payload_bytes, o.credit, o.base.c_str());
  {
    Stack stack(dir, o);
    const auto t0 = SteadyClock::now();
    Preload(stack.addr(), o);
    const double preload = std::chrono::duration<double>(SteadyClock::now() - t0).count();
    std::printf("preload (window 256): %10.0f msgs/s\n", o.records / preload);
    const double competing = Drain(stack.addr(), "workers", false, o);
    std::printf("competing, per-message acks:   %10.0f msgs/s  (%.2f s)\n", o.records / competing, competing);
    const double broadcast = Drain(stack.addr(), "audit", true, o);
    std::printf("broadcast, cumulative acks:    %10.0f msgs/s  (%.2f s)\n", o.records / broadcast, broadcast);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return 0;
}
