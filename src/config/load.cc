// Load(): the five layers of spec/cli-config-ops.md 5.1, in order. Every layer goes through the
// same typed setters, so a bad value names its source the same way whichever layer gave it:
// `--max-deliver`, `IRONBUS_MAX_DELIVER`, or `<file>:<line>:<col>: config key `delivery.max_deliver``.
// Errors are collected (all unknown keys together, spec 5.3), never thrown.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "base/toml_hazard.h"
#include "config/config.h"
#include "config/value_parse.h"

#define TOML_HEADER_ONLY 1
#define TOML_EXCEPTIONS 0
#include <toml++/toml.h>

extern char** environ;

namespace ironbus::config {
namespace {

constexpr std::string_view kSections[] = {"storage", "durability", "retention", "backpressure", "delivery", "network", "auth"};
constexpr std::string_view kReservedSections[] = {"observability", "compression"};

std::string Where(const toml::node& node, const std::string& path) {
  const auto& src = node.source();
  return path + ":" + std::to_string(src.begin.line) + ":" + std::to_string(src.begin.column);
}

std::string TypeName(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::array: return "an array";
    case toml::node_type::table: return "a table";
    default: return "a date/time";
  }
}

// The did-you-mean of an unknown key: the nearest known file key by edit distance.
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string DidYouMean(std::string_view key) {
  std::string best;
  size_t best_d = SIZE_MAX;
  auto consider = [&](std::string_view k) {
    const size_t d = EditDistance(key, k);
    if (d < best_d) best_d = d, best = std::string(k);
  };
  consider("profile");
  for (const KeySpec& k : Keys()) {
    if (!k.file_key.empty()) consider(k.file_key);
  }
  // Also try the section-less name: `max_deliver` at top level -> delivery.max_deliver.
  const size_t dot = key.rfind('.');
  const std::string_view leaf = dot == std::string_view::npos ? key : key.substr(dot + 1);
  for (const KeySpec& k : Keys()) {
    if (k.file_key.empty()) continue;
    const std::string_view kl = k.file_key.substr(k.file_key.rfind('.') + 1);
    if (kl == leaf && best_d > 0) best = std::string(k.file_key), best_d = 1;
  }
  if (best_d > std::max<size_t>(3, key.size() / 3)) {
    return " (hint: no similar key; the accepted keys are listed in docs/config.md)";
  }
  return " (hint: did you mean `" + best + "`?)";
}

// A TOML value -> the text the env layer would carry, so one parser serves every layer.
// Units ("64MiB", "30s") are resolved here: they are legal only in the file (spec 5.3).
bool FileValueToText(const toml::node& node, const KeySpec& k, std::string* text, std::string* why) {
  switch (k.kind) {
    case Kind::kBytes:
    case Kind::kMillis:
    case Kind::kCount: {
      if (node.is_integer()) {
        const int64_t v = node.as_integer()->get();
        if (v < 0) {
          *why = "must not be negative, got " + std::to_string(v);
          return false;
        }
        *text = std::to_string(v);
        return true;
      }
      if (node.is_string() && k.kind != Kind::kCount) {
        auto v = ParseWithUnit(node.as_string()->get(), k.kind, why);
        if (!v) return false;
        *text = std::to_string(*v);
        return true;
      }
      *why = std::string("expected ") + ExpectedText(k.kind) + ", got " + TypeName(node);
      return false;
    }
    case Kind::kBool:
      if (!node.is_boolean()) {
        *why = "expected a boolean (true or false), got " + TypeName(node);
        return false;
      }
      *text = node.as_boolean()->get() ? "true" : "false";
      return true;
    case Kind::kEnum:
    case Kind::kString:
      if (!node.is_string()) {
        *why = "expected a string" + (k.kind == Kind::kEnum ? " (" + std::string(k.choices) + ")" : "") + ", got " +
               TypeName(node);
        return false;
      }
      *text = node.as_string()->get();
      return true;
    case Kind::kU64List: {
      const toml::array* a = node.as_array();
      if (a == nullptr) {
        *why = "expected an integer array such as [100, 500, 2000], got " + TypeName(node);
        return false;
      }
      text->clear();
      for (const toml::node& e : *a) {
        if (!e.is_integer() || e.as_integer()->get() < 0) {
          *why = "expected an array of non-negative integers, found " + TypeName(e);
          return false;
        }
        if (!text->empty()) *text += ",";
        *text += std::to_string(e.as_integer()->get());
      }
      return true;
    }
    case Kind::kStringList:
      break;
  }
  *why = "has no file form";
  return false;
}

struct FileLayer {
  toml::table table;
  bool parsed = false;
};

// Reads and parses the file; errors name the path (and line:column for a parse error). Characters
// toml++ 3.3.0 mishandles are refused first (base/toml_hazard.h); a value (a path, say) must avoid
// them.
FileLayer ReadFile(const std::string& path, Loaded* out) {
  FileLayer layer;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    out->errors.push_back("config file " + path + ": cannot read it: " + std::strerror(errno) +
                          " (hint: check the --config path)");
    return layer;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string content = ss.str();
  if (const std::string hazard = FindTomlParserHazard(content); !hazard.empty()) {
    out->errors.push_back(path + ":" + hazard +
                          " is not accepted in a config file by this build (its TOML parser mishandles it; "
                          "hint: use ASCII, or write a path that contains it through the flag or environment "
                          "variable instead)");
    return layer;
  }
  toml::parse_result result = toml::parse(content, path);
  if (!result) {
    const auto& e = result.error();
    out->errors.push_back(path + ":" + std::to_string(e.source().begin.line) + ":" +
                          std::to_string(e.source().begin.column) + ": not valid TOML: " +
                          std::string(e.description()));
    return layer;
  }
  layer.table = std::move(result).table();
  layer.parsed = true;
  return layer;
}

void SetSource(Loaded* out, const KeySpec& k, std::string source) { out->source_of[std::string(k.name)] = std::move(source); }

// Applies the file layer; returns whether a [retention] key was set (coupled rule of 5.5).
bool ApplyFile(const FileLayer& file, const Inputs& in, Loaded* out) {
  bool set_retention = false;
  std::vector<std::string> unknown;
  for (const auto& [name, node] : file.table) {
    const std::string section(name.str());
    if (section == "profile") continue;  // resolved by the profile chain
    if (std::find(std::begin(kReservedSections), std::end(kReservedSections), section) !=
        std::end(kReservedSections)) {
      if (node.is_table() && !node.as_table()->empty()) {
        out->warnings.push_back(Where(node, in.config_path) + ": section [" + section +
                                "] is reserved: its keys are accepted and ignored by this build");
      }
      continue;
    }
    const bool known = std::find(std::begin(kSections), std::end(kSections), section) != std::end(kSections);
    if (!known || !node.is_table()) {
      unknown.push_back(Where(node, in.config_path) + ": unknown config key `" + section + "`" +
                        (known ? " (hint: [" + section + "] must be a table)" : DidYouMean(section)));
      continue;
    }
    // One key of the file; [network.tls] is the one nested table (spec/security.md 1.1).
    auto apply = [&](const std::string& key, const toml::node& value) {
      const KeySpec* k = FindByFileKey(key);
      if (k == nullptr) {
        unknown.push_back(Where(value, in.config_path) + ": unknown config key `" + key + "`" + DidYouMean(key));
        return;
      }
      const std::string who = Where(value, in.config_path) + ": config key `" + key + "`";
      std::string text, why;
      if (!FileValueToText(value, *k, &text, &why)) {
        out->errors.push_back(who + ": " + why + Hint(k->kind));
        return;
      }
      if (std::string err = SetFromText(&out->config, *k, text, who); !err.empty()) {
        out->errors.push_back(err);
        return;
      }
      SetSource(out, *k, "file " + Where(value, in.config_path));
      if (section == "retention") set_retention = true;
    };
    for (const auto& [leaf, value] : *node.as_table()) {
      const std::string key = section + "." + std::string(leaf.str());
      if (key == "network.tls" && value.is_table()) {
        for (const auto& [tls_leaf, tls_value] : *value.as_table()) apply(key + "." + std::string(tls_leaf.str()), tls_value);
        continue;
      }
      apply(key, value);
    }
  }
  for (std::string& u : unknown) {
    if (in.allow_unknown_config) {
      out->warnings.push_back("ignoring " + u + " (--allow-unknown-config)");
    } else {
      out->errors.push_back(std::move(u));
    }
  }
  return set_retention;
}

}  // namespace

