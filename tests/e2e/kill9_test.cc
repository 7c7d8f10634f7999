// kill -9 under load, through the real binary. One data directory, C cycles of:
//   `ironbus serve --checkpoint-interval 0` -> 2 producers (PublishWindow, window 16..64) and one
//   consumer of group "g" (Fetch, then AckAll in order) for a random 100..600 ms -> SIGKILL ->
//   join the threads (they stop on Unavailable) -> check -> restart.
// A model of what the broker acknowledged is checked against `ironbus dump` of the killed
// broker's directory (dump reads through recovery's dry run: exactly what the restart will
// serve), against the "recovery: ..." line of every restart, and against a full dump after a
// final SIGTERM:
//   (1) every acknowledged publish is in the log once, at the offset its PubAck named;
//   (2) every record is a payload a producer sent (no phantom), no id twice; a publish that was
//       never acknowledged may be there (once) or not;
//   (3) after a restart the consumer of "g" is never delivered an offset below A, where every
//       offset below A was delivered to it and acked kDone (durable before the reply at
//       --checkpoint-interval 0);
//   (4) the offsets read back are dense and increasing, deliveries within a cycle are
//       consecutive, and a record once read (dumped or delivered) never changes.
// kill -9 loses no page cache, so records written but never synced (never acknowledged) survive
// it; a pwrite the kill cuts short leaves a torn tail, which recovery cuts: never data loss.
// IRONBUS_KILL9_CYCLES (default 20) and IRONBUS_KILL9_SEED (default random, printed) set the run;
// docs/kill9.md has the long-run command and measured figures.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "client/client.h"
#include "e2e/e2e_test_util.h"

