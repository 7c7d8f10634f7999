// The crash driver (crash_driver.h has the load and the invariants). No gtest in here: the
// e2e test and the standalone long-run program (tests/e2e/tools/crash_driver_main.cc) share it.
#include "e2e/crash_driver.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "client/client.h"
#include "format/checkpoint.h"
#include "format/record_format.h"
#include "format/segment_name.h"

extern char** environ;

namespace ironbus::e2e {
namespace {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

constexpr int kProducers = 2;
constexpr size_t kPayloadBytes = 128;
constexpr char kGroup[] = "g";
// The consumer settles one message per round trip, and every ack at the watermark writes a
// checkpoint: the producers pause this far ahead of it so the log stays small enough to read
// back after every crash.
constexpr uint64_t kMaxConsumerLag = 1024;
// Small segments, so the segment crash points are reached within a cycle or two.
constexpr char kSegmentBytes[] = "262144";
const std::vector<std::string> kServeFlags = {"--checkpoint-interval", "0",  "--max-deliver",
                                              "2",                     "--max-segment-bytes", kSegmentBytes};

// A named point and the range its hit count is drawn from (1..max_hit): about how often one
// cycle passes it, so most choices fire mid-load rather than at the first hit.
struct PointChoice {
  const char* name;
  uint64_t max_hit;
};
const PointChoice kPoints[] = {
    {"appender.after_write_before_sync", 100},
    {"appender.after_sync_before_ack", 100},
    {"segment.after_create", 2},
    {"segment.after_header_sync", 2},
    {"segment.after_seal_before_create", 1},
    {"checkpoint.after_create_before_dir_sync", 2},  // only while cursor-g/attempts-g are new (and cycle 0)
    {"checkpoint.after_write_before_sync", 400},
    {"checkpoint.after_sync", 400},
    {"group.after_cursor_before_attempts", 100},
    {"dlq.after_append_before_sync", 6},
    {"dlq.after_sync", 6},
};

// --- processes -------------------------------------------------------------------------------

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// `ironbus serve` in the background with IRONBUS_CRASH_AT set (or removed) in its environment.
class ServeProcess {
 public:
  ServeProcess(const std::string& ironbus, const std::string& data_dir, const std::string& out_path,
               const std::string& crash_at)
      : out_path_(out_path) {
    // Everything the child needs is built before fork: the child only calls async-signal-safe
    // functions (the driver runs threads).
    std::vector<std::string> args = {ironbus, "serve", "--data-dir", data_dir, "--addr", "127.0.0.1:0"};
    args.insert(args.end(), kServeFlags.begin(), kServeFlags.end());
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
      if (std::strncmp(*e, "IRONBUS_CRASH_AT=", 17) != 0) env.emplace_back(*e);
    }
    if (!crash_at.empty()) env.push_back("IRONBUS_CRASH_AT=" + crash_at);
    std::vector<char*> argv, envp;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    const std::string err_path = out_path_ + ".err";
    // Emptied here, not only by the child's freopen: WaitListening must never read the banner
    // an earlier broker left in the same file.
    std::ofstream(out_path_, std::ios::trunc).flush();
    std::ofstream(err_path, std::ios::trunc).flush();
    pid_ = fork();
    if (pid_ == 0) {
      if (!std::freopen(out_path_.c_str(), "w", stdout)) _exit(127);
      if (!std::freopen(err_path.c_str(), "w", stderr)) _exit(127);
      execve(argv[0], argv.data(), envp.data());
      _exit(127);
    }
  }
  ~ServeProcess() {
    if (running()) (void)Stop(SIGKILL);
  }
  ServeProcess(const ServeProcess&) = delete;
  ServeProcess& operator=(const ServeProcess&) = delete;

  bool running() const { return pid_ > 0 && !status_; }

  // "ironbus listening on <addr>, ..." -> <addr>; "" when the process ended first.
  std::string WaitListening() {
    const std::string marker = "ironbus listening on ";
    for (int i = 0; i < 2400; ++i) {
      const std::string out = Slurp(out_path_);
      const size_t at = out.find(marker);
      if (at != std::string::npos && out.find('\n', at) != std::string::npos) {
        const size_t end = out.find(',', at);
        return out.substr(at + marker.size(), end - at - marker.size());
      }
      if (Exited()) return "";
      std::this_thread::sleep_for(milliseconds(5));
    }
    return "";
  }
  // True once the process has ended (reaps it).
  bool Exited() {
    if (pid_ <= 0 || status_) return true;
    int st = 0;
    if (waitpid(pid_, &st, WNOHANG) == pid_) status_ = st;
    return status_.has_value();
  }
  // Sends `sig` unless it ended already, and waits; the wait status.
  int Stop(int sig) {
    if (!Exited()) {
      kill(pid_, sig);
      int st = 0;
      waitpid(pid_, &st, 0);
      status_ = st;
    }
    return *status_;
  }
  std::string output() const { return Slurp(out_path_); }
  std::string errors() const { return Slurp(out_path_ + ".err"); }

