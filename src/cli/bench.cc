// `ironbus bench` (spec/cli-config-ops.md 10.3; issue 4 item 4): a load generator against a
// running broker, through the client library.
//
//   ironbus bench (--count N | --duration S) [--addr HOST:PORT --i-understand-this-is-live]
//                 [--mode publish|subscribe|round-trip] [--size B] [--producers P]
//                 [--consumers C] [--pubwindow W] [--rate R] [--payload-shape realistic|random]
//                 [--fetch-batch N] [--fetch-ahead N] [--ack each|cumulative] [--group G] [--json]
//
// Producers (one Client and thread each) keep up to --pubwindow Pubs in flight (a sliding
// window: a Pub is sent as soon as an earlier one is acked); a record's publish latency runs
// from its send time to the arrival of its own PubAck. Without --rate the loop is closed; with
// --rate (msg/s over all producers) the latency runs from the intended send time of record i,
// start + i/rate, and a producer that falls behind sends at once, so queueing delay is counted
// (no coordinated omission). Consumers (one Client each) subscribe to --group (default a fresh
// `ironbus-bench-<random>`), long-poll Fetch windows and ack them with AckAll. In round-trip
// mode each payload starts with a 16-byte token (send time on the steady clock, sequence) and
// each record carries the run's key, so the end-to-end latency is measured and records of other
// runs are acked and ignored.
//
// A progress line goes to stderr every second; the summary goes to stdout (text, or one
// ironbus.cli.bench.v1 object with --json). --ack cumulative settles each window with one
// CumulativeAck instead (a broadcast group; the private broker declares --group as one), sent
// with the next fetch, and --fetch-ahead N keeps N fetches in flight (Client::SendFetch), so the
// broker prepares the next window while this one is counted. Latencies come from base/histogram.h
// (within 0.39 %).
//
// Without --addr, bench spawns a private broker (this binary's `serve`) on a fresh
// $TMPDIR/ironbus-bench-XXXXXX data dir and a free loopback port, stops it with SIGTERM after
// the run and deletes the directory; a failed delete is reported with the path (exit 70).
// --fire-and-forget (publish mode, window 1) sends level-0 publishes: no acks, so no latency,
// and "produced" counts what was handed to the socket.
// With the private broker (started with --health-addr 127.0.0.1:0) the mean fdatasync cost over
// the run comes from its /metrics (ironbus_fsync_duration_seconds before and after).
// Not built yet: --storage memory, --no-fsync, --stream, the reproduce line.
//
// Exit: 0; 1 usage; 5 the broker cannot be reached or dropped the connection; 70 the broker
// refused publishes or a consumer call failed.
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <asio.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "base/histogram.h"
#include "cli/exit_codes.h"
#include "cli/output.h"
#include "cli/client_security.h"
#include "cli/verbs.h"
#include "client/client.h"

namespace ironbus::cli {
namespace {

using Steady = std::chrono::steady_clock;
constexpr size_t kTokenBytes = 16;  // send time (ns, steady clock) + sequence, little-endian

struct BenchFlags {
  std::string addr;
  bool live = false;
  std::string mode = "round-trip";
  uint64_t count = 0;
  double duration_s = 0;
  double rate = 0;
  uint64_t size = 256;
  std::string shape = "realistic";
  uint32_t producers = 1;
  uint32_t consumers = 1;
  uint32_t pubwindow = 1;
  uint32_t fetch_batch = 256;
  uint32_t fetch_ahead = 1;  // fetches in flight per consumer (--ack cumulative)
  std::string group;
  std::string ack = "each";  // each: AckAll per window; cumulative: one CumulativeAck (broadcast)
  std::string storage = "disk";
  bool fire_and_forget = false;
  bool json = false;
  ClientSecurityFlags tls;
  client::ClientOptions client_options;  // from `tls`, set once before any worker starts
};

enum class Mode { kPublish, kSubscribe, kRoundTrip };

struct Shared {
  Mode mode = Mode::kRoundTrip;
  const BenchFlags* flags = nullptr;
  Bytes run_key;
  Steady::time_point start;
  Steady::time_point deadline = Steady::time_point::max();  // --duration
  std::atomic<uint64_t> next_seq{0};  // records claimed by producers (count mode)
  std::atomic<uint64_t> sent{0};
  std::atomic<uint64_t> acked{0};
  std::atomic<uint64_t> publish_errors{0};
  std::atomic<uint64_t> consumed{0};
  std::atomic<uint64_t> consumed_bytes{0};
  std::atomic<bool> producers_done{false};
  std::atomic<bool> stop{false};
  std::mutex mu;  // guards the merged histograms and the first error
  Histogram publish_latency;
  Histogram e2e_latency;
  Status first_error;
  std::string first_error_code;