namespace ironbus::e2e {
namespace {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

constexpr int kProducers = 2;
constexpr size_t kPayloadBytes = 128;
constexpr char kGroup[] = "g";
// Producers outrun a consumer whose every ack writes a cursor checkpoint (about 20x), so they
// pause while their last acked offset is this far past what the consumer acked: the consumer is
// busy for the whole cycle and the log stays small enough to read back after every kill.
constexpr uint64_t kMaxConsumerLag = 1024;
// --max-deliver 0: a message redelivered after every kill must never be dead-lettered, so a gap
// in what "g" is delivered is always a broker fault.
const std::vector<std::string> kServeFlags = {"--checkpoint-interval", "0", "--max-deliver", "0",
                                              "--allow-unlimited-deliver"};

uint64_t EnvU64(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v == nullptr || *v == '\0' ? fallback : std::strtoull(v, nullptr, 10);
}

// A publish id packs (producer, seq) and is written "p<producer>-<seq>"; seq counts up over the
// whole run, so producer p has sent exactly the seqs below its counter.
using Id = uint64_t;
constexpr Id kNoId = ~Id{0};
constexpr uint64_t kNone = ~uint64_t{0};
Id MakeId(uint64_t producer, uint64_t seq) { return producer << 48 | seq; }
uint64_t ProducerOf(Id id) { return id >> 48; }
uint64_t SeqOf(Id id) { return id & ((uint64_t{1} << 48) - 1); }
std::string Name(Id id) { return "p" + std::to_string(ProducerOf(id)) + "-" + std::to_string(SeqOf(id)); }

// "p<producer>-<seq>|" then filler derived from the id, 128 bytes in all, so the whole payload
// is checked byte for byte.
std::string PayloadFor(Id id) {
  std::string p = Name(id) + '|';
  uint64_t h = id * 0x9E3779B97F4A7C15ull;
  while (p.size() < kPayloadBytes) {
    h = h * 6364136223846793005ull + 1442695040888963407ull;
    p.push_back(static_cast<char>('a' + (h >> 33) % 26));
  }
  return p;
}
// The id of a payload that is exactly one a producer would send, or kNoId.
Id ParsePayload(const std::string& payload) {
  unsigned producer = 0;
  unsigned long long seq = 0;
  if (std::sscanf(payload.c_str(), "p%u-%llu|", &producer, &seq) != 2 || producer >= kProducers) return kNoId;
  const Id id = MakeId(producer, seq);
  return payload == PayloadFor(id) ? id : kNoId;
}

client::ClientOptions Options() {
  client::ClientOptions o;
  o.request_timeout = milliseconds(10'000);  // a hung broker fails the cycle instead of the CI job
  return o;
}

// What one producer had acknowledged in one cycle. Unavailable (the kill) ends it; anything
// else is a failure.
struct ProducerLog {
  std::vector<std::pair<Id, uint64_t>> acked;  // id -> offset from its PubAck
  std::string failure;
};

void Produce(const std::string& addr, int producer, uint64_t rng_seed, uint64_t* next_seq,
             const std::atomic<uint64_t>* consumer_progress, const std::atomic<bool>* killed, ProducerLog* out) {
  std::mt19937_64 rng(rng_seed);
  auto c = client::Client::Connect(addr, Options());
  if (!c.ok()) {
    if (!c.status().IsUnavailable()) out->failure = "connect: " + c.status().ToString();
    return;
  }
  uint64_t head = 0;  // after this producer's last acked offset
  for (;;) {
    while (head > *consumer_progress + kMaxConsumerLag) {
      if (*killed) return;
      std::this_thread::sleep_for(milliseconds(1));
    }
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
        out->failure = Name(ids[i]) + ": " + (results[i].ok() ? "PubAckDuplicate without a msg_id"
                                                              : results[i].status.ToString() + " " +
                                                                    results[i].error_code);
        return;
      }
    }
    if ((*c)->broken()) return;
  }
}

// The consumer's side of the model. Only the consumer thread touches it while a cycle runs,
// except `progress`, which the producers read.
struct ConsumerState {
  std::atomic<uint64_t> progress{0};  // ack_sent_end, published for the producers' throttle
  uint64_t floor = 0;                 // A: every offset below was delivered and acked kDone
  uint64_t ack_sent_end = 0;          // every offset below was delivered and its ack sent (answered or not)
  std::vector<Id> seen;               // offset -> the id delivered there (kNoId: not yet)
  uint64_t acks_done = 0;
  uint64_t acks_unanswered = 0;  // committed, though the kill took their AckStatus
  uint64_t redeliveries = 0;
  std::string failure;
};

// Fetches and acks in order until the connection breaks (the kill), or with `drain` until a
// long-poll window comes back empty. Invariants (3) and (4) are checked as messages arrive.
void Consume(const std::string& addr, bool drain, ConsumerState* s) {
  auto c = client::Client::Connect(addr, Options());
  Status sub = c.ok() ? (*c)->Subscribe(kGroup) : c.status();
  if (!sub.ok()) {
    if (!sub.IsUnavailable()) s->failure = "subscribe: " + sub.ToString();
    return;
  }
  std::optional<uint64_t> next;  // the offset the next delivery must carry
  for (;;) {
    client::FetchOptions fetch;
    fetch.no_wait = false;
    fetch.expires = milliseconds(100);
    auto w = (*c)->Fetch(fetch);
    if (!w.ok()) {
      if (!w.status().IsUnavailable()) s->failure = "fetch: " + w.status().ToString();
      return;
    }
    if (!w->error.ok() || !w->dead_letters.empty() || !w->truncations.empty() || !w->gaps.empty()) {
      s->failure = "fetch window: " + w->error.ToString() + " " + w->error_code + ", " +
                   std::to_string(w->dead_letters.size()) + " dead letter(s), " +
                   std::to_string(w->truncations.size()) + " truncation(s), " + std::to_string(w->gaps.size()) +
                   " gap(s)";
      return;
    }
    if (w->messages.empty() && drain) return;
    for (const client::Message& m : w->messages) {
      const std::string at = "offset " + std::to_string(m.offset);
      if (!next) {
        // The first delivery since the restart: the cursor "g" recovered.
        if (m.offset < s->floor) {
          s->failure = "(3) " + at + " delivered after the restart, below A=" + std::to_string(s->floor);
          return;
        }
        if (m.offset > s->ack_sent_end) {
          s->failure = "(3) the cursor skipped [" + std::to_string(s->floor) + ", " + std::to_string(m.offset) +
                       "): offsets from " + std::to_string(s->ack_sent_end) + " on were never acked";
          return;
        }
        // Above A is legal only over acks that were sent but whose AckStatus the kill took: the
        // broker shows they were committed, so A moves up to here.
        s->acks_unanswered += m.offset - s->floor;
        s->floor = m.offset;
      } else if (m.offset != *next) {
        s->failure = "(4) " + at + " delivered after offset " + std::to_string(*next - 1);
        return;
      }
      next = m.offset + 1;
      const std::string payload(AsChars(m.payload));
      const Id id = ParsePayload(payload);
      if (s->seen.size() <= m.offset) s->seen.resize(m.offset + 1, kNoId);
      const Id before = s->seen[m.offset];
      if (id == kNoId || (before != kNoId && before != id)) {
        s->failure = "(2)/(4) " + at + " delivered as \"" + payload + "\"" +
                     (before == kNoId ? "" : ", earlier as " + Name(before));
        return;
      }
      s->redeliveries += before == kNoId ? 0 : 1;
      s->seen[m.offset] = id;
    }
    if (w->messages.empty()) continue;
    s->ack_sent_end = std::max(s->ack_sent_end, *next);
    s->progress = s->ack_sent_end;
    auto outcomes = (*c)->AckAll(w->messages);
    if (!outcomes.ok()) {
      if (!outcomes.status().IsUnavailable()) s->failure = "ack: " + outcomes.status().ToString();
      return;
    }
    for (size_t i = 0; i < outcomes->size(); ++i) {
      if ((*outcomes)[i] != client::AckOutcome::kDone) {
        s->failure = "ack of offset " + std::to_string(w->messages[i].offset) + " not kDone on a live lease";
        return;
      }
      ++s->acks_done;
      if (w->messages[i].offset == s->floor) ++s->floor;
    }
  }
}

// The producers' side of the model, and the log as read back.
struct Model {
  uint64_t sent_end[kProducers] = {};          // producer p sent the seqs below sent_end[p]
  std::vector<std::pair<Id, uint64_t>> acked;  // every acknowledged publish: id -> PubAck offset
  size_t acked_verified = 0;                   // acked[0, acked_verified) was found in `log`
  std::vector<Id> log;                         // offset -> id, as dump showed it
  std::vector<uint64_t> placed[kProducers];    // [producer][seq] -> the offset it was read at
  uint64_t seen_verified_end = 0;              // consumer deliveries below were checked
  uint64_t torn_tail_events = 0;