 private:
  std::string out_path_;
  pid_t pid_ = -1;
  std::optional<int> status_;
};

std::string DescribeStatus(int st) {
  if (WIFEXITED(st)) return "exit " + std::to_string(WEXITSTATUS(st));
  if (WIFSIGNALED(st)) return "signal " + std::to_string(WTERMSIG(st));
  return "status " + std::to_string(st);
}
// A crash point ends the process with _exit(137).
bool CrashedAtPoint(int st) { return WIFEXITED(st) && WEXITSTATUS(st) == 137; }

struct ToolResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
ToolResult RunTool(const std::string& ironbus, const std::string& args, const std::string& scratch) {
  const std::string out = scratch + "/tool.out", err = scratch + "/tool.err";
  const std::string cmd = ironbus + " " + args + " >" + out + " 2>" + err + " </dev/null";
  const int st = std::system(cmd.c_str());
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, Slurp(out), Slurp(err)};
}

// --- payloads --------------------------------------------------------------------------------

// A publish id packs (producer, seq) and is written "p<producer>-<seq>"; seq counts up over the
// whole run, so producer p has sent exactly the seqs below its counter.
using Id = uint64_t;
constexpr Id kNoId = ~Id{0};
constexpr uint64_t kNone = ~uint64_t{0};
Id MakeId(uint64_t producer, uint64_t seq) { return producer << 48 | seq; }
uint64_t ProducerOf(Id id) { return id >> 48; }
uint64_t SeqOf(Id id) { return id & ((uint64_t{1} << 48) - 1); }
std::string Name(Id id) {
  return id == kNoId ? "(none)" : "p" + std::to_string(ProducerOf(id)) + "-" + std::to_string(SeqOf(id));
}

// "p<producer>-<seq>|" then filler derived from the id, so the whole payload is checked.
std::string PayloadFor(Id id) {
  std::string p = Name(id) + '|';
  uint64_t h = id * 0x9E3779B97F4A7C15ull;
  while (p.size() < kPayloadBytes) {
    h = h * 6364136223846793005ull + 1442695040888963407ull;
    p.push_back(static_cast<char>('a' + (h >> 33) % 26));
  }
  return p;
}
Id ParsePayload(const std::string& payload) {
  unsigned producer = 0;
  unsigned long long seq = 0;
  if (std::sscanf(payload.c_str(), "p%u-%llu|", &producer, &seq) != 2 || producer >= kProducers) return kNoId;
  const Id id = MakeId(producer, seq);
  return payload == PayloadFor(id) ? id : kNoId;
}