  void Fail(const Status& s, std::string code = "") {
    std::lock_guard<std::mutex> lock(mu);
    if (first_error.ok()) {
      first_error = s;
      first_error_code = std::move(code);
    }
  }
};

bool ParseMode(const std::string& s, Mode* out) {
  if (s == "publish" || s == "pub") {
    *out = Mode::kPublish;
  } else if (s == "subscribe" || s == "sub" || s == "consume") {
    *out = Mode::kSubscribe;
  } else if (s == "round-trip" || s == "roundtrip" || s == "rt" || s == "both") {
    *out = Mode::kRoundTrip;
  } else {
    return false;
  }
  return true;
}

std::string_view ModeName(Mode m) {
  return m == Mode::kPublish ? "publish" : m == Mode::kSubscribe ? "subscribe" : "round-trip";
}

uint64_t SteadyNs(Steady::time_point t) {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count());
}

uint64_t NowNs() { return SteadyNs(Steady::now()); }

// Windows of Pubs per PublishWindow call (see Producer).
constexpr size_t kWindowsPerChunk = 16;

Bytes MakePayload(const BenchFlags& f, std::mt19937_64& rng) {
  Bytes p(std::max<uint64_t>(f.size, kTokenBytes));
  if (f.shape == "random" || f.shape == "noise") {
    for (auto& b : p) b = static_cast<uint8_t>(rng());
  } else {
    // Telemetry-like text: compressible, not constant.
    static constexpr char kText[] = "{\"sensor\":\"temp-0042\",\"value\":21.5,\"unit\":\"C\",\"ok\":true} ";
    for (size_t i = 0; i < p.size(); ++i) p[i] = static_cast<uint8_t>(kText[i % (sizeof(kText) - 1)]);
  }
  return p;
}

// Claims the next record to send, or false when the run is over.
bool Claim(Shared& sh, uint64_t* seq) {
  if (sh.stop) return false;
  if (sh.flags->count > 0) {
    *seq = sh.next_seq.fetch_add(1);
    return *seq < sh.flags->count;
  }
  if (Steady::now() >= sh.deadline) return false;
  *seq = sh.next_seq.fetch_add(1);
  return true;
}

void Producer(Shared& sh, uint32_t index) {
  const BenchFlags& f = *sh.flags;
  auto client = client::Client::Connect(f.addr, f.client_options);
  if (!client.ok()) {
    sh.Fail(client.status());
    return;
  }
  std::mt19937_64 rng(index + 1);
  Histogram latency;
  const Bytes base = MakePayload(f, rng);
  // Open loop: this producer's share of the rate; its k-th record is due at start + k*interval.
  const double interval_ns = f.rate > 0 ? 1e9 * f.producers / f.rate : 0;
  uint64_t own = 0;  // records this producer sent
  std::vector<client::PublishRequest> batch;
  std::vector<uint64_t> intended;
  bool more = true;
  while (more) {
    batch.clear();
    intended.clear();
    // A sliding window: PublishWindow keeps --pubwindow Pubs in flight across a chunk of
    // kWindowsPerChunk windows, so the pipeline only drains at chunk boundaries.
    while (batch.size() < static_cast<size_t>(f.pubwindow) * kWindowsPerChunk) {
      uint64_t due_ns = NowNs();
      if (interval_ns > 0) {
        const auto due = sh.start + std::chrono::nanoseconds(static_cast<int64_t>(own * interval_ns));
        if (due > Steady::now()) {
          if (!batch.empty()) break;  // send what is due; wait for the next one after
          std::this_thread::sleep_until(due);
        }
        due_ns = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(due.time_since_epoch()).count());
      }
      uint64_t seq = 0;
      if (!Claim(sh, &seq)) {
        more = false;
        break;
      }
      client::PublishRequest r;
      r.key = sh.run_key;
      r.payload = base;
      EncodeFixed64(r.payload.data(), due_ns);
      EncodeFixed64(r.payload.data() + 8, seq);
      batch.push_back(std::move(r));
      intended.push_back(due_ns);
      ++own;
    }
    if (batch.empty()) break;
    sh.sent += batch.size();
    if (f.fire_and_forget) {
      // Level 0: handed to the socket, never answered; "produced" counts what was sent.
      for (const client::PublishRequest& r : batch) {
        if (Status st = (*client)->PublishFireAndForget(r); !st.ok()) {
          sh.publish_errors += 1;
          sh.Fail(st);
          more = false;
          break;
        }
        sh.acked += 1;
      }
      continue;
    }
    const auto results = (*client)->PublishWindow(batch, f.pubwindow);
    for (size_t i = 0; i < results.size(); ++i) {
      if (results[i].ok()) {
        sh.acked += 1;
        // Closed loop: from the moment this Pub was sent; open loop: from its intended time.
        const uint64_t from_ns = interval_ns > 0 ? intended[i] : SteadyNs(results[i].sent_at);
        const uint64_t done_ns = SteadyNs(results[i].answered_at);
        latency.Record(done_ns > from_ns ? done_ns - from_ns : 0);
      } else {
        sh.publish_errors += 1;
        sh.Fail(results[i].status, results[i].error_code);
      }
    }
    if ((*client)->broken()) break;
  }
  (*client)->Close();
  std::lock_guard<std::mutex> lock(sh.mu);
  sh.publish_latency.Merge(latency);
}

