// `ironbus sub [--addr A] [--group G] [--max N] [--ack | --nack [--delay-ms N] | --term] [--json]`
// (spec/cli-config-ops.md 3.2): subscribes, fetches with no_wait, prints every message and
// settles it with the chosen disposition. No disposition = peek: the lease is kept and the
// broker redelivers after the visibility timeout (the delivery counts toward max_deliver).
// --ack/--term fetch batch after batch until --max messages or a window with no frame at all,
// so a --max above the per-connection credit still drains; peek and --nack take one batch (a
// second would only see what the first left leased or requeued).
//
// Exit: 0; 1 usage (two dispositions, --delay-ms without --nack, a malformed number or
// --addr); 5 the broker cannot be reached or the connection dropped; 70 the broker answered
// Err (its code and text in the message and in error.detail) or a wrong-shaped frame.
//
// --json: NDJSON. ironbus.cli.sub.header.v1 once connected, one ironbus.cli.sub-record.v1 per
// message, the advisories as their own objects, and last ironbus.cli.sub.result.v1 on every
// path but exit 1 (with ok, exit_code and, on failure, error {kind, message, detail}).
#include <algorithm>
#include <iostream>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "cli/exit_codes.h"
#include "cli/output.h"
#include "cli/client_security.h"
#include "cli/verbs.h"
#include "client/client.h"
#include "format/record_format.h"

namespace ironbus::cli {
namespace {

enum class Disposition { kPeek, kAck, kNack, kTerm };

struct SubFlags {
  std::string addr = "127.0.0.1:7777";
  ClientSecurityFlags tls;
  std::string group;
  uint64_t max = 10;
  bool ack = false;
  bool nack = false;
  bool term = false;
  std::optional<uint64_t> delay_ms;
  bool json = false;

  Disposition disposition() const {
    if (ack) return Disposition::kAck;
    if (nack) return Disposition::kNack;
    if (term) return Disposition::kTerm;
    return Disposition::kPeek;
  }
};

const char* DispositionName(Disposition d) {
  switch (d) {
    case Disposition::kAck: return "ack";
    case Disposition::kNack: return "nack";
    case Disposition::kTerm: return "term";
    case Disposition::kPeek: break;
  }
  return "peek";
}

// The --json ack_status and the word after the disposition in the human line.
const char* OutcomeName(Disposition d, client::AckOutcome outcome) {
  if (outcome == client::AckOutcome::kFenced) return "fenced";
  if (outcome == client::AckOutcome::kCapReached) return "refused";  // Progress only; never sent here
  switch (d) {
    case Disposition::kAck: return "committed";
    case Disposition::kNack: return "requeued";
    case Disposition::kTerm: return "dropped";
    case Disposition::kPeek: break;
  }
  return "";
}

// Writes the output of a sub run as it goes, and the final count or result object.
class SubPrinter {
 public:
  explicit SubPrinter(const SubFlags& flags) : flags_(flags) {}

  void Header() {
    if (!flags_.json) return;
    nlohmann::json header = {{"schema", "ironbus.cli.sub.header.v1"},
                             {"addr", flags_.addr},
                             {"group", flags_.group},
                             {"max", flags_.max},
                             {"disposition", DispositionName(flags_.disposition())}};
    if (flags_.delay_ms) header["delay_ms"] = *flags_.delay_ms;
    PrintJsonLine(header);
  }

  // The advisories of one window, then its messages, each followed by its outcome when the
  // message was settled (`outcomes` may be shorter than `messages` after a failed settle).
  void Window(const client::FetchResult& window, const std::vector<client::AckOutcome>& outcomes) {
    for (const auto& dead : window.dead_letters) DeadLetter(dead);
    for (const auto& truncated : window.truncations) Truncated(truncated);
    for (const auto& gap : window.gaps) Gap(gap);
    for (size_t i = 0; i < window.messages.size(); ++i) {
      Message(window.messages[i], i < outcomes.size() ? std::optional(outcomes[i]) : std::nullopt);
    }
    delivered_ += window.messages.size();
  }

