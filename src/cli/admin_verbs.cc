// info, consumer ls, lag (and its spec spelling `consumer lag`): online views that read the
// broker's read-only /admin JSON (server/admin.h) from `serve --health-addr --enable-admin`.
// docs/cli.md "Introspection" has the output and exit codes.
#include <CLI/CLI.hpp>
#include <cstdint>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "cli/exit_codes.h"
#include "cli/client_security.h"
#include "cli/http_get.h"
#include "cli/output.h"
#include "cli/verbs.h"

namespace ironbus::cli {
namespace {

constexpr std::chrono::milliseconds kTimeout{5'000};
constexpr const char* kAcceptV1 = "application/vnd.ironbus.admin.v1+json";

struct AdminFlags {
  std::string addr;
  std::string token_file;  // an admin token, for a broker with an identity table
  bool json = false;
  std::optional<std::string> group;
  std::optional<uint64_t> max_lag;
};

// The /admin v1 object, or a finished exit (written to stderr, and --json failure object).
struct Fetched {
  nlohmann::json admin;
  int exit_code = kExitOk;
};

Fetched FetchAdmin(const char* command, const AdminFlags& flags) {
  auto token = ReadTokenFile(flags.token_file);
  if (!token.ok()) return {{}, Fail(command, false, kExitUsage, token.status().message())};
  auto got = HttpGet(flags.addr, "/admin", kAcceptV1, kTimeout, *token);
  if (!got.ok()) {
    const int code = got.status().code() == StatusCode::kInvalidArgument ? kExitUsage
                     : got.status().code() == StatusCode::kUnavailable   ? kExitUnreachable
                                                                          : kExitInternal;
    return {{}, Fail(command, flags.json && code != kExitUsage, code, "--admin-addr " + got.status().message())};
  }
  if (got->status == 404) {
    return {{}, Fail(command, flags.json, kExitInternal,
                     flags.addr + " has no /admin: start the broker with --health-addr and --enable-admin",
                     {{"http_status", 404}})};
  }
  if (const std::string refusal = AdminRefusal(got->status, command); !refusal.empty()) {
    return {{}, Fail(command, flags.json, kExitInternal, refusal, {{"http_status", got->status}})};
  }
  if (got->status != 200) {
    return {{}, Fail(command, flags.json, kExitInternal,
                     flags.addr + "/admin answered HTTP " + std::to_string(got->status), {{"http_status", got->status}})};
  }
  nlohmann::json admin = nlohmann::json::parse(got->body, nullptr, false);
  if (admin.is_discarded() || !admin.is_object() || admin.value("schema_version", 0) != 1 ||
      !admin.contains("log") || !admin.contains("consumers")) {
    return {{}, Fail(command, flags.json, kExitInternal, flags.addr + "/admin is not an /admin v1 object")};
  }
  return {std::move(admin), kExitOk};
}

std::string GroupLabel(const std::string& name) { return name.empty() ? "(default)" : name; }

nlohmann::json GroupRows(const nlohmann::json& admin) {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& g : admin["consumers"]) {
    rows.push_back({{"name", g.value("name", "")},
                    {"mode", g.value("mode", "")},
                    {"committed_offset", g.value("committed_offset", uint64_t{0})},
                    {"consumer_lag", g.value("consumer_lag", uint64_t{0})},
                    {"in_flight", g.value("in_flight", uint64_t{0})},
                    {"members", g.value("members", uint64_t{0})},
                    {"dead_lettered", g.value("dead_lettered", uint64_t{0})},
                    {"redelivered", g.value("redelivered", uint64_t{0})}});
  }
  return rows;
}

int RunInfo(const AdminFlags& flags) {
  Fetched f = FetchAdmin("info", flags);
  if (f.exit_code != kExitOk) return f.exit_code;
  const nlohmann::json& log = f.admin["log"];
  const nlohmann::json recovery = f.admin.value("recovery", nlohmann::json::object());
  if (flags.json) {
    PrintJsonLine({{"schema", "ironbus.cli.info.v1"},
                   {"source", flags.addr},
                   {"version", f.admin.value("version", "")},
                   {"uptime_s", f.admin.value("uptime_s", 0.0)},
                   {"log", log},
                   {"recovery", recovery},
                   {"groups", f.admin["consumers"].size()},
                   {"ok", true},
                   {"exit_code", kExitOk}});
    return kExitOk;
  }
  const bool frozen = log.value("frozen", false);
  std::cout << "ironbus " << f.admin.value("version", "?") << " at " << flags.addr << ", up "
            << static_cast<uint64_t>(f.admin.value("uptime_s", 0.0)) << " s\n"
            << "log: head=" << log.value("head_offset", uint64_t{0}) << " first=" << log.value("first_offset", uint64_t{0})
            << " durable=" << log.value("durable_offset", uint64_t{0}) << " segments=" << log.value("segments", uint64_t{0})
            << " records=" << log.value("records", uint64_t{0}) << " bytes=" << log.value("bytes", uint64_t{0})
            << " durability=" << log.value("durability", "") << '\n'
            << "writer: " << (frozen ? "frozen (" + log.value("frozen_reason", std::string()) + ")" : std::string("healthy"))
            << '\n'
            << "recovery: truncated_bytes=" << recovery.value("truncated_bytes", uint64_t{0})
            << " data_loss_bytes=" << recovery.value("data_loss_bytes", uint64_t{0})
            << " records_skipped=" << recovery.value("records_skipped", uint64_t{0})
            << " last_skip_offset=" << recovery.value("last_skip_offset", int64_t{-1}) << '\n'
            << "groups: " << f.admin["consumers"].size() << '\n';
  return kExitOk;
}

int RunConsumerLs(const AdminFlags& flags) {
  Fetched f = FetchAdmin("consumer ls", flags);
  if (f.exit_code != kExitOk) return f.exit_code;
  const nlohmann::json rows = GroupRows(f.admin);
  if (flags.json) {
    PrintJsonLine({{"schema", "ironbus.cli.consumer-ls.v1"},
                   {"source", flags.addr},
                   {"head_offset", f.admin["log"].value("head_offset", uint64_t{0})},
                   {"groups", rows},
                   {"ok", true},
                   {"exit_code", kExitOk}});
    return kExitOk;
  }
  for (const auto& g : rows) {
    std::cout << GroupLabel(g["name"]) << ": mode=" << g["mode"].get<std::string>() << " committed=" << g["committed_offset"]
              << " lag=" << g["consumer_lag"] << " in_flight=" << g["in_flight"] << " members=" << g["members"]
              << " dead_lettered=" << g["dead_lettered"] << " redelivered=" << g["redelivered"] << '\n';
  }
  return kExitOk;
}

int RunLag(const AdminFlags& flags) {
  Fetched f = FetchAdmin("lag", flags);
  if (f.exit_code != kExitOk) return f.exit_code;
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& g : GroupRows(f.admin)) {
    if (!flags.group || g["name"] == *flags.group) rows.push_back(g);
  }
  if (flags.group && rows.empty()) {
    return Fail("lag", flags.json, kExitInternal, "the broker has no group \"" + *flags.group + "\"",
                {{"group", *flags.group}});
  }
  nlohmann::json breached = nlohmann::json::array();
  for (const auto& g : rows) {
    if (flags.max_lag && g["consumer_lag"].get<uint64_t>() > *flags.max_lag) breached.push_back(g["name"]);
  }
  const int code = breached.empty() ? kExitOk : kExitHandledCorruption;  // spec 1.3: a --max-lag breach is 3
  if (flags.json) {
    nlohmann::json out = {{"schema", "ironbus.cli.lag.v1"},
                          {"source", flags.addr},
                          {"head_offset", f.admin["log"].value("head_offset", uint64_t{0})},
                          {"max_lag", flags.max_lag ? nlohmann::json(*flags.max_lag) : nlohmann::json(nullptr)},
                          {"groups", rows},
                          {"breached", breached},
                          {"ok", code == kExitOk},
                          {"exit_code", code}};
    if (code != kExitOk) out["error"] = {{"kind", std::string(ExitKind(code))}, {"message", "lag over --max-lag"}};
    PrintJsonLine(out);
  } else {
    for (const auto& g : rows) {
      std::cout << GroupLabel(g["name"]) << ": lag=" << g["consumer_lag"] << " committed=" << g["committed_offset"]
                << " in_flight=" << g["in_flight"] << '\n';
    }
  }
  if (code != kExitOk) {
    std::cerr << "error: lag over --max-lag " << *flags.max_lag << " for " << breached.size() << " group(s)\n";
  }
  return code;
}

CLI::App* AddCommon(CLI::App* cmd, AdminFlags* flags, const char* schema) {
  cmd->add_option("--admin-addr,--health-addr", flags->addr,
                  "The broker's health address, host:port (serve --health-addr ... --enable-admin)")
      ->required();
  cmd->add_flag("--json", flags->json, std::string("One ") + schema + " object");
  cmd->add_option("--token-file", flags->token_file,
                  "Admin bearer token (a broker with --auth-config serves /admin to the admin scope only)");
  return cmd;
}

void AddLagFlags(CLI::App* cmd, AdminFlags* flags) {
  cmd->add_option("--group", flags->group, "Only this group (\"\" = the default group; default: every group)");
  cmd->add_option("--max-lag", flags->max_lag, "Exit 3 when a shown group's lag (records) is above this");
}

}  // namespace