// How many records the consumers should see before they stop; 0 = not known yet.
uint64_t ConsumeTarget(const Shared& sh) {
  if (sh.mode == Mode::kSubscribe) return sh.flags->count;  // 0 in duration mode: until the deadline
  // Once the producers are done, exactly what was acked (a refused publish is never delivered).
  if (sh.producers_done) return sh.acked.load();
  return sh.flags->count;  // 0 in duration mode: not known yet
}

// What a consumer does with a window's records: counts them, and in round-trip mode records
// each one's end-to-end latency (records of other runs are skipped).
void CountWindow(Shared& sh, const client::FetchResult& window, Histogram* latency) {
  const uint64_t now = NowNs();
  for (const client::Message& m : window.messages) {
    if (sh.mode == Mode::kRoundTrip) {
      if (m.key != sh.run_key || m.payload.size() < kTokenBytes) continue;  // another run's record
      const uint64_t sent_ns = DecodeFixed64(m.payload.data());
      latency->Record(now > sent_ns ? now - sent_ns : 0);
    }
    sh.consumed += 1;
    sh.consumed_bytes += m.payload.size();
  }
}

// Whether a consumer should ask for more (not stopped, not past --duration in subscribe mode).
bool WantsMore(const Shared& sh) {
  if (sh.stop) return false;
  return !(sh.mode == Mode::kSubscribe && sh.flags->count == 0 && Steady::now() >= sh.deadline);
}

// --ack each: fetch a window, AckAll of it, and again.
Status ConsumeEach(Shared& sh, client::Client& client, client::FetchOptions fo, Histogram* latency) {
  const BenchFlags& f = *sh.flags;
  for (;;) {
    const uint64_t target = ConsumeTarget(sh);
    if (!WantsMore(sh) || (target > 0 && sh.consumed >= target)) return Status::Ok();
    // Ask for no more than is left, so a subscribe run does not take (and ack) extra records.
    fo.max_records = f.fetch_batch;
    if (target > 0) fo.max_records = static_cast<uint32_t>(std::min<uint64_t>(f.fetch_batch, target - sh.consumed));
    ASSIGN_OR_RETURN(client::FetchResult window, client.Fetch(fo));
    if (window.messages.empty()) continue;
    CountWindow(sh, window, latency);
    RETURN_IF_ERROR(client.AckAll(window.messages).status());
  }
}

// --ack cumulative: up to --fetch-ahead fetches in flight (Client::SendFetch), so the broker
// prepares the next window while this one is counted. A window's CumulativeAck leaves with the
// next fetch and its Ok is checked when the replies are read; the last one goes alone.
Status ConsumeCumulative(Shared& sh, client::Client& client, client::FetchOptions fo, Histogram* latency) {
  const BenchFlags& f = *sh.flags;
  std::deque<uint32_t> asked;  // max_records of each fetch in flight, oldest first
  uint64_t asked_total = 0;
  uint64_t unsent_ack = 0;  // the pending ack's up_to; 0 = none (an up_to is a last offset + 1)
  for (;;) {
    const uint64_t target = ConsumeTarget(sh);
    while (asked.size() < f.fetch_ahead && WantsMore(sh)) {
      // Ask for no more than is left, counting what the fetches in flight may still bring.
      uint64_t ask = f.fetch_batch;
      if (target > 0) ask = std::min(ask, target - std::min(target, sh.consumed + asked_total));
      if (ask == 0) break;
      if (unsent_ack != 0) RETURN_IF_ERROR(client.SendCumulativeAck(f.group, std::exchange(unsent_ack, 0)));
      fo.max_records = static_cast<uint32_t>(ask);
      RETURN_IF_ERROR(client.SendFetch(fo));
      asked.push_back(fo.max_records);
      asked_total += fo.max_records;
    }
    if (asked.empty()) break;
    ASSIGN_OR_RETURN(client::FetchResult window, client.ReceiveWindow());
    asked_total -= asked.front();
    asked.pop_front();
    RETURN_IF_ERROR(window.error);
    if (window.messages.empty()) continue;
    CountWindow(sh, window, latency);
    // One CumulativeAck commits the whole window (a broadcast group: spec/consumers.md 3.4).
    unsent_ack = window.messages.back().offset + 1;
  }
  if (unsent_ack != 0) RETURN_IF_ERROR(client.CumulativeAck(f.group, unsent_ack));
  return Status::Ok();
}

