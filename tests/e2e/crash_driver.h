// The crash driver: the real `ironbus serve` under producers and a consumer, crashed again and
// again, each time either by SIGKILL at a random moment or at a named crash point
// (base/crash_point.h, IRONBUS_CRASH_AT=<point>:<n>) on the publish or the consume path, chosen
// from the seed. After every crash the stopped broker's data directory is read back (`ironbus
// dump` of the log and of dlq/, and the cursor checkpoint of group "g") and checked against a
// model of what the broker acknowledged; then the broker is restarted on it.
//
// Load of one cycle: 2 producers (PublishWindow, window 16..64) and one consumer of group "g"
// that settles every message on its own: Ack (most), Nack with no delay, or Term. The broker runs
// with --checkpoint-interval 0 (the cursor is written before the AckStatus of every ack that
// moves it) and --max-deliver 2, so a message nacked twice (or redelivered after crashes) goes to
// the dead-letter queue.
//
// Invariants (a violation names its tag):
//   P1 every acknowledged publish is in the log once, at the offset its PubAck named;
//   P2 every record is a payload a producer sent (no phantom), no id twice;
//   P3 offsets are dense and increasing from 0, each producer's records are in the order it sent
//      them, and a record once read never changes (dump, redelivery, DLQ copy);
//   C1 the cursor on disk after a crash is at or above A, the watermark the consumer knows the
//      broker reached: every offset below A was settled with an Ok AckStatus (Ack, Term) or
//      reported dead-lettered in this broker's life, or was committed on disk at its start;
//   C2 every offset the cursor on disk covers (below its watermark or in a persisted ahead range)
//      was settled by the consumer (Ack or Term sent) or is in the DLQ: the broker never skips a
//      message;
//   C3 no message is delivered again once committed on disk, once settled Ok in the same broker
//      life, or once dead-lettered;
//   D1 every DLQ record of "g" names a source offset of the log, holds that record's payload, has
//      an attempt past max-deliver, and no (group, source offset) is in the DLQ twice;
//   D2 every offset reported dead-lettered (DeadLetter frame) is in the DLQ after the crash;
//   R  every restart reports no data loss and serves exactly the offsets dump showed; at the end,
//      a drain of "g", a clean SIGTERM stop (exit 0) and a cursor at the end of the log.
// An ack above the watermark (after a nacked message) is kept only in memory until the watermark
// moves (spec/consumers.md 7.2): its message may come back after a crash. That is counted
// ("ahead-ack redeliveries"), not a violation.
#pragma once

#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <vector>

namespace ironbus::e2e {

enum class CrashMode { kKill9, kPoints, kMixed };

struct CrashDriverOptions {
  std::string ironbus;   // path of the ironbus binary (a test build: crash points compiled in)
  std::string data_dir;  // created if missing; must not hold another run's data
  std::string scratch;   // for the broker's output and dump files
  uint64_t cycles = 20;
  uint64_t seed = 1;
  CrashMode mode = CrashMode::kMixed;
  bool verbose = false;  // one progress line per cycle
};

struct CrashDriverSummary {
  uint64_t cycles = 0;
  uint64_t sigkills = 0;
  uint64_t points_fired = 0;
  uint64_t points_missed = 0;  // the chosen point was not reached in time: SIGKILL instead
  std::map<std::string, uint64_t> fired_by_point;
  uint64_t publishes_sent = 0;
  uint64_t publishes_acked = 0;
  uint64_t log_records = 0;
  uint64_t consumes_acked = 0;  // Ack answered Ok
  uint64_t terms = 0;
  uint64_t nacks = 0;
  uint64_t settles_unanswered = 0;  // Ack/Term sent, the crash took the AckStatus
  uint64_t dead_letters = 0;        // DLQ records of "g"
  uint64_t dead_letter_notices = 0;
  uint64_t deliveries = 0;
  uint64_t redeliveries = 0;
  uint64_t ahead_ack_redeliveries = 0;
  uint64_t torn_tails = 0;
  double seconds = 0;
  std::vector<std::string> violations;  // the run stops after the cycle that found the first
};

CrashDriverSummary RunCrashDriver(const CrashDriverOptions& options, std::ostream& progress);
std::string FormatSummary(const CrashDriverSummary& s);

}  // namespace ironbus::e2e
