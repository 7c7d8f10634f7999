// The printed forms of a Config: the materialized-config line of spec 2.2, the JSON dump of
// `config check --json`, and the per-key diff a SIGHUP reload reports (spec 5.6).
#include <cstdio>

#include "config/config.h"

namespace ironbus::config {
namespace {

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

// A key's value as text (json = false: lists comma-joined, strings bare) or as JSON.
std::string Render(const Config& c, const KeySpec& k, bool json) {
  return std::visit(
      [&](auto member) -> std::string {
        const auto& v = c.*member;
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, uint64_t>) {
          return std::to_string(v);
        } else if constexpr (std::is_same_v<T, bool>) {
          return v ? "true" : "false";
        } else if constexpr (std::is_same_v<T, std::string>) {
          return json ? JsonString(v) : v;
        } else {
          std::string out;
          for (const auto& e : v) {
            if (!out.empty()) out += ',';
            if constexpr (std::is_same_v<std::decay_t<decltype(e)>, uint64_t>) {
              out += std::to_string(e);
            } else {
              out += json ? JsonString(e) : e;
            }
          }
          return json ? "[" + out + "]" : out;
        }
      },
      k.field);
}

}  // namespace

std::string ValueText(const Config& c, const KeySpec& k) { return Render(c, k, false); }

std::string MaterializedLine(const Config& c) {
  std::string out = "materialized-config profile=" + c.profile +
                    " profile_schema_version=" + std::to_string(kProfileSchemaVersion);
  for (const KeySpec& k : Keys()) {
    if (k.name == "storage") continue;  // printed last, as scripts expect (spec 2.2)
    std::string v = ValueText(c, k);
    if (k.secret) v = "***";
    if (v.empty() || v.find(' ') != std::string::npos) v = "\"" + v + "\"";
    out += " " + std::string(k.name) + "=" + v;
  }
  out += " power_loss_safe=" + std::string(c.durability_level == "sync" ? "true" : "false");
  out += " storage=" + c.storage;
  return out;
}

std::string ToJson(const Config& c) {
  std::string out = "{\"profile\":" + JsonString(c.profile) +
                    ",\"profile_schema_version\":" + std::to_string(kProfileSchemaVersion);
  for (const KeySpec& k : Keys()) {
    out += "," + JsonString(k.name) + ":";
    if (k.secret) {
      out += "\"***\"";
      continue;
    }
    out += Render(c, k, true);
  }
  out += ",\"power_loss_safe\":" + std::string(c.durability_level == "sync" ? "true" : "false");
  return out + "}";
}

std::vector<Change> Diff(const Config& running, const Config& next) {
  std::vector<Change> changes;
  if (running.profile != next.profile) {
    static const KeySpec kProfileKey{"profile", "profile", "--profile", "", "IRONBUS_PROFILE", Kind::kEnum,
                                     Reload::kCold, "edge-tiny|balanced|throughput", "Profile",
                                     &Config::profile};
    changes.push_back({&kProfileKey, running.profile, next.profile});
  }
  for (const KeySpec& k : Keys()) {
    std::string a = ValueText(running, k), b = ValueText(next, k);
    if (a != b) changes.push_back({&k, std::move(a), std::move(b)});
  }
  return changes;
}

}  // namespace ironbus::config