void Consumer(Shared& sh) {
  const BenchFlags& f = *sh.flags;
  auto client = client::Client::Connect(f.addr, f.client_options);
  if (!client.ok()) {
    sh.Fail(client.status());
    return;
  }
  Status s = (*client)->Subscribe(f.group);
  if (s.ok()) {
    Histogram latency;
    client::FetchOptions fo;
    fo.max_records = f.fetch_batch;
    fo.no_wait = false;
    fo.expires = std::chrono::milliseconds(200);
    s = f.ack == "cumulative" ? ConsumeCumulative(sh, **client, fo, &latency) : ConsumeEach(sh, **client, fo, &latency);
    std::lock_guard<std::mutex> lock(sh.mu);
    sh.e2e_latency.Merge(latency);
  }
  if (!s.ok()) sh.Fail(s, (*client)->last_error().code);
  (*client)->Close();
}

double Us(uint64_t ns) { return static_cast<double>(ns) / 1000.0; }

nlohmann::json LatencyJson(const Histogram& h) {
  if (h.count() == 0) return nullptr;
  return {{"count", h.count()},
          {"p50_us", Us(h.Percentile(50))},
          {"p90_us", Us(h.Percentile(90))},
          {"p99_us", Us(h.Percentile(99))},
          {"p999_us", Us(h.Percentile(99.9))},
          {"p9999_us", Us(h.Percentile(99.99))},
          {"max_us", Us(h.max())},
          {"mean_us", h.mean() / 1000.0}};
}

std::string LatencyLine(std::string_view what, const Histogram& h) {
  char buf[320];
  std::snprintf(buf, sizeof buf,
                "%s latency (us): p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  p99.99 %.1f  max %.1f  (%llu samples)",
                std::string(what).c_str(), Us(h.Percentile(50)), Us(h.Percentile(90)), Us(h.Percentile(99)),
                Us(h.Percentile(99.9)), Us(h.Percentile(99.99)), Us(h.max()),
                static_cast<unsigned long long>(h.count()));
  return buf;
}

