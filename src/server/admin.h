// The read-only /admin JSON of `serve --health-addr --enable-admin` (spec/cli-config-ops.md 6.3;
// docs/metrics.md "/admin"). Built only from a MetricsSnapshot, so it reads the same counters
// as /metrics and never walks the log or the disk.
//
// Body v1 (schema_version 1): "log" (head_offset = durable head, first_offset, durable_offset,
// readable_offset, segments, records, bytes, durability, frozen, frozen_reason), the spec's
// "broker", "segments" and "resilience" objects, "recovery" (this start's loss report totals),
// "consumers" (one object per group: name, mode, committed_offset, consumer_lag = head -
// committed, in_flight, members, delivered, redelivered, acks, dead_lettered) and "groups" (a
// copy of "consumers", spec 6.3), "groups_complete", "dlq".
//
// AdminAcceptable: a request without an IronBus admin media type in Accept, or with
// application/vnd.ironbus.admin.v1+json, gets v1; another explicit version is 406.
//
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "server/metrics.h"

namespace ironbus::server {

inline constexpr int kAdminSchemaVersion = 1;
inline constexpr std::string_view kAdminMediaTypeV1 = "application/vnd.ironbus.admin.v1+json";

nlohmann::json AdminJson(const MetricsSnapshot& snapshot);
std::string RenderAdmin(const MetricsSnapshot& snapshot);  // AdminJson, dumped, newline-terminated
// `head` is the whole request head; false = answer 406.
bool AdminAcceptable(std::string_view head);

}  // namespace ironbus::server