  int Done() {
    if (flags_.json) {
      PrintJsonLine({{"schema", "ironbus.cli.sub.result.v1"}, {"delivered", delivered_}, {"ok", true}, {"exit_code", 0}});
    } else {
      std::cout << "fetched " << delivered_ << " message(s)\n";
    }
    return kExitOk;
  }

  // `error: ...` on stderr and, with --json, the result object carrying the failure.
  int Failed(int code, const std::string& message, const nlohmann::json& detail) {
    std::cerr << "error: " << message << '\n';
    if (flags_.json) {
      PrintJsonLine({{"schema", "ironbus.cli.sub.result.v1"},
                     {"delivered", delivered_},
                     {"ok", false},
                     {"exit_code", code},
                     {"error", {{"kind", std::string(ExitKind(code))}, {"message", message}, {"detail", detail}}}});
    }
    return code;
  }

 private:
  void Message(const client::Message& m, std::optional<client::AckOutcome> outcome) {
    const Disposition d = flags_.disposition();
    if (flags_.json) {
      nlohmann::json line = {{"schema", "ironbus.cli.sub-record.v1"},
                             {"offset", m.offset},
                             {"gen", m.generation},
                             {"key_bytes", m.key.size()},
                             {"bytes", m.payload.size()},
                             {"ts_ms", m.timestamp_ms},
                             {"codec", (m.flags & format::kFlagCompressed) != 0 ? "lz4" : "none"},
                             {"disposition", DispositionName(d)}};
      if (outcome) line["ack_status"] = OutcomeName(d, *outcome);
      PrintJsonLine(line);
      return;
    }
    std::cout << '#' << m.offset << " gen=" << m.generation << " key=" << AsChars(m.key)
              << " payload=" << AsChars(m.payload) << '\n';
    if (outcome) std::cout << "  " << DispositionName(d) << ' ' << OutcomeName(d, *outcome) << '\n';
  }

  void DeadLetter(const protocol::DeadLetter& dead) {
    const char* reason = dead.reason == protocol::kDeadLetterMaxDeliver ? "max-deliver" : "reserved";
    if (flags_.json) {
      PrintJsonLine({{"schema", "ironbus.cli.sub.dead-letter.v1"},
                     {"offset", dead.offset},
                     {"reason", reason},
                     {"reason_code", dead.reason}});
    } else {
      std::cout << "dead-letter offset=" << dead.offset << " reason=" << reason << '\n';
    }
  }

  void Truncated(const protocol::Truncated& t) {
    if (flags_.json) {
      PrintJsonLine({{"schema", "ironbus.cli.sub.truncated.v1"},
                     {"earliest_retained", t.earliest_retained},
                     {"skipped", t.skipped}});
    } else {
      std::cout << "truncated: resumed at offset " << t.earliest_retained << ", skipped " << t.skipped
                << " record(s)\n";
    }
  }

  // sub connects without the gap-marker capability, so a broker sends Truncated instead; a
  // GapMarker anyway (a trim or a compaction hole) is shown in the same words.
  void Gap(const protocol::GapMarker& gap) {
    protocol::Truncated t{gap.to, gap.to - std::min(gap.from, gap.to)};
    Truncated(t);
  }

