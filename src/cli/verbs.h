// Each verb registers its flags on the CLI11 app and runs through a callback that stores the
// verb's exit code. One file per verb (serve.cc, peek_dump.cc, scrub_repair.cc, pub.cc, sub.cc,
// cumulative_ack.cc).
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "base/status.h"
#include "protocol/messages.h"

namespace ironbus::cli {

// `*exit_code` receives the verb's result when its callback runs.
void RegisterServe(CLI::App& app, int* exit_code);
void RegisterConfigCheck(CLI::App& app, int* exit_code);  // config_check.cc
void RegisterPeekAndDump(CLI::App& app, int* exit_code);
void RegisterScrubVerifyRepair(CLI::App& app, int* exit_code);
void RegisterPub(CLI::App& app, int* exit_code);
void RegisterSub(CLI::App& app, int* exit_code);
void RegisterCumulativeAck(CLI::App& app, int* exit_code);
void RegisterBench(CLI::App& app, int* exit_code);  // bench.cc
// info, lag, consumer ls|lag: read the broker's /admin JSON (admin_verbs.cc, http_get.h).
void RegisterAdminViews(CLI::App& app, int* exit_code);
// top: read-only live view of /admin + /metrics, or offline view of a data dir (top.cc).
void RegisterTop(CLI::App& app, int* exit_code);
// server passwd: print an Argon2id PHC string for the identity table (passwd.cc).
void RegisterServerPasswd(CLI::App& app, int* exit_code);

// How an online verb (sub, cumulative-ack) reports a failed client call (spec 1.3):
// Unavailable -> 5, InvalidArgument (a malformed --addr) -> 1, anything else -> 70; a broker
// Err (FailedPrecondition) puts `broker_error`'s code and text in the --json error.detail.
struct OnlineFailure {
  int exit_code = 70;
  nlohmann::json detail;
};
OnlineFailure DescribeOnlineFailure(const Status& status, const protocol::Err& broker_error);

}  // namespace ironbus::cli