int ExitFor(const Status& s) {
  if (s.IsUnavailable()) return kExitUnreachable;
  if (s.code() == StatusCode::kInvalidArgument) return kExitUsage;
  return kExitInternal;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The default target (spec 10.3): `ironbus serve` (this same binary) on a fresh
// ironbus-bench-XXXXXX data dir under $TMPDIR and a free loopback port; stopped with SIGTERM and
// its directory deleted afterwards.
class PrivateBroker {
 public:
  ~PrivateBroker() { (void)Stop(); }

  // `broadcast_group` (may be empty) is declared with --broadcast-group for --ack cumulative.
  // Its --consumer-credit is `credit`, so a fetch is not cut to the default 64.
  Status Start(const std::string& broadcast_group, uint64_t credit) {
    const std::string credit_text = std::to_string(credit);
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/ironbus-bench-XXXXXX";
    if (::mkdtemp(templ.data()) == nullptr) return Status::IOError("cannot create a bench data dir: " + templ, errno);
    dir_ = templ;
    const std::string data = dir_ + "/data";
    const std::string out = dir_ + "/serve.out";
    const std::string err = dir_ + "/serve.err";
    pid_ = ::fork();
    if (pid_ < 0) return Status::IOError("fork failed", errno);
    if (pid_ == 0) {
      if (std::freopen(out.c_str(), "w", stdout) == nullptr || std::freopen(err.c_str(), "w", stderr) == nullptr) {
        ::_exit(127);
      }
      if (broadcast_group.empty()) {
        ::execl("/proc/self/exe", "ironbus", "serve", "--data-dir", data.c_str(), "--addr", "127.0.0.1:0",
                "--health-addr", "127.0.0.1:0", "--consumer-credit", credit_text.c_str(), static_cast<char*>(nullptr));
      } else {
        ::execl("/proc/self/exe", "ironbus", "serve", "--data-dir", data.c_str(), "--addr", "127.0.0.1:0",
                "--health-addr", "127.0.0.1:0", "--consumer-credit", credit_text.c_str(), "--broadcast-group",
                broadcast_group.c_str(), static_cast<char*>(nullptr));
      }
      ::_exit(127);
    }
    const std::string marker = "ironbus listening on ";
    for (int i = 0; i < 1200; ++i) {  // up to 30 s
      const std::string banner = ReadFile(out);
      const size_t at = banner.find(marker);
      const size_t health_at = banner.find(kHealthMarker);
      if (at != std::string::npos && health_at != std::string::npos && banner.find('\n', health_at) != std::string::npos) {
        const size_t end = banner.find(',', at);
        addr_ = banner.substr(at + marker.size(), end - at - marker.size());
        health_port_ = static_cast<uint16_t>(std::strtoul(banner.c_str() + health_at + kHealthMarker.size(), nullptr, 10));
        return Status::Ok();
      }
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return Status::Internal("the private bench broker exited at start: " + ReadFile(err));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    return Status::Internal("the private bench broker did not start within 30 s");
  }

  // SIGTERM (clean stop), then the directory goes. Idempotent.
  Status Stop() {
    Status result;
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      bool reaped = false;
      for (int i = 0; i < 400 && !reaped; ++i) {  // up to 20 s, then SIGKILL
        reaped = ::waitpid(pid_, &status, WNOHANG) == pid_;
        if (!reaped) std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      if (!reaped) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        result = Status::Internal("the private bench broker did not stop on SIGTERM; killed");
      }
      pid_ = -1;
    }
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
      if (ec && result.ok()) result = Status::IOError("cannot delete the bench data dir " + dir_ + ": " + ec.message());
      dir_.clear();
    }
    return result;
  }

  const std::string& addr() const { return addr_; }
  uint16_t health_port() const { return health_port_; }

 private:
  pid_t pid_ = -1;
  std::string dir_;
  std::string addr_;
  uint16_t health_port_ = 0;
  static constexpr std::string_view kHealthMarker = "ironbus health endpoints on 127.0.0.1:";
};

// The private broker's fdatasync totals, from its /metrics (ironbus_fsync_duration_seconds).
struct FsyncTotals {
  bool ok = false;
  double sum_s = 0;
  double count = 0;
};

FsyncTotals ScrapeFsync(uint16_t health_port) {
  FsyncTotals t;
  asio::ip::tcp::iostream http("127.0.0.1", std::to_string(health_port));
  if (!http) return t;
  http.expires_after(std::chrono::seconds(5));
  http << "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" << std::flush;
  const std::string text((std::istreambuf_iterator<char>(http)), std::istreambuf_iterator<char>());
  auto value = [&text](const std::string& series, double* out) {
    const size_t at = text.find("\n" + series + " ");
    if (at == std::string::npos) return false;
    *out = std::strtod(text.c_str() + at + series.size() + 2, nullptr);
    return true;
  };
  t.ok = value("ironbus_fsync_duration_seconds_sum", &t.sum_s) && value("ironbus_fsync_duration_seconds_count", &t.count);
  return t;
}

