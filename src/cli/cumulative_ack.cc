// `ironbus cumulative-ack [--addr A] [--group G] --up-to N [--json]` (spec/cli-config-ops.md
// 3.3): commits a broadcast group's cursor to N (exclusive) in one CumulativeAck. The broker
// refuses it for a group that is not broadcast (the default group never is) and for an N past
// the durable head or below the earliest retained offset; at or below the current commit it is
// a no-op success.
//
// Exit: 0; 1 usage (missing --up-to, a malformed number or --addr); 5 the broker cannot be
// reached or the connection dropped; 70 the broker refused (its reason in the message and in
// error.detail) or answered with a wrong-shaped frame.
//
// --json: one ironbus.cli.cumulative-ack.v1 object (group, up_to, ok, exit_code) on success,
// the failure object ironbus.cli.result.v1 otherwise.
#include <iostream>
#include <string>

#include "cli/exit_codes.h"
#include "cli/output.h"
#include "cli/client_security.h"
#include "cli/verbs.h"
#include "client/client.h"

namespace ironbus::cli {
namespace {

struct CumulativeAckFlags {
  std::string addr = "127.0.0.1:7777";
  std::string group;
  uint64_t up_to = 0;
  bool json = false;
  ClientSecurityFlags tls;
};

int RunCumulativeAck(const CumulativeAckFlags& flags) {
  constexpr std::string_view kCommand = "cumulative-ack";
  auto options = ClientOptionsWithSecurity(flags.tls);
  if (!options.ok()) return Fail(kCommand, false, kExitUsage, options.status().message());
  auto connected = client::Client::Connect(flags.addr, *options);
  if (!connected.ok()) {
    const OnlineFailure f = DescribeOnlineFailure(connected.status(), protocol::Err{});
    return Fail(kCommand, flags.json && f.exit_code != kExitUsage, f.exit_code,
                WithScopeHint(connected.status().message(), kCommand, "subscribe"),
                f.detail);
  }
  client::Client& c = **connected;
  if (Status s = c.CumulativeAck(flags.group, flags.up_to); !s.ok()) {
    const OnlineFailure f = DescribeOnlineFailure(s, c.last_error());
    return Fail(kCommand, flags.json, f.exit_code,
                WithScopeHint("the broker did not commit the cumulative ack: " + s.message(), kCommand, "subscribe"),
                f.detail);
  }
  c.Close();
  if (flags.json) {
    PrintJsonLine({{"schema", "ironbus.cli.cumulative-ack.v1"},
                   {"group", flags.group},
                   {"up_to", flags.up_to},
                   {"ok", true},
                   {"exit_code", 0}});
  } else {
    const std::string group = flags.group.empty() ? "default group" : "group `" + flags.group + "`";
    std::cout << "cumulative ack committed " << group << " up to offset " << flags.up_to << '\n';
  }
  return kExitOk;
}

}  // namespace

void RegisterCumulativeAck(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<CumulativeAckFlags>();
  auto* cmd = app.add_subcommand("cumulative-ack", "Commit a broadcast group's cursor up to an offset (exclusive)");
  cmd->add_option("--addr", flags->addr, "Broker address (default 127.0.0.1:7777)");
  AddClientSecurityFlags(cmd, &flags->tls);
  cmd->add_option("--group", flags->group, "The broadcast group (default: the default group, always refused)");
  cmd->add_option("--up-to", flags->up_to, "Commit every offset below this one")->required();
  cmd->add_flag("--json", flags->json, "One ironbus.cli.cumulative-ack.v1 object");
  cmd->callback([flags, exit_code] { *exit_code = RunCumulativeAck(*flags); });
}

}  // namespace ironbus::cli