void RegisterAdminViews(CLI::App& app, int* exit_code) {
  auto info = std::make_shared<AdminFlags>();
  auto* info_cmd = AddCommon(app.add_subcommand("info", "Log head, segments, bytes, durability, writer state, last recovery (from /admin)"),
                             info.get(), "ironbus.cli.info.v1");
  info_cmd->callback([info, exit_code] { *exit_code = RunInfo(*info); });

  auto lag = std::make_shared<AdminFlags>();
  auto* lag_cmd = AddCommon(app.add_subcommand("lag", "Per-group lag from /admin; --max-lag breach is exit 3"), lag.get(),
                            "ironbus.cli.lag.v1");
  AddLagFlags(lag_cmd, lag.get());
  lag_cmd->callback([lag, exit_code] { *exit_code = RunLag(*lag); });

  auto* consumer = app.add_subcommand("consumer", "Consumer groups of a running broker (from /admin)");
  consumer->require_subcommand(1, 1);
  auto ls = std::make_shared<AdminFlags>();
  auto* ls_cmd = AddCommon(consumer->add_subcommand("ls", "One row per group: mode, committed, lag, in-flight, members"),
                           ls.get(), "ironbus.cli.consumer-ls.v1");
  ls_cmd->callback([ls, exit_code] { *exit_code = RunConsumerLs(*ls); });
  auto clag = std::make_shared<AdminFlags>();
  auto* clag_cmd = AddCommon(consumer->add_subcommand("lag", "Same as `ironbus lag`"), clag.get(), "ironbus.cli.lag.v1");
  AddLagFlags(clag_cmd, clag.get());
  clag_cmd->callback([clag, exit_code] { *exit_code = RunLag(*clag); });
}

}  // namespace ironbus::cli