int RunBench(BenchFlags f) {
  Mode mode;
  if (!ParseMode(f.mode, &mode)) return Fail("bench", false, kExitUsage, "--mode must be publish, subscribe or round-trip, got \"" + f.mode + "\"");
  if ((f.count > 0) == (f.duration_s > 0)) return Fail("bench", false, kExitUsage, "bench needs exactly one of --count or --duration");
  if (!f.addr.empty() && !f.live) {
    return Fail("bench", false, kExitUsage, "targeting a broker with --addr needs --i-understand-this-is-live");
  }
  if (f.fire_and_forget && (mode != Mode::kPublish || f.pubwindow > 1)) {
    return Fail("bench", false, kExitUsage, "--fire-and-forget needs --mode publish and --pubwindow 1");
  }
  if (f.storage != "disk") {
    return Fail("bench", false, kExitUsage, f.storage == "memory" ? "--storage memory is not built yet" : "--storage must be disk or memory");
  }
  if (f.producers == 0 || f.consumers == 0 || f.pubwindow == 0 || f.fetch_batch == 0) {
    return Fail("bench", false, kExitUsage, "--producers, --consumers, --pubwindow and --fetch-batch must be at least 1");
  }
  if (f.fetch_ahead == 0 || (f.fetch_ahead > 1 && f.ack != "cumulative")) {
    return Fail("bench", false, kExitUsage, "--fetch-ahead must be at least 1, and above 1 needs --ack cumulative");
  }
  if (f.rate < 0) return Fail("bench", false, kExitUsage, "--rate must be positive");
  if (f.ack != "each" && f.ack != "cumulative") return Fail("bench", false, kExitUsage, "--ack must be each or cumulative");
  if (f.shape != "realistic" && f.shape != "real" && f.shape != "random" && f.shape != "noise") {
    return Fail("bench", false, kExitUsage, "--payload-shape must be realistic or random");
  }
  std::random_device rd;
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>((uint64_t{rd()} << 32) | rd()));
  if (f.group.empty()) f.group = std::string("ironbus-bench-") + hex;

  {
    auto options = ClientOptionsWithSecurity(f.tls);
    if (!options.ok()) return Fail("bench", f.json, kExitUsage, options.status().message());
    if (f.addr.empty() && options->tls) {
      return Fail("bench", f.json, kExitUsage, "--tls-ca needs --addr: the private broker speaks plain TCP on loopback");
    }
    f.client_options = *options;
  }
  Shared sh;
  sh.mode = mode;
  sh.flags = &f;
  sh.run_key = ToBytes(std::string("ironbus-bench-run-") + hex);
  std::optional<PrivateBroker> own;
  if (f.addr.empty()) {
    own.emplace();
    const uint64_t credit = uint64_t{f.fetch_batch} * f.fetch_ahead;
    if (Status st = own->Start(f.ack == "cumulative" ? f.group : std::string(), credit); !st.ok()) {
      (void)own->Stop();
      return Fail("bench", f.json, kExitInternal, st.message());
    }
    f.addr = own->addr();
  }
  // Fail fast (exit 5) when the broker is not there, before any thread starts.
  {
    auto probe = client::Client::Connect(f.addr, f.client_options);
    if (!probe.ok()) return Fail("bench", f.json, ExitFor(probe.status()), "cannot reach the broker: " + probe.status().message());
    // Fetches in flight beyond the credit would come back empty, one round trip each.
    const auto& credit = (*probe)->info().credit;
    const uint64_t in_flight = uint64_t{f.fetch_batch} * f.fetch_ahead;
    if (mode != Mode::kPublish && f.fetch_ahead > 1 && credit && credit->negotiated < in_flight) {
      return Fail("bench", f.json, kExitUsage,
                  "--fetch-ahead " + std::to_string(f.fetch_ahead) + " x --fetch-batch " + std::to_string(f.fetch_batch) +
                      " needs a consumer credit of " + std::to_string(in_flight) + "; the broker grants " +
                      std::to_string(credit->negotiated) + " (serve --consumer-credit)");
    }
  }

  const FsyncTotals fsync_before = own ? ScrapeFsync(own->health_port()) : FsyncTotals{};
  const bool publishing = mode != Mode::kSubscribe;
  const bool consuming = mode != Mode::kPublish;
  sh.start = Steady::now();
  if (f.duration_s > 0) sh.deadline = sh.start + std::chrono::microseconds(static_cast<int64_t>(f.duration_s * 1e6));
  std::vector<std::thread> consumers;
  std::vector<std::thread> producers;
  if (consuming) {
    for (uint32_t i = 0; i < f.consumers; ++i) consumers.emplace_back([&sh] { Consumer(sh); });
  }
  if (publishing) {
    for (uint32_t i = 0; i < f.producers; ++i) producers.emplace_back([&sh, i] { Producer(sh, i); });
  }
  std::atomic<bool> finished{false};
  // The run ends when the last producer and consumer return, not at the progress loop's next
  // 100 ms tick (a short drain would be under-reported).
  Steady::time_point finished_at{};
  std::thread producers_joiner([&] {
    for (auto& t : producers) t.join();
    sh.producers_done = true;
    for (auto& t : consumers) t.join();
    finished_at = Steady::now();
    finished = true;
  });

  // Progress once a second; a run that stops making progress is cut after a grace period.
  uint64_t last_sent = 0, last_consumed = 0, last_bytes = 0;
  auto last_progress = Steady::now();
  int tick = 0;
  while (!finished) {
    for (int i = 0; i < 10 && !finished; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (finished) break;
    ++tick;
    const uint64_t acked = sh.acked, sent = sh.sent, consumed = sh.consumed, bytes = sh.consumed_bytes;
    const uint64_t pub_rate = acked - last_sent;
    const uint64_t sub_rate = consumed - last_consumed;
    const double mb = publishing ? static_cast<double>(pub_rate * f.size) / 1e6 : static_cast<double>(bytes - last_bytes) / 1e6;
    std::fprintf(stderr, "[%3ds] pub %llu msg/s  sub %llu msg/s  %.2f MB/s  in flight %llu\n", tick,
                 static_cast<unsigned long long>(pub_rate), static_cast<unsigned long long>(sub_rate), mb,
                 static_cast<unsigned long long>(sent - acked));
    if (acked != last_sent || consumed != last_consumed) last_progress = Steady::now();
    last_sent = acked;
    last_consumed = consumed;
    last_bytes = bytes;
    const bool past_deadline = f.duration_s > 0 && Steady::now() > sh.deadline;
    if ((past_deadline && Steady::now() - last_progress > std::chrono::seconds(5)) ||
        Steady::now() - last_progress > std::chrono::seconds(30)) {
      sh.Fail(Status::Unavailable("no progress for too long: stopping (records lost or the broker stalled)"));
      sh.stop = true;
    }
  }
  producers_joiner.join();
  const double elapsed_s = std::chrono::duration<double>(finished_at - sh.start).count();
  // Mean fdatasync cost over the run: only the private broker's, whose metrics we can read.
  std::optional<double> fsync_cost_us;
  if (own && fsync_before.ok) {
    const FsyncTotals after = ScrapeFsync(own->health_port());
    if (after.ok && after.count > fsync_before.count) {
      fsync_cost_us = (after.sum_s - fsync_before.sum_s) / (after.count - fsync_before.count) * 1e6;
    }
  }
  if (own) {
    // A failed cleanup is a failed bench (exit 70), reported with the path.
    if (Status st = own->Stop(); !st.ok()) {
      std::fprintf(stderr, "error: %s\n", st.message().c_str());
      sh.Fail(Status::Internal(st.message()));
    }
  }

  const uint64_t produced = sh.acked;
  const uint64_t consumed = sh.consumed;
  const uint64_t ops = publishing ? produced : consumed;
  const double msgs_per_sec = elapsed_s > 0 ? static_cast<double>(ops) / elapsed_s : 0;
  const uint64_t payload_bytes = std::max<uint64_t>(f.size, kTokenBytes);
  const double mb_per_sec = msgs_per_sec * static_cast<double>(payload_bytes) / 1e6;
  const Histogram& main_latency = mode == Mode::kRoundTrip ? sh.e2e_latency : sh.publish_latency;
  const bool has_latency = mode != Mode::kSubscribe && main_latency.count() > 0;

  int exit_code = kExitOk;
  std::string error;
  if (!sh.first_error.ok()) {
    exit_code = ExitFor(sh.first_error);
    if (exit_code == kExitUsage) exit_code = kExitInternal;
    error = sh.first_error.message();
    if (!sh.first_error_code.empty()) error = sh.first_error_code + ": " + error;
  }
  if (f.json) {
    nlohmann::json j = {{"schema", "ironbus.cli.bench.v1"},
                        {"schema_version", 1},
                        {"mode", ModeName(mode)},
                        {"bound", f.count > 0 ? "count" : "duration"},
                        {"count", f.count},
                        {"duration_s", f.duration_s},
                        {"rate", f.rate > 0 ? nlohmann::json(f.rate) : nlohmann::json(nullptr)},
                        {"producers", publishing ? f.producers : 0},
                        {"consumers", consuming ? f.consumers : 0},
                        {"pubwindow", f.pubwindow},
                        {"ack", f.ack},
                        {"fire_and_forget", f.fire_and_forget},
                        {"payload_bytes", payload_bytes},
                        {"group", consuming ? nlohmann::json(f.group) : nlohmann::json(nullptr)},
                        {"produced", produced},
                        {"publish_errors", sh.publish_errors.load()},
                        {"consumed", consumed},
                        {"elapsed_s", elapsed_s},
                        {"msgs_per_sec", msgs_per_sec},
                        {"mb_per_sec", mb_per_sec},
                        {"bytes_per_op", payload_bytes},
                        {"latency_kind", has_latency ? nlohmann::json(mode == Mode::kRoundTrip ? "end_to_end" : "publish_ack")
                                                     : nlohmann::json(nullptr)},
                        {"publish_latency", LatencyJson(sh.publish_latency)},
                        {"end_to_end_latency", LatencyJson(sh.e2e_latency)},
                        {"fsync_cost_us", fsync_cost_us ? nlohmann::json(*fsync_cost_us) : nlohmann::json(nullptr)},
                        {"fsync_measured", fsync_cost_us.has_value()},
                        {"storage", own ? "disk" : "external"},
                        {"ok", exit_code == kExitOk},
                        {"exit_code", exit_code}};
    for (const char* k : {"p50", "p90", "p99", "p999", "p9999", "max"}) {
      const std::string field = std::string("latency_") + k + "_us";
      j[field] = has_latency ? LatencyJson(main_latency)[std::string(k) + "_us"] : nlohmann::json(nullptr);
    }
    if (exit_code != kExitOk) j["error"] = {{"kind", exit_code == kExitUnreachable ? "unreachable" : "internal"}, {"message", error}};
    PrintJsonLine(j);
  } else {
    std::printf("bench %s against %s: %s, %u producer(s), %u consumer(s), %llu-byte payloads, window %u\n",
                std::string(ModeName(mode)).c_str(), f.addr.c_str(),
                f.count > 0 ? ("count " + std::to_string(f.count)).c_str() : ("duration " + std::to_string(f.duration_s) + " s").c_str(),
                publishing ? f.producers : 0, consuming ? f.consumers : 0, static_cast<unsigned long long>(payload_bytes),
                f.pubwindow);
    std::printf("produced %llu (errors %llu), consumed %llu in %.3f s: %.0f msg/s, %.2f MB/s\n",
                static_cast<unsigned long long>(produced), static_cast<unsigned long long>(sh.publish_errors.load()),
                static_cast<unsigned long long>(consumed), elapsed_s, msgs_per_sec, mb_per_sec);
    if (sh.publish_latency.count() > 0) std::printf("%s\n", LatencyLine("publish ack", sh.publish_latency).c_str());
    if (sh.e2e_latency.count() > 0) std::printf("%s\n", LatencyLine("end-to-end", sh.e2e_latency).c_str());
    if (fsync_cost_us) std::printf("mean fsync cost: %.1f us (private broker)\n", *fsync_cost_us);
    if (exit_code != kExitOk) std::fprintf(stderr, "error: %s\n", error.c_str());
  }
  return exit_code;
}

}  // namespace

