// `ironbus pub [--addr A] [--key K] [--json] [--] [payload]` (spec/cli-config-ops.md 3.1):
// publishes one record (the argument, or all of stdin when none) and prints its offset. The
// broker answers only after the covering fdatasync, so a printed offset is durable. No msg_id
// is sent, so pub never triggers producer dedup.
//
// Exit: 0; 1 usage (a second positional, a malformed --addr); 5 the broker cannot be reached or
// the connection dropped before the ack; 70 the broker refused (its Err code and text are in
// the message and, with --json, in error.detail) or answered with something unexpected.
#include <iostream>
#include <iterator>
#include <optional>
#include <string>

#include "cli/exit_codes.h"
#include "cli/output.h"
#include "cli/client_security.h"
#include "cli/verbs.h"
#include "client/client.h"

namespace ironbus::cli {
namespace {

struct PubFlags {
  std::string addr = "127.0.0.1:7777";
  std::string key;
  std::optional<std::string> payload;
  bool json = false;
  ClientSecurityFlags tls;
};

int ExitFor(const Status& status) {
  if (status.IsUnavailable()) return kExitUnreachable;
  if (status.code() == StatusCode::kInvalidArgument) return kExitUsage;
  return kExitInternal;
}

int RunPub(const PubFlags& flags) {
  std::string payload;
  if (flags.payload) {
    payload = *flags.payload;
  } else {
    std::cin >> std::noskipws;
    payload.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  auto options = ClientOptionsWithSecurity(flags.tls);
  if (!options.ok()) return Fail("pub", flags.json, kExitUsage, options.status().message());
  auto client = client::Client::Connect(flags.addr, *options);
  if (!client.ok()) {
    return Fail("pub", flags.json, ExitFor(client.status()), WithScopeHint(client.status().message(), "pub", "publish"));
  }
  client::PublishRequest request;
  request.key = ToBytes(flags.key);
  request.payload = ToBytes(payload);
  auto offset = (*client)->Publish(request);
  if (!offset.ok()) {
    nlohmann::json detail = nlohmann::json::object();
    if (offset.status().IsFailedPrecondition()) {
      detail = {{"broker_code", (*client)->last_error().code}, {"broker_message", (*client)->last_error().message}};
    }
    const int code = offset.status().IsUnavailable() ? kExitUnreachable : kExitInternal;
    return Fail("pub", flags.json, code,
                WithScopeHint("the broker did not accept the record: " + offset.status().message(), "pub", "publish"),
                detail);
  }
  (*client)->Close();
  if (flags.json) {
    PrintJsonLine({{"schema", "ironbus.cli.pub-result.v1"},
                   {"offset", *offset},
                   {"key_bytes", flags.key.size()},
                   {"bytes", payload.size()},
                   {"durable", true},
                   {"ok", true},
                   {"exit_code", 0}});
  } else {
    std::cout << *offset << '\n';
  }
  return kExitOk;
}

}  // namespace

void RegisterPub(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<PubFlags>();
  auto* pub = app.add_subcommand("pub", "Publish one record (argument or stdin); prints its durable offset");
  pub->add_option("--addr", flags->addr, "Broker address (default 127.0.0.1:7777)");
  pub->add_option("--key", flags->key, "Record key (its bytes, as given)");
  pub->add_option("payload", flags->payload, "Payload (stdin when omitted; `--` first if it starts with -)");
  pub->add_flag("--json", flags->json, "One ironbus.cli.pub-result.v1 object");
  AddClientSecurityFlags(pub, &flags->tls);
  pub->callback([flags, exit_code] { *exit_code = RunPub(*flags); });
}

}  // namespace ironbus::cli