  // `dump --json --payload text --from log.size()` of a stopped broker's directory, in chunks
  // (a long run's full dump would not fit in memory as one string): appends the new records and
  // checks (1), (2), (4) and the consumer's deliveries against them.
  std::string ReadNewRecords(const std::string& data_dir, const std::string& scratch, const ConsumerState& consumer) {
    constexpr uint64_t kChunkRecords = 50'000;
    for (bool first_chunk = true;; first_chunk = false) {
      const size_t chunk_start = log.size();
      RunResult r = RunIronbus("dump --json --payload text --data-dir " + data_dir + " --from " +
                                   std::to_string(chunk_start) + " --count " + std::to_string(kChunkRecords),
                               scratch);
      if (r.exit_code != 0) return "dump exited " + std::to_string(r.exit_code) + ": " + r.err;
      if (std::string error = ReadDumpChunk(r.out, first_chunk); !error.empty()) return error;
      if (log.size() - chunk_start < kChunkRecords) break;
    }
    for (; acked_verified < acked.size(); ++acked_verified) {
      const auto [id, offset] = acked[acked_verified];
      if (offset >= log.size() || log[offset] != id) {
        return "(1) acknowledged " + Name(id) + "@" + std::to_string(offset) + " is not in the log there (" +
               std::to_string(log.size()) + " records" +
               (offset < log.size() ? ", that offset holds " + Name(log[offset]) : "") + ")";
      }
    }
    for (; seen_verified_end < consumer.seen.size(); ++seen_verified_end) {
      const Id id = consumer.seen[seen_verified_end];
      if (id == kNoId) continue;
      if (seen_verified_end >= log.size() || log[seen_verified_end] != id) {
        return "(4) the consumer was delivered " + Name(id) + "@" + std::to_string(seen_verified_end) +
               ", the log disagrees";
      }
    }
    return "";
  }