void RegisterBench(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<BenchFlags>();
  auto* bench = app.add_subcommand("bench", "Load generator against a running broker (publish, subscribe or round-trip)");
  bench->add_option("--addr", flags->addr,
                    "Broker address host:port (needs --i-understand-this-is-live); default: a private broker");
  bench->add_option("--storage", flags->storage, "The private broker's storage: disk (memory is not built yet)");
  bench->add_flag("--i-understand-this-is-live", flags->live, "Allow load against the broker at --addr");
  bench->add_option("--mode", flags->mode, "publish|subscribe|round-trip (aliases pub, sub, consume, rt, both)");
  bench->add_option("--count", flags->count, "Records to publish (or consume in subscribe mode)");
  bench->add_option("--duration", flags->duration_s, "Seconds to run");
  bench->add_option("--rate", flags->rate, "Open loop: msg/s over all producers (default: as fast as acks allow)");
  bench->add_option("--size,--payload-bytes", flags->size, "Payload bytes, including the 16-byte token (default 256)");
  bench->add_option("--payload-shape", flags->shape, "realistic (compressible) or random");
  bench->add_option("--producers", flags->producers, "Producer connections (default 1)");
  bench->add_option("--consumers", flags->consumers, "Consumer connections (default 1)");
  bench->add_option("--pubwindow", flags->pubwindow, "Pubs in flight per producer (default 1)");
  bench->add_option("--fetch-batch", flags->fetch_batch, "Records asked per fetch (default 256)");
  bench->add_option("--fetch-ahead", flags->fetch_ahead,
                    "Fetches in flight per consumer with --ack cumulative (default 1): the next windows are "
                    "asked for before this one is read; the broker's credit must cover fetch-ahead x fetch-batch");
  bench->add_option("--group", flags->group, "Consumer group (default a fresh ironbus-bench-<random>)");
  bench->add_option("--ack", flags->ack,
                    "each (AckAll per fetched window, default) or cumulative (one CumulativeAck per window, sent "
                    "with the next fetch; the group must be a broadcast group: the private broker declares it)");
  bench->add_flag("--fire-and-forget", flags->fire_and_forget,
                  "Publish mode: level-0 publishes (no acks, no latency); needs --pubwindow 1");
  bench->add_flag("--json", flags->json, "One ironbus.cli.bench.v1 object on stdout");
  AddClientSecurityFlags(bench, &flags->tls);
  bench->callback([flags, exit_code] { *exit_code = RunBench(*flags); });
}

}  // namespace ironbus::cli