  const SubFlags& flags_;
  uint64_t delivered_ = 0;
};

// Settles every message of a window with the disposition: acks pipelined, the others one by
// one. Stops at the first failure; the outcomes so far are kept for printing.
Status Settle(client::Client& c, const SubFlags& flags, const std::vector<client::Message>& messages,
              std::vector<client::AckOutcome>* outcomes) {
  const Disposition d = flags.disposition();
  if (d == Disposition::kPeek || messages.empty()) return Status::Ok();
  if (d == Disposition::kAck) {
    ASSIGN_OR_RETURN(*outcomes, c.AckAll(messages));
    return Status::Ok();
  }
  for (const client::Message& m : messages) {
    auto outcome = d == Disposition::kNack ? c.Nack(m.offset, m.generation, flags.delay_ms)
                                           : c.Term(m.offset, m.generation);
    if (!outcome.ok()) return outcome.status();
    outcomes->push_back(*outcome);
  }
  return Status::Ok();
}

int RunSub(const SubFlags& flags) {
  SubPrinter out(flags);
  client::ClientOptions plain;
  plain.wants_gap_marker = false;  // the spec's advisories are DeadLetter and Truncated
  auto options = ClientOptionsWithSecurity(flags.tls, plain);
  if (!options.ok()) return Fail("sub", false, kExitUsage, options.status().message());
  auto connected = client::Client::Connect(flags.addr, *options);
  if (!connected.ok()) {
    const OnlineFailure f = DescribeOnlineFailure(connected.status(), protocol::Err{});
    if (f.exit_code == kExitUsage) return Fail("sub", false, f.exit_code, connected.status().message());
    return out.Failed(f.exit_code, WithScopeHint(connected.status().message(), "sub", "subscribe"), f.detail);
  }
  client::Client& c = **connected;
  out.Header();
  auto fail = [&](const std::string& what, const Status& status) {
    const OnlineFailure f = DescribeOnlineFailure(status, c.last_error());
    return out.Failed(f.exit_code, WithScopeHint(what + ": " + status.message(), "sub", "subscribe"), f.detail);
  };
  if (Status s = c.Subscribe(flags.group); !s.ok()) return fail("subscribe", s);

  const Disposition d = flags.disposition();
  uint64_t remaining = flags.max;
  while (remaining > 0) {
    client::FetchOptions fetch;
    fetch.no_wait = true;
    fetch.max_records = static_cast<uint32_t>(std::min<uint64_t>(remaining, std::numeric_limits<uint32_t>::max()));
    auto window = c.Fetch(fetch);
    if (!window.ok()) return fail("fetch", window.status());
    // The messages before an Err terminator are valid leases: settle and show them first.
    std::vector<client::AckOutcome> outcomes;
    const Status settled = Settle(c, flags, window->messages, &outcomes);
    out.Window(*window, outcomes);
    if (!settled.ok()) return fail(DispositionName(d), settled);
    if (!window->error.ok()) return fail("fetch", window->error);
    remaining -= std::min<uint64_t>(remaining, window->messages.size());
    const bool empty = window->messages.empty() && window->dead_letters.empty() && window->truncations.empty() &&
                       window->gaps.empty();
    if (empty || d == Disposition::kPeek || d == Disposition::kNack) break;
  }
  c.Close();
  return out.Done();
}

}  // namespace

OnlineFailure DescribeOnlineFailure(const Status& status, const protocol::Err& broker_error) {
  OnlineFailure f;
  f.detail = nlohmann::json::object();
  if (status.IsUnavailable()) {
    f.exit_code = kExitUnreachable;
  } else if (status.code() == StatusCode::kInvalidArgument) {
    f.exit_code = kExitUsage;
  } else {
    f.exit_code = kExitInternal;
    if (status.IsFailedPrecondition()) {
      f.detail = {{"broker_code", broker_error.code}, {"broker_message", broker_error.message}};
    }
  }
  return f;
}

void RegisterSub(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<SubFlags>();
  auto* sub = app.add_subcommand("sub", "Fetch messages as a consumer group and settle them (default: peek)");
  sub->add_option("--addr", flags->addr, "Broker address (default 127.0.0.1:7777)");
  AddClientSecurityFlags(sub, &flags->tls);
  sub->add_option("--group", flags->group, "Work-group to consume as (default: the default group)");
  sub->add_option("--max", flags->max, "Total messages to fetch (default 10)");
  // A disposition given twice, or two different ones, is a usage error (spec 1.1).
  auto* ack = sub->add_flag("--ack", flags->ack, "Commit each message");
  auto* nack = sub->add_flag("--nack", flags->nack, "Requeue each message (after --delay-ms, else the backoff)");
  auto* term = sub->add_flag("--term", flags->term, "Drop each message without dead-lettering");
  for (CLI::Option* d : {ack, nack, term}) d->multi_option_policy(CLI::MultiOptionPolicy::Throw);
  ack->excludes(nack)->excludes(term);
  nack->excludes(term);
  sub->add_option("--delay-ms", flags->delay_ms, "With --nack: redeliver after this many ms")->needs(nack);
  sub->add_flag("--json", flags->json, "NDJSON: header, one record per message, advisories, result");
  sub->callback([flags, exit_code] { *exit_code = RunSub(*flags); });
}

}  // namespace ironbus::cli
