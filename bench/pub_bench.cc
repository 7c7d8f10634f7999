// pub_bench: end-to-end publish throughput over loopback TCP: client library -> broker session
// -> storage::Appender (group commit, `sync` durability) -> PubAck after the fdatasync.
//
// One producer connection keeps `window` Pubs in flight (spec/protocol.md 7.3). With window 1
// every publish waits for its own fdatasync, so msgs/s is bounded by the disk's fdatasync rate;
// with window 256 one fdatasync acknowledges many records (the broker reads the whole window
// and the appender takes every queued request as one batch).
//
// Usage: pub_bench [--dir=PATH] [--seconds=S] [--windows=1,256] [--payload-bytes=256]
//   --dir       where the data goes (a real disk, not tmpfs). Default: $IRONBUS_BENCH_DIR, else
//               the directory of this binary (the build dir), else /tmp. A fresh subdirectory
//               is made there and removed at the end.
//   --seconds   measuring time per window (default 2).
// A plain main(), not a test: it is never run by CTest.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "base/clock.h"
#include "client/client.h"
#include "io/posix_file_system.h"
#include "recovery/open_data_dir.h"
#include "queue/groups.h"
#include "server/broker.h"
#include "storage/appender.h"

namespace {

using namespace ironbus;  // NOLINT: a small standalone program
using Clock = std::chrono::steady_clock;

std::string DefaultDir() {
  if (const char* d = std::getenv("IRONBUS_BENCH_DIR"); d != nullptr && *d != '\0') return d;
  std::error_code ec;
  auto exe = std::filesystem::canonical("/proc/self/exe", ec);
  if (!ec) return exe.parent_path().string();
  return "/tmp";
}

[[noreturn]] void Die(const std::string& what, const Status& s) {
  std::fprintf(stderr, "pub_bench: %s: %s\n", what.c_str(), s.ToString().c_str());
  std::exit(1);
}

struct RunStats {
  uint64_t messages = 0;
  double seconds = 0;
  uint64_t syncs = 0;
};

RunStats RunOne(const std::string& dir, size_t window, size_t payload_bytes, double seconds) {
  io::FileSystem& fs = io::DefaultFileSystem();
  storage::LogOptions log_options;  // sync durability, lz4 only from 1 KiB: 256 B stay raw
  recovery::RecoveryOptions recovery_options;
  recovery_options.max_segment_bytes = log_options.max_segment_bytes;
  auto opened = recovery::OpenDataDir(&fs, dir, recovery_options, log_options, SystemClock::Default());
  if (!opened.ok()) Die("open " + dir, opened.status());
  auto groups = queue::Groups::Open(&fs, dir, opened->log.get(), std::move(opened->dlq_log), queue::QueueOptions{},
                                    SystemClock::Default());
  if (!groups.ok()) Die("groups", groups.status());
  auto appender = storage::Appender::Start(opened->log.get(), SystemClock::Default());
  if (!appender.ok()) Die("appender", appender.status());
  server::BrokerOptions broker_options;
  broker_options.port = 0;
  server::Broker broker(opened->log.get(), appender->get(), groups->get(), broker_options);
  if (Status s = broker.Start(); !s.ok()) Die("broker", s);

  auto client = client::Client::Connect(broker.address());
  if (!client.ok()) Die("connect", client.status());
  std::vector<client::PublishRequest> batch(window);
  for (auto& r : batch) r.payload = Bytes(payload_bytes, 'p');

  RunStats result;
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration<double>(seconds);
  while (Clock::now() < deadline) {
    auto results = (*client)->PublishWindow(batch, window);
    for (const auto& r : results) {
      if (!r.ok()) Die("publish", r.status);
    }
    result.messages += results.size();
  }
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  (*client)->Close();
  broker.Stop();
  result.syncs = (*appender)->stats().syncs;
  (void)opened->log->Close();
  (void)(*groups)->Close();
  return result;
}

std::vector<size_t> ParseList(const std::string& csv) {
  std::vector<size_t> out;
  std::stringstream ss(csv);
  for (std::string item; std::getline(ss, item, ',');) out.push_back(std::stoul(item));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string base = DefaultDir();
  double seconds = 2;
  std::vector<size_t> windows = {1, 256};
  size_t payload_bytes = 256;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](const std::string& flag) { return arg.substr(flag.size()); };
    if (arg.rfind("--dir=", 0) == 0) {
      base = value("--dir=");
    } else if (arg.rfind("--seconds=", 0) == 0) {
      seconds = std::stod(value("--seconds="));
    } else if (arg.rfind("--windows=", 0) == 0) {
      windows = ParseList(value("--windows="));
    } else if (arg.rfind("--payload-bytes=", 0) == 0) {
      payload_bytes = std::stoul(value("--payload-bytes="));
    } else {
      std::fprintf(stderr, "usage: pub_bench [--dir=PATH] [--seconds=S] [--windows=1,256] [--payload-bytes=256]\n");
      return 1;
    }
  }
  std::printf("pub_bench: %zu-byte payloads, sync durability, 1 producer over loopback, data under %s\n",
              payload_bytes, base.c_str());
  for (size_t window : windows) {
    const std::string dir = base + "/pub-bench-" + std::to_string(::getpid()) + "-w" + std::to_string(window);
    const RunStats r = RunOne(dir, window, payload_bytes, seconds);
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    const double rate = r.messages / r.seconds;
    std::printf("window %4zu: %10.0f msgs/s  (%llu msgs in %.2f s, %llu fdatasyncs, %.1f msgs per sync)\n", window,
                rate, static_cast<unsigned long long>(r.messages), r.seconds,
                static_cast<unsigned long long>(r.syncs),
                r.syncs == 0 ? 0.0 : static_cast<double>(r.messages) / static_cast<double>(r.syncs));
  }
  return 0;
}