  // One dump's NDJSON. Every chunk ends with the same whole-log loss trailer: count it once.
  std::string ReadDumpChunk(const std::string& out, bool count_loss) {
    std::istringstream lines(out);
    for (std::string line; std::getline(lines, line);) {
      const auto j = nlohmann::json::parse(line, nullptr, false);
      if (!j.is_object()) return "dump printed a non-JSON line: " + line;
      if (j.value("schema", "") == "ironbus.cli.dump.loss.v1") {
        for (const auto& e : j["loss"]["events"]) {
          if (e.value("reason", "") != "torn_tail") return "(1) dump reports data loss: " + line;
          torn_tail_events += count_loss ? 1 : 0;
        }
        continue;
      }
      const uint64_t offset = j.value("offset", kNone);
      if (offset != log.size()) {
        return "(4) dump shows offset " + std::to_string(offset) + " where " + std::to_string(log.size()) + " is due";
      }
      const Id id = ParsePayload(j.value("payload", ""));
      if (id == kNoId || SeqOf(id) >= sent_end[ProducerOf(id)]) return "(2) phantom record: " + line;
      std::vector<uint64_t>& at = placed[ProducerOf(id)];
      if (at.size() <= SeqOf(id)) at.resize(SeqOf(id) + 1, kNone);
      if (at[SeqOf(id)] != kNone) {
        return "(2) " + Name(id) + " is in the log twice: offsets " + std::to_string(at[SeqOf(id)]) + " and " +
               std::to_string(offset);
      }
      at[SeqOf(id)] = offset;
      log.push_back(id);
    }
    return "";
  }
};

// "recovery: <s> segment(s), <n> record(s), offsets [<a>, <b>), <e> loss event(s): <d> byte(s) of
// data loss, ..." must say: no data loss, and exactly the records dump showed before the restart.
std::string CheckRecoveryLine(const std::string& banner, uint64_t expected_records) {
  static const std::regex kLine(R"(recovery: \d+ segment\(s\), (\d+) record\(s\), offsets \[(\d+), (\d+)\), )"
                                R"(\d+ loss event\(s\): (\d+) byte\(s\) of data loss)");
  std::smatch m;
  if (!std::regex_search(banner, m, kLine)) return "no recovery line in the banner";
  const uint64_t records = std::stoull(m[1]), first = std::stoull(m[2]), end = std::stoull(m[3]);
  if (std::stoull(m[4]) != 0) return "recovery reported data loss";
  if (first != 0 || end != expected_records || records != expected_records) {
    return "recovery serves offsets [" + std::to_string(first) + ", " + std::to_string(end) + ") (" +
           std::to_string(records) + " records), dump showed [0, " + std::to_string(expected_records) + ")";
  }
  return "";
}

// Starts the broker on `data_dir` and checks its recovery line; empty on failure (see *error).
std::string Start(std::unique_ptr<Broker>* broker, const std::string& data_dir, const std::string& scratch,
                  const Model& model, double* startup_ms, std::string* error) {
  const auto t0 = SteadyClock::now();
  *broker = std::make_unique<Broker>(data_dir, scratch, kServeFlags);
  const std::string addr = (*broker)->WaitListening();
  *startup_ms = std::chrono::duration<double, std::milli>(SteadyClock::now() - t0).count();
  const std::string banner = (*broker)->output();
  *error = addr.empty() ? "the broker did not start" : CheckRecoveryLine(banner, model.log.size());
  // serve logs the `log.frozen` event (docs/logging.md) whenever the log opens read-only.
  if ((*broker)->errors().find("log.frozen") != std::string::npos) *error += " (the log opened frozen)";
  if (!error->empty()) *error += "\n" + banner + (*broker)->errors();
  return error->empty() ? addr : "";
}

TEST(Kill9, AcknowledgedWorkSurvivesSigkillUnderLoad) {
  const uint64_t cycles = EnvU64("IRONBUS_KILL9_CYCLES", 20);
  const uint64_t seed = EnvU64("IRONBUS_KILL9_SEED", std::random_device{}());
  // std::endl: a forked broker must not inherit (and print again) a buffered line.
  std::cout << "[kill9] seed=" << seed << " cycles=" << cycles << " (replay with IRONBUS_KILL9_SEED=" << seed << ")"
            << std::endl;
  RecordProperty("seed", std::to_string(seed));
  std::mt19937_64 rng(seed);
  io::testing::TempDir scratch;
  const std::string data = scratch.path() + "/data";
  Model model;
  ConsumerState consumer;
  uint64_t next_seq[kProducers] = {};
  std::vector<double> startup_ms;
  std::unique_ptr<Broker> broker;
  const auto run_start = SteadyClock::now();

  for (uint64_t cycle = 0; cycle < cycles; ++cycle) {
    const std::string where = "[kill9 seed=" + std::to_string(seed) + " cycle=" + std::to_string(cycle) + "] ";
    std::string error;
    const std::string addr = Start(&broker, data, scratch.path(), model, &startup_ms.emplace_back(), &error);
    ASSERT_FALSE(addr.empty()) << where << error;

    const milliseconds load_ms(100 + rng() % 501);
    std::vector<ProducerLog> producers(kProducers);
    std::vector<std::thread> threads;
    std::atomic<bool> killed{false};
    for (int p = 0; p < kProducers; ++p) {
      threads.emplace_back(Produce, addr, p, rng(), &next_seq[p], &consumer.progress, &killed, &producers[p]);
    }
    threads.emplace_back(Consume, addr, false, &consumer);
    std::this_thread::sleep_for(load_ms);
    // Alive up to the kill: a crash of its own during the load is a failure, not a kill.
    Status alive;
    {
      auto probe = client::Client::Connect(addr, Options());
      alive = probe.ok() ? (*probe)->Ping() : probe.status();
    }
    const int exit_code = broker->Stop(SIGKILL);
    killed = true;
    for (auto& t : threads) t.join();
    ASSERT_TRUE(alive.ok()) << where << "the broker died before the kill: " << alive.ToString() << "\n"
                            << broker->errors();
    ASSERT_EQ(exit_code, -1) << where << "the broker exited by itself instead of dying by SIGKILL\n"
                             << broker->errors();
    ASSERT_EQ(broker->term_signal(), SIGKILL) << where << broker->errors();
    ASSERT_EQ(broker->errors().find("broker.stopped"), std::string::npos) << where << broker->errors();

    for (int p = 0; p < kProducers; ++p) {
      ASSERT_EQ(producers[p].failure, "") << where << "producer " << p;
      model.sent_end[p] = next_seq[p];
      model.acked.insert(model.acked.end(), producers[p].acked.begin(), producers[p].acked.end());
    }
    ASSERT_EQ(consumer.failure, "") << where << "consumer (A=" << consumer.floor << ")";
    ASSERT_EQ(model.ReadNewRecords(data, scratch.path(), consumer), "") << where;
  }

  // The last restart, a drain of "g" (still never below A), then a clean stop and a full dump.
  const std::string where = "[kill9 seed=" + std::to_string(seed) + " final] ";
  std::string error;
  const std::string addr = Start(&broker, data, scratch.path(), model, &startup_ms.emplace_back(), &error);
  ASSERT_FALSE(addr.empty()) << where << error;
  Consume(addr, true, &consumer);
  ASSERT_EQ(consumer.failure, "") << where << "consumer (A=" << consumer.floor << ")";
  ASSERT_EQ(broker->Stop(SIGTERM), 0) << where << broker->errors();
  EXPECT_EQ(consumer.floor, model.log.size()) << where << "the drain did not reach the end of the log";

  Model reread;
  std::copy(std::begin(model.sent_end), std::end(model.sent_end), std::begin(reread.sent_end));
  reread.acked = model.acked;
  ASSERT_EQ(reread.ReadNewRecords(data, scratch.path(), consumer), "") << where << "full dump";
  ASSERT_EQ(reread.log.size(), model.log.size()) << where << "(4) the log changed length since the last kill";
  for (size_t offset = 0; offset < model.log.size(); ++offset) {
    ASSERT_EQ(reread.log[offset], model.log[offset]) << where << "(4) offset " << offset << " changed since read";
  }
  EXPECT_EQ(reread.torn_tail_events, 0u) << where << "a clean stop leaves no torn tail";

  const double seconds = std::chrono::duration<double>(SteadyClock::now() - run_start).count();
  std::sort(startup_ms.begin(), startup_ms.end());
  std::cout << "[kill9] " << cycles << " cycles in " << seconds << " s: " << next_seq[0] + next_seq[1]
            << " publishes sent, " << model.acked.size() << " acked, " << model.log.size() << " records in the log, "
            << consumer.acks_done << " consumes acked (+" << consumer.acks_unanswered << " committed unanswered, "
            << consumer.redeliveries << " redeliveries), "
            << model.torn_tail_events << " torn tail(s) cut; restart to listening ms: median "
            << startup_ms[startup_ms.size() / 2] << ", max " << startup_ms.back() << "\n";
  EXPECT_GT(model.acked.size(), 0u) << where;
  EXPECT_GT(consumer.acks_done, 0u) << where;
}

}  // namespace
}  // namespace ironbus::e2e