client::ClientOptions Options() {
  client::ClientOptions o;
  o.request_timeout = milliseconds(10'000);  // a hung broker fails the cycle instead of the run
  return o;
}

// --- producers -------------------------------------------------------------------------------

struct ProducerLog {
  std::vector<std::pair<Id, uint64_t>> acked;  // id -> offset from its PubAck
  std::string failure;
};

void Produce(const std::string& addr, int producer, uint64_t rng_seed, uint64_t* next_seq,
             const std::atomic<uint64_t>* consumer_progress, const std::atomic<bool>* stop, ProducerLog* out) {
  std::mt19937_64 rng(rng_seed);
  auto c = client::Client::Connect(addr, Options());
  if (!c.ok()) {
    if (!c.status().IsUnavailable()) out->failure = "connect: " + c.status().ToString();
    return;
  }
  uint64_t head = 0;  // after this producer's last acked offset
  for (;;) {
    while (head > *consumer_progress + kMaxConsumerLag) {
      if (*stop) return;
      std::this_thread::sleep_for(milliseconds(1));
    }
    if (*stop) return;
    const size_t window = 16 + rng() % 49;
    std::vector<client::PublishRequest> batch(window * 4);
    std::vector<Id> ids;
    for (auto& request : batch) {
      ids.push_back(MakeId(producer, (*next_seq)++));  // counted as sent before it is sent
      request.payload = ToBytes(PayloadFor(ids.back()));
    }
    const std::vector<client::PublishResult> results = (*c)->PublishWindow(batch, window);
    for (size_t i = 0; i < results.size(); ++i) {
      if (results[i].ok() && !results[i].duplicate) {
        out->acked.emplace_back(ids[i], results[i].offset);
        head = std::max(head, results[i].offset + 1);
      } else if (results[i].ok() || !results[i].status.IsUnavailable()) {
        out->failure = Name(ids[i]) + ": " +
                       (results[i].ok() ? "PubAckDuplicate without a msg_id"
                                        : results[i].status.ToString() + " " + results[i].error_code);
        return;
      }
    }
    if ((*c)->broken()) return;
  }
}

// --- the consumer's model --------------------------------------------------------------------

// Per-offset facts the consumer learned, as bits.
enum : uint8_t {
  kSettleSent = 1,        // an Ack or Term was sent (answered or not), in any life
  kOkThisLife = 2,        // Ack/Term answered Ok in this broker life
  kOkEver = 4,            // Ack/Term answered Ok in some life
  kDelivered = 8,         // delivered at least once
  kNoticedThisLife = 16,  // a DeadLetter frame named it in this life
  kNoticedEver = 32,      // a DeadLetter frame named it
  kInDlq = 64,            // a DLQ record of "g" names it (read by dump after a crash)
};

struct ConsumerModel {
  std::atomic<uint64_t> progress{0};  // A, published for the producers' throttle
  std::vector<uint8_t> facts;
  std::vector<Id> seen;  // offset -> the id delivered there
  // The cursor of "g" as the last crash left it on disk: the restarted broker loads exactly this.
  uint64_t disk_committed = 0;
  std::vector<std::pair<uint64_t, uint64_t>> disk_ranges;
  // A (C1): every offset below is durable on disk, or was settled Ok / dead-lettered in this life.
  uint64_t a = 0;
  std::vector<uint64_t> noticed_unchecked;  // DeadLetter offsets not yet looked up in the DLQ (D2)
  uint64_t acks = 0, terms = 0, nacks = 0, unanswered = 0, notices = 0;
  uint64_t deliveries = 0, redeliveries = 0, ahead_redeliveries = 0;
  std::string failure;

  void Grow(uint64_t offset) {
    if (facts.size() <= offset) {
      facts.resize(offset + 1, 0);
      seen.resize(offset + 1, kNoId);
    }
  }
  bool OnDisk(uint64_t o) const {
    if (o < disk_committed) return true;
    for (const auto& [s, e] : disk_ranges) {
      if (o >= s && o < e) return true;
    }
    return false;
  }
  void AdvanceA() {
    while (a < facts.size() && ((facts[a] & (kOkThisLife | kNoticedThisLife)) != 0 || OnDisk(a))) ++a;
    progress = a;
  }
};

// Settles one message: Ack most, Nack (no delay) some, Term a few; with `drain` always Ack.
// False when the connection broke (the crash).
bool Settle(client::Client* c, const client::Message& m, bool drain, std::mt19937_64* rng, ConsumerModel* s) {
  const uint64_t roll = (*rng)() % 100;
  const uint64_t o = m.offset;
  const std::string at = "offset " + std::to_string(o);
  if (!drain && roll >= 75 && roll < 90) {
    auto r = c->Nack(o, m.generation, 0);
    if (!r.ok()) {
      if (!r.status().IsUnavailable()) s->failure = "nack of " + at + ": " + r.status().ToString();
      return false;
    }
    if (*r != client::AckOutcome::kDone) {
      s->failure = "nack of " + at + " not kDone on a live lease";
      return false;
    }
    ++s->nacks;
    return true;
  }
  const bool term = !drain && roll >= 90;
  s->facts[o] |= kSettleSent;  // before sending: the broker may commit it even if the reply is lost
  auto r = term ? c->Term(o, m.generation) : c->Ack(o, m.generation);
  if (!r.ok()) {
    if (r.status().IsUnavailable()) {
      ++s->unanswered;
    } else {
      s->failure = (term ? "term of " : "ack of ") + at + ": " + r.status().ToString();
    }
    return false;
  }
  if (*r != client::AckOutcome::kDone) {
    s->failure = (term ? "term of " : "ack of ") + at + " not kDone on a live lease";
    return false;
  }
  s->facts[o] |= kOkThisLife | kOkEver;
  ++(term ? s->terms : s->acks);
  s->AdvanceA();
  return true;
}

// Fetches and settles until the connection breaks (the crash), or with `drain` until a long-poll
// window comes back empty. C3 and the delivery half of P2/P3 are checked as messages arrive.
void Consume(const std::string& addr, bool drain, uint64_t rng_seed, ConsumerModel* s) {
  std::mt19937_64 rng(rng_seed);
  auto c = client::Client::Connect(addr, Options());
  Status sub = c.ok() ? (*c)->Subscribe(kGroup) : c.status();
  if (!sub.ok()) {
    if (!sub.IsUnavailable()) s->failure = "subscribe: " + sub.ToString();
    return;
  }
  for (;;) {
    client::FetchOptions fetch;
    fetch.no_wait = false;
    fetch.expires = milliseconds(drain ? 300 : 100);
    auto w = (*c)->Fetch(fetch);
    if (!w.ok()) {
      if (!w.status().IsUnavailable()) s->failure = "fetch: " + w.status().ToString();
      return;
    }
    if (!w->error.ok() || !w->truncations.empty() || !w->gaps.empty()) {
      s->failure = "fetch window: " + w->error.ToString() + " " + w->error_code + ", " +
                   std::to_string(w->truncations.size()) + " truncation(s), " + std::to_string(w->gaps.size()) +
                   " gap(s)";
      return;
    }
    for (const protocol::DeadLetter& d : w->dead_letters) {
      s->Grow(d.offset);
      const std::string at = "offset " + std::to_string(d.offset);
      if (s->OnDisk(d.offset) || (s->facts[d.offset] & kOkThisLife) != 0) {
        s->failure = "(C3) " + at + " was dead-lettered after it was " +
                     (s->OnDisk(d.offset) ? "committed on disk" : "settled Ok in this life");
        return;
      }
      s->facts[d.offset] |= kNoticedThisLife | kNoticedEver;
      s->noticed_unchecked.push_back(d.offset);
      ++s->notices;
    }
    s->AdvanceA();
    if (w->messages.empty() && w->dead_letters.empty() && drain) return;
    for (const client::Message& m : w->messages) {
      const uint64_t o = m.offset;
      const std::string at = "offset " + std::to_string(o);
      s->Grow(o);
      const std::string payload(AsChars(m.payload));
      const Id id = ParsePayload(payload);
      if (id == kNoId || (s->seen[o] != kNoId && s->seen[o] != id)) {
        s->failure = "(P2/P3) " + at + " delivered as \"" + payload + "\", earlier as " + Name(s->seen[o]);
        return;
      }
      s->seen[o] = id;
      const uint8_t f = s->facts[o];
      if (s->OnDisk(o)) {
        s->failure = "(C3) " + at + " delivered again: the cursor on disk had committed it (A=" +
                     std::to_string(s->a) + ", disk committed " + std::to_string(s->disk_committed) + ")";
        return;
      }
      if ((f & kOkThisLife) != 0) {
        s->failure = "(C3) " + at + " delivered again after its Ack/Term was answered Ok by this broker";
        return;
      }
      if ((f & (kNoticedEver | kInDlq)) != 0) {
        s->failure = "(C3) " + at + " delivered after it was dead-lettered";
        return;
      }
      ++s->deliveries;
      if ((f & kDelivered) != 0) ++s->redeliveries;
      if ((f & kOkEver) != 0) ++s->ahead_redeliveries;
      s->facts[o] |= kDelivered;
      if (!Settle((*c).get(), m, drain, &rng, s)) return;
    }
  }
}

// --- reading back ----------------------------------------------------------------------------

struct Run {
  const CrashDriverOptions& opt;
  std::ostream& progress;
  CrashDriverSummary summary;
  std::mt19937_64 rng;
  ConsumerModel consumer;
  uint64_t next_seq[kProducers] = {};
  uint64_t sent_end[kProducers] = {};
  std::vector<std::pair<Id, uint64_t>> acked;  // every acknowledged publish
  size_t acked_verified = 0;
  std::vector<Id> log;                       // offset -> id, as dump showed it
  std::vector<uint64_t> placed[kProducers];  // [producer][seq] -> offset
  uint64_t last_seq[kProducers] = {kNone, kNone};  // of the producer's last record in `log`
  uint64_t dlq_read = 0;                     // DLQ offsets below were read
  uint64_t c2_checked = 0;                   // C2 was checked below this offset
  std::set<std::string> loss_events_seen;

  Run(const CrashDriverOptions& o, std::ostream& p) : opt(o), progress(p), rng(o.seed) {}

  std::string Dump(const std::string& args) {
    return "dump --json --payload text --max-segment-bytes " + std::string(kSegmentBytes) + " --data-dir " +
           opt.data_dir + " " + args;
  }

  // A dump's loss trailer: only a torn tail is allowed (a pwrite the crash cut short, or a
  // segment the crash left before its header). The trailer repeats every event recovery ever
  // recorded for a segment still there, so each is counted once.
  std::string CheckLoss(const nlohmann::json& j, const std::string& log_name) {
    for (const auto& e : j["loss"]["events"]) {
      if (e.value("reason", "") != "torn_tail") return "(P1) dump of the " + log_name + " reports data loss: " + j.dump();
      summary.torn_tails += loss_events_seen.insert(log_name + e.dump()).second ? 1 : 0;
    }
    return "";
  }

  // New log records (P1, P2, P3), in chunks so a long run's log never sits in one string.
  std::string ReadLog() {
    constexpr uint64_t kChunk = 50'000;
    for (;;) {
      const size_t start = log.size();
      ToolResult r = RunTool(opt.ironbus, Dump("--from " + std::to_string(start) + " --count " + std::to_string(kChunk)),
                             opt.scratch);
      if (r.exit_code != 0) return "dump exited " + std::to_string(r.exit_code) + ": " + r.err;
      std::istringstream lines(r.out);
      for (std::string line; std::getline(lines, line);) {
        const auto j = nlohmann::json::parse(line, nullptr, false);
        if (!j.is_object()) return "dump printed a non-JSON line: " + line;
        if (j.value("schema", "") == "ironbus.cli.dump.loss.v1") {
          if (std::string e = CheckLoss(j, "log"); !e.empty()) return e;
          continue;
        }
        const uint64_t offset = j.value("offset", kNone);
        if (offset != log.size()) {
          return "(P3) dump shows offset " + std::to_string(offset) + " where " + std::to_string(log.size()) + " is due";
        }
        const Id id = ParsePayload(j.value("payload", ""));
        if (id == kNoId || SeqOf(id) >= sent_end[ProducerOf(id)]) return "(P2) phantom record: " + line;
        std::vector<uint64_t>& at = placed[ProducerOf(id)];
        if (at.size() <= SeqOf(id)) at.resize(SeqOf(id) + 1, kNone);
        if (at[SeqOf(id)] != kNone) {
          return "(P2) " + Name(id) + " is in the log twice: offsets " + std::to_string(at[SeqOf(id)]) + " and " +
                 std::to_string(offset);
        }
        at[SeqOf(id)] = offset;
        // One connection's publishes are appended in the order sent, and seqs only grow.
        if (last_seq[ProducerOf(id)] != kNone && SeqOf(id) <= last_seq[ProducerOf(id)]) {
          return "(P3) " + Name(id) + " at offset " + std::to_string(offset) + " comes after seq " +
                 std::to_string(last_seq[ProducerOf(id)]) + " of the same producer";
        }
        last_seq[ProducerOf(id)] = SeqOf(id);
        log.push_back(id);
      }
      if (log.size() - start < kChunk) break;
    }
    for (; acked_verified < acked.size(); ++acked_verified) {
      const auto [id, offset] = acked[acked_verified];
      if (offset >= log.size() || log[offset] != id) {
        return "(P1) acknowledged " + Name(id) + "@" + std::to_string(offset) + " is not in the log there (" +
               std::to_string(log.size()) + " records" +
               (offset < log.size() ? ", that offset holds " + Name(log[offset]) : "") + ")";
      }
    }
    for (uint64_t o = 0; o < consumer.seen.size(); ++o) {
      if (consumer.seen[o] == kNoId) continue;
      if (o >= log.size() || log[o] != consumer.seen[o]) {
        return "(P3) the consumer was delivered " + Name(consumer.seen[o]) + "@" + std::to_string(o) +
               ", the log disagrees";
      }
    }
    return "";
  }

  // New DLQ records (D1) and every DeadLetter frame since the last crash (D2).
  std::string ReadDlq() {
    ToolResult r = RunTool(opt.ironbus, Dump("--dlq --from " + std::to_string(dlq_read)), opt.scratch);
    if (r.exit_code != 0) return "dump --dlq exited " + std::to_string(r.exit_code) + ": " + r.err;
    std::istringstream lines(r.out);
    for (std::string line; std::getline(lines, line);) {
      const auto j = nlohmann::json::parse(line, nullptr, false);
      if (!j.is_object()) return "dump --dlq printed a non-JSON line: " + line;
      if (j.value("schema", "") == "ironbus.cli.dump.loss.v1") {
        if (std::string e = CheckLoss(j, "dlq"); !e.empty()) return e;
        continue;
      }
      const uint64_t dlq_offset = j.value("dlq_offset", kNone);
      if (dlq_offset != dlq_read) return "(D1) dump --dlq shows offset " + std::to_string(dlq_offset) + " where " +
                                         std::to_string(dlq_read) + " is due";
      ++dlq_read;
      const uint64_t o = j.value("source_offset", kNone);
      if (j.value("group", "") != kGroup) return "(D1) a DLQ record of a group nobody consumes: " + line;
      if (o >= log.size() || ParsePayload(j.value("payload", "")) != log[o]) {
        return "(D1) DLQ record " + std::to_string(dlq_offset) + " does not hold the log's record at its source: " +
               line;
      }
      // Moved at the grant past max-deliver (2): the count may fall back after a crash, never
      // jump ahead.
      if (j.value("attempt", uint64_t{0}) < 3) return "(D1) DLQ record dead-lettered too early: " + line;
      consumer.Grow(o);
      if ((consumer.facts[o] & kInDlq) != 0) return "(D1) offset " + std::to_string(o) + " is in the DLQ twice";
      // Read after every crash, so this record was written in the life that just ended.
      if (consumer.OnDisk(o) || (consumer.facts[o] & kOkThisLife) != 0) {
        return "(C3) offset " + std::to_string(o) + " was dead-lettered after it was settled";
      }
      consumer.facts[o] |= kInDlq;
      ++summary.dead_letters;
    }
    for (uint64_t o : consumer.noticed_unchecked) {
      if ((consumer.facts[o] & kInDlq) == 0) {
        return "(D2) offset " + std::to_string(o) + " was reported dead-lettered and is not in the DLQ";
      }
    }
    consumer.noticed_unchecked.clear();
    return "";
  }

  // The cursor checkpoint of "g" (C1, C2), then the model starts the next life from it.
  std::string ReadCursor() {
    const std::string path = opt.data_dir + "/" + format::CursorFileName(kGroup);
    const std::string file = Slurp(path);
    format::CursorSnapshot snap;
    if (auto v = format::DecodeCheckpointFile(AsBytes(file), format::kCursorCheckpointCap)) {
      snap = format::DecodeCursorSnapshot(v->payload);
    }
    ConsumerModel& c = consumer;
    if (snap.committed > log.size()) {
      return "(C1) the cursor on disk is at " + std::to_string(snap.committed) + ", past the log's " +
             std::to_string(log.size()) + " records";
    }
    if (snap.committed < c.a) {
      return "(C1) the cursor on disk is at " + std::to_string(snap.committed) + " but the broker answered Ok to " +
             "acks that moved it to " + std::to_string(c.a);
    }
    auto covered = [&](uint64_t o) {
      return o < c.facts.size() && (c.facts[o] & (kSettleSent | kInDlq)) != 0;
    };
    for (uint64_t o = c2_checked; o < snap.committed; ++o) {
      if (!covered(o)) {
        return "(C2) the cursor on disk committed offset " + std::to_string(o) + " (watermark " +
               std::to_string(snap.committed) + "), never acked, termed or dead-lettered";
      }
    }
    c2_checked = std::max(c2_checked, snap.committed);
    std::vector<std::pair<uint64_t, uint64_t>> ranges;
    for (const auto& [s, e] : snap.acked_ahead) {
      if (s <= snap.committed || e > log.size() || s >= e) continue;  // what Cursor::Restore drops
      for (uint64_t o = s; o < e; ++o) {
        if (!covered(o)) return "(C2) the cursor on disk holds offset " + std::to_string(o) + " as acked ahead";
      }
      ranges.emplace_back(s, e);
    }
    c.disk_committed = snap.committed;
    c.disk_ranges = std::move(ranges);
    for (uint8_t& f : c.facts) f &= static_cast<uint8_t>(~(kOkThisLife | kNoticedThisLife));
    c.a = snap.committed;
    c.AdvanceA();
    return "";
  }

  std::string CheckAfterStop() {
    if (std::string e = ReadLog(); !e.empty()) return e;
    if (std::string e = ReadDlq(); !e.empty()) return e;
    return ReadCursor();
  }

  // "recovery: <s> segment(s), <n> record(s), offsets [<a>, <b>), <e> loss event(s): <d> byte(s)
  // of data loss, ..." must say: no data loss, exactly the records dump showed.
  std::string CheckBanner(const ServeProcess& broker) {
    static const std::regex kLine(R"(recovery: \d+ segment\(s\), (\d+) record\(s\), offsets \[(\d+), (\d+)\), )"
                                  R"(\d+ loss event\(s\): (\d+) byte\(s\) of data loss)");
    const std::string banner = broker.output();
    std::smatch m;
    if (!std::regex_search(banner, m, kLine)) return "(R) no recovery line in the banner:\n" + banner;
    const uint64_t records = std::stoull(m[1]), first = std::stoull(m[2]), end = std::stoull(m[3]);
    if (std::stoull(m[4]) != 0) return "(R) recovery reported data loss:\n" + banner;
    if (first != 0 || end != log.size() || records != log.size()) {
      return "(R) recovery serves offsets [" + std::to_string(first) + ", " + std::to_string(end) + "), dump showed [0, " +
             std::to_string(log.size()) + ")";
    }
    if (broker.errors().find("log.frozen") != std::string::npos) return "(R) the log opened frozen";
    return "";
  }

  void Fail(const std::string& where, const std::string& what) { summary.violations.push_back(where + what); }

  // One cycle: start (maybe with a crash point armed), load, crash, check. False to stop.
  bool Cycle(uint64_t cycle) {
    const std::string where = "[crash seed=" + std::to_string(opt.seed) + " cycle=" + std::to_string(cycle) + "] ";
    const bool use_point = opt.mode == CrashMode::kPoints || (opt.mode == CrashMode::kMixed && rng() % 2 == 0) ||
                           (cycle == 0 && opt.mode != CrashMode::kKill9);
    std::string crash_at;
    if (use_point) {
      const PointChoice& p = kPoints[rng() % std::size(kPoints)];
      crash_at = std::string(p.name) + ":" + std::to_string(1 + rng() % p.max_hit);
    }
    if (cycle == 0 && opt.mode != CrashMode::kKill9) {
      // Reachable only while the directory is new: the first ack creates cursor-g.ckpt.
      crash_at = "checkpoint.after_create_before_dir_sync:1";
    }
    const milliseconds load_ms(use_point ? uint64_t{1500} : 100 + rng() % 501);
    const uint64_t thread_seed = rng();

    ServeProcess broker(opt.ironbus, opt.data_dir, opt.scratch + "/serve-" + std::to_string(cycle % 4) + ".out",
                        crash_at);
    const std::string addr = broker.WaitListening();
    std::string how;
    if (addr.empty()) {
      // A point on the startup path (the first segment, a checkpoint rewrite) fires before
      // listening: a crash like any other.
      const int st = broker.Stop(SIGKILL);
      if (!use_point || !CrashedAtPoint(st)) {
        Fail(where, "(R) the broker did not start (" + DescribeStatus(st) + ")\n" + broker.output() + broker.errors());
        return false;
      }
      how = "point " + crash_at + " fired at startup";
      ++summary.points_fired;
      ++summary.fired_by_point[crash_at.substr(0, crash_at.find(':'))];
    } else {
      if (std::string e = CheckBanner(broker); !e.empty()) {
        Fail(where, e);
        return false;
      }
      std::vector<ProducerLog> producers(kProducers);
      std::vector<std::thread> threads;
      std::atomic<bool> stop{false};
      for (int p = 0; p < kProducers; ++p) {
        threads.emplace_back(Produce, addr, p, thread_seed + p, &next_seq[p], &consumer.progress, &stop, &producers[p]);
      }
      threads.emplace_back(Consume, addr, false, thread_seed + kProducers, &consumer);
      const auto deadline = SteadyClock::now() + load_ms;
      while (SteadyClock::now() < deadline && !broker.Exited()) std::this_thread::sleep_for(milliseconds(2));
      int st = 0;
      if (broker.Exited()) {
        st = broker.Stop(SIGKILL);
      } else {
        // Alive up to the kill: a crash of its own would be a failure, not a kill.
        Status alive;
        {
          auto probe = client::Client::Connect(addr, Options());
          alive = probe.ok() ? (*probe)->Ping() : probe.status();
        }
        st = broker.Stop(SIGKILL);
        if (!alive.ok() && !CrashedAtPoint(st)) {
          stop = true;
          for (auto& t : threads) t.join();
          Fail(where, "the broker died before the kill: " + alive.ToString() + "\n" + broker.errors());
          return false;
        }
      }
      stop = true;
      for (auto& t : threads) t.join();
      if (CrashedAtPoint(st)) {
        if (!use_point) {
          Fail(where, "the broker exited 137 with no crash point armed\n" + broker.errors());
          return false;
        }
        how = "point " + crash_at;
        ++summary.points_fired;
        ++summary.fired_by_point[crash_at.substr(0, crash_at.find(':'))];
      } else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) {
        how = use_point ? "SIGKILL (" + crash_at + " not reached)" : "SIGKILL after " + std::to_string(load_ms.count()) + " ms";
        ++summary.sigkills;
        summary.points_missed += use_point ? 1 : 0;
      } else {
        Fail(where, "the broker ended by " + DescribeStatus(st) + ", not by the crash\n" + broker.errors());
        return false;
      }
      if (broker.errors().find("broker.stopped") != std::string::npos) {
        Fail(where, "the broker stopped cleanly instead of crashing\n" + broker.errors());
        return false;
      }
      for (int p = 0; p < kProducers; ++p) {
        if (!producers[p].failure.empty()) {
          Fail(where, "producer " + std::to_string(p) + ": " + producers[p].failure);
          return false;
        }
        sent_end[p] = next_seq[p];
        acked.insert(acked.end(), producers[p].acked.begin(), producers[p].acked.end());
      }
      if (!consumer.failure.empty()) {
        Fail(where, "consumer: " + consumer.failure);
        return false;
      }
    }
    if (std::string e = CheckAfterStop(); !e.empty()) {
      Fail(where, e);
      return false;
    }
    ++summary.cycles;
    if (opt.verbose) {
      progress << where << how << ": log " << log.size() << ", publishes acked " << acked.size() << ", consumes acked "
               << consumer.acks << ", DLQ " << summary.dead_letters << ", cursor " << consumer.disk_committed
               << std::endl;
    }
    return true;
  }

  // The last restart: drain "g", stop with SIGTERM, and everything must be settled.
  void Final() {
    const std::string where = "[crash seed=" + std::to_string(opt.seed) + " final] ";
    ServeProcess broker(opt.ironbus, opt.data_dir, opt.scratch + "/serve-final.out", "");
    const std::string addr = broker.WaitListening();
    if (addr.empty()) return Fail(where, "(R) the broker did not start\n" + broker.errors());
    if (std::string e = CheckBanner(broker); !e.empty()) return Fail(where, e);
    Consume(addr, true, rng(), &consumer);
    const int st = broker.Stop(SIGTERM);
    if (!consumer.failure.empty()) return Fail(where, "consumer: " + consumer.failure);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
      return Fail(where, "(R) SIGTERM ended the broker with " + DescribeStatus(st) + "\n" + broker.errors());
    }
    const uint64_t torn_before = summary.torn_tails;
    if (std::string e = CheckAfterStop(); !e.empty()) return Fail(where, e);
    if (summary.torn_tails != torn_before) Fail(where, "(R) a clean stop left a torn tail");
    if (consumer.disk_committed != log.size() || !consumer.disk_ranges.empty()) {
      Fail(where, "(R) after the drain the cursor is at " + std::to_string(consumer.disk_committed) + " of " +
                      std::to_string(log.size()) + " records");
    }
  }
};

}  // namespace

