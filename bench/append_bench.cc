// append_bench: producer throughput of the storage::Appender under `sync` durability, next to
// the raw fdatasync rate of the same disk, measured in the same run.
//
// Each writer thread submits one 256-byte record, waits for its acknowledgement (which under
// kSync means the covering fdatasync returned), and repeats. With 1 writer the rate can only
// match the disk's fdatasync rate; with many, group commit lets one fdatasync acknowledge a
// whole batch, so msgs/s should be a multiple of the raw rate.
//
// Usage: append_bench [--dir=PATH] [--seconds=S] [--writers=1,16,256]
//   --dir      where the data goes (a real disk, not tmpfs, for meaningful numbers). Default:
//              $IRONBUS_BENCH_DIR, else the directory of this binary (the build dir), else
//              $TMPDIR, else /tmp. A fresh subdirectory is made there and removed at the end.
//   --seconds  measuring time per configuration (default 2).
// A plain main(), not a test: it is never run by CTest.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "io/posix_file_system.h"
#include "storage/appender.h"
#include "storage/log.h"

namespace {

using namespace ironbus;  // NOLINT: a small standalone program
using Clock = std::chrono::steady_clock;

constexpr size_t kRecordBytes = 256;

std::string DefaultDir() {
  if (const char* d = std::getenv("IRONBUS_BENCH_DIR"); d != nullptr && *d != '\0') return d;
  std::error_code ec;
  auto exe = std::filesystem::canonical("/proc/self/exe", ec);
  if (!ec) return exe.parent_path().string();
  if (const char* t = std::getenv("TMPDIR"); t != nullptr && *t != '\0') return t;
  return "/tmp";
}

// The disk's own rate: 256-byte positional writes, each followed by fdatasync.
double RawFdatasyncRate(io::FileSystem& fs, const std::string& dir, double seconds) {
  const std::string path = io::JoinPath(dir, "raw-fdatasync.bin");
  auto file = fs.Open(path, io::OpenMode::kCreateOrTruncate);
  if (!file.ok()) {
    std::fprintf(stderr, "open %s: %s\n", path.c_str(), file.status().ToString().c_str());
    std::exit(1);
  }
  const Bytes block(kRecordBytes, 'r');
  uint64_t ops = 0;
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration<double>(seconds);
  while (Clock::now() < deadline) {
    if (!(*file)->WriteAt(ops * kRecordBytes, block).ok() || !(*file)->Sync().ok()) {
      std::fprintf(stderr, "raw write/fdatasync failed\n");
      std::exit(1);
    }
    ++ops;
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  (void)(*file)->Close();
  (void)fs.Remove(path);
  return static_cast<double>(ops) / elapsed;
}

struct RunResult {
  double msgs_per_s = 0;
  double avg_batch = 0;
};

RunResult RunAppender(io::FileSystem& fs, const std::string& dir, int writers, double seconds) {
  (void)fs.CreateDirs(dir);
  storage::LogState state;
  state.dir = dir;
  state.needs_new_active_segment = true;
  storage::LogOptions options;  // kSync, 64 MiB segments
  options.compression = format::Compression::kNone;
  auto log = storage::Log::Open(&fs, state, options, SystemClock::Default());
  if (!log.ok()) {
    std::fprintf(stderr, "open log in %s: %s\n", dir.c_str(), log.status().ToString().c_str());
    std::exit(1);
  }
  auto appender = storage::Appender::Start(log->get(), SystemClock::Default());
  if (!appender.ok()) std::exit(1);

  std::atomic<bool> stop{false};
  std::atomic<uint64_t> acked{0};
  std::atomic<bool> failed{false};
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&] {
      std::mutex mu;
      std::condition_variable cv;
      while (!stop.load(std::memory_order_relaxed)) {
        bool done = false;
        storage::AppendRequest req;
        req.payload = Bytes(kRecordBytes, 'm');
        Status s = (*appender)->Submit(std::move(req), [&](Result<uint64_t> off) {
          if (!off.ok()) failed = true;
          std::lock_guard<std::mutex> lock(mu);
          done = true;
          cv.notify_one();
        });
        if (!s.ok()) {
          failed = true;
          return;
        }
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return done; });
        acked.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  const storage::AppenderStats stats = (*appender)->stats();
  (void)(*appender)->Stop();
  (void)(*log)->Close();
  if (failed) {
    std::fprintf(stderr, "an append failed: %s\n", (*log)->frozen_status().ToString().c_str());
    std::exit(1);
  }
  RunResult r;
  r.msgs_per_s = static_cast<double>(acked.load()) / elapsed;
  r.avg_batch = stats.syncs == 0 ? 0 : static_cast<double>(stats.records) / static_cast<double>(stats.syncs);
  return r;
}

std::vector<int> ParseList(const std::string& s) {
  std::vector<int> out;
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t comma = s.find(',', pos);
    if (comma == std::string::npos) comma = s.size();
    if (comma > pos) out.push_back(std::atoi(s.substr(pos, comma - pos).c_str()));
    pos = comma + 1;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string base = DefaultDir();
  double seconds = 2.0;
  std::vector<int> writer_counts = {1, 16, 256};
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--dir=", 0) == 0) {
      base = a.substr(6);
    } else if (a.rfind("--seconds=", 0) == 0) {
      seconds = std::atof(a.substr(10).c_str());
    } else if (a.rfind("--writers=", 0) == 0) {
      writer_counts = ParseList(a.substr(10));
    } else {
      std::fprintf(stderr, "usage: %s [--dir=PATH] [--seconds=S] [--writers=1,16,256]\n", argv[0]);
      return 2;
    }
  }
  io::PosixFileSystem fs;
  const std::string root = io::JoinPath(base, "append-bench-" + std::to_string(::getpid()));
  if (!fs.CreateDirs(root).ok()) {
    std::fprintf(stderr, "cannot create %s\n", root.c_str());
    return 1;
  }
  std::printf("append_bench: %zu-byte records, durability sync, data in %s\n", kRecordBytes, root.c_str());
  const double raw = RawFdatasyncRate(fs, root, seconds);
  std::printf("raw 256-byte pwrite+fdatasync: %.0f ops/s\n\n", raw);
  std::printf("%8s %14s %14s %10s %10s\n", "writers", "msgs/s", "raw fsync/s", "ratio", "avg batch");
  for (int w : writer_counts) {
    if (w <= 0) continue;
    const RunResult r = RunAppender(fs, io::JoinPath(root, "w" + std::to_string(w)), w, seconds);
    std::printf("%8d %14.0f %14.0f %9.2fx %10.1f\n", w, r.msgs_per_s, raw, r.msgs_per_s / raw, r.avg_batch);
    std::fflush(stdout);
  }
  std::error_code ec;
  std::filesystem::remove_all(root, ec);
  return 0;
}