std::map<std::string, std::string> EnvFromProcess() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view kv(*e);
    if (kv.substr(0, 8) != "IRONBUS_") continue;
    const size_t eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
  }
  return env;
}

Loaded Load(const Inputs& in) {
  Loaded out;
  for (const KeySpec& k : Keys()) SetSource(&out, k, "default");

  FileLayer file;
  if (!in.config_path.empty()) file = ReadFile(in.config_path, &out);
  if (!out.errors.empty()) return out;  // nothing below is meaningful without the file

  // The profile is chosen by the same chain: flag > env > file `profile` > balanced (spec 5.1).
  std::string profile = "balanced", profile_source = "default";
  if (file.parsed) {
    if (const toml::node* p = file.table.get("profile")) {
      if (!p->is_string()) {
        out.errors.push_back(Where(*p, in.config_path) + ": config key `profile`: expected a string (" +
                             "edge-tiny, balanced or throughput), got " + TypeName(*p));
      } else {
        profile = p->as_string()->get();
        profile_source = Where(*p, in.config_path) + ": config key `profile`";
      }
    }
  }
  if (auto it = in.env.find("IRONBUS_PROFILE"); it != in.env.end()) profile = it->second, profile_source = it->first;
  for (const auto& [flag, text] : in.flags) {
    if (flag == "--profile") profile = text, profile_source = flag;
  }
  const Profile* preset = FindProfile(profile);
  if (preset == nullptr) {
    out.errors.push_back(profile_source + ": unknown profile \"" + profile +
                         "\" (hint: edge-tiny, balanced or throughput)");
    return out;
  }
  ApplyProfile(*preset, &out.config);
  for (std::string_view name : {"max_segment_bytes", "consumer_credit", "consumer_credit_bytes", "max_connections",
                                "max_groups", "max_in_flight", "disk_full_policy", "checkpoint_interval",
                                "visibility_timeout_ms", "max_deliver", "ram_ceiling_bytes"}) {
    out.source_of[std::string(name)] = "profile " + profile;
  }

  bool file_set_retention = false;
  if (file.parsed) file_set_retention = ApplyFile(file, in, &out);

  for (const KeySpec& k : Keys()) {
    if (k.env.empty()) continue;
    auto it = in.env.find(std::string(k.env));
    if (it == in.env.end()) continue;
    if (std::string err = SetFromText(&out.config, k, it->second, std::string(k.env)); !err.empty()) {
      out.errors.push_back(err);
    } else {
      SetSource(&out, k, "env " + std::string(k.env));
    }
  }

  std::map<const KeySpec*, bool> list_seen;
  for (const auto& [flag, text] : in.flags) {
    if (flag == "--profile") continue;
    const KeySpec* k = FindByFlag(flag);
    if (k == nullptr) {
      out.errors.push_back("unknown flag " + flag);
      continue;
    }
    if (k->kind == Kind::kStringList && !list_seen[k]) {
      (out.config.*std::get<std::vector<std::string> Config::*>(k->field)).clear();
      list_seen[k] = true;
    }
    if (std::string err = SetFromText(&out.config, *k, text, flag); !err.empty()) {
      out.errors.push_back(err);
    } else {
      SetSource(&out, *k, "flag " + flag);
    }
  }
  if (!out.errors.empty()) return out;
  Validate(&out, file_set_retention);
  return out;
}

}  // namespace ironbus::config