CrashDriverSummary RunCrashDriver(const CrashDriverOptions& options, std::ostream& progress) {
  Run run(options, progress);
  const auto start = SteadyClock::now();
  bool ok = true;
  for (uint64_t cycle = 0; cycle < options.cycles && ok; ++cycle) ok = run.Cycle(cycle);
  if (ok) run.Final();
  CrashDriverSummary& s = run.summary;
  s.seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
  s.publishes_sent = run.next_seq[0] + run.next_seq[1];
  s.publishes_acked = run.acked.size();
  s.log_records = run.log.size();
  s.consumes_acked = run.consumer.acks;
  s.terms = run.consumer.terms;
  s.nacks = run.consumer.nacks;
  s.settles_unanswered = run.consumer.unanswered;
  s.dead_letter_notices = run.consumer.notices;
  s.deliveries = run.consumer.deliveries;
  s.redeliveries = run.consumer.redeliveries;
  s.ahead_ack_redeliveries = run.consumer.ahead_redeliveries;
  return s;
}

std::string FormatSummary(const CrashDriverSummary& s) {
  std::ostringstream out;
  out << s.cycles << " cycles in " << s.seconds << " s: " << s.sigkills << " SIGKILL (" << s.points_missed
      << " of them for a point not reached), " << s.points_fired << " crash points fired;\n  publishes "
      << s.publishes_sent << " sent, " << s.publishes_acked << " acked, " << s.log_records << " records in the log; "
      << s.deliveries << " deliveries (" << s.redeliveries << " redeliveries, " << s.ahead_ack_redeliveries
      << " of ahead acks lost to a crash);\n  consumes " << s.consumes_acked << " acked, " << s.terms << " termed, "
      << s.nacks << " nacked, " << s.settles_unanswered << " settles unanswered; " << s.dead_letters
      << " dead letters (" << s.dead_letter_notices << " DeadLetter frames); " << s.torn_tails
      << " torn tail(s) cut; " << s.violations.size() << " violation(s)\n  points fired:";
  for (const auto& [point, n] : s.fired_by_point) out << ' ' << point << '=' << n;
  out << '\n';
  for (const std::string& v : s.violations) out << "  VIOLATION " << v << '\n';
  return out.str();
}

}  // namespace ironbus::e2e
