// `config check` (issue 4, spec/cli-config-ops.md 5): resolves the configuration exactly as
// `serve` would (defaults < profile < --config file < IRONBUS_* env < --profile), validates it
// as a whole, RAM guard included, and prints the effective config: one `key = value  # source`
// line per knob, or with --json one ironbus.cli.config-check.v1 object. Exit 0 when `serve`
// would accept it, 1 with every error on stderr otherwise (no JSON on exit 1, spec 1.4).
#include <iostream>
#include <memory>

#include "cli/data_dir.h"
#include "cli/exit_codes.h"
#include "cli/output.h"
#include "cli/verbs.h"
#include "config/config.h"

namespace ironbus::cli {
namespace {

struct ConfigCheckArgs {
  std::string config_path;
  std::string profile;
  bool allow_unknown_config = false;
  bool json = false;
};

int RunConfigCheck(const ConfigCheckArgs& args) {
  config::Inputs inputs;
  inputs.config_path = args.config_path;
  inputs.allow_unknown_config = args.allow_unknown_config;
  inputs.env = config::EnvFromProcess();
  if (!args.profile.empty()) inputs.flags.emplace_back("--profile", args.profile);
  config::Loaded loaded = config::Load(inputs);
  for (const std::string& w : loaded.warnings) std::cerr << "WARN: " << w << '\n';
  if (!loaded.ok()) {
    for (const std::string& e : loaded.errors) std::cerr << "error: " << e << '\n';
    return kExitUsage;
  }
  config::Config& c = loaded.config;
  if (c.data_dir.empty()) c.data_dir = DefaultDataDir();  // what serve would use (DESIGN.md D4)
  const config::RamEstimate ram = config::EstimateRam(c);
  if (args.json) {
    nlohmann::json sources = nlohmann::json::object();
    for (const auto& [name, source] : loaded.source_of) sources[name] = source;
    PrintJsonLine({{"schema", "ironbus.cli.config-check.v1"},
                   {"ok", true},
                   {"exit_code", 0},
                   {"config_file", args.config_path.empty() ? nlohmann::json(nullptr) : nlohmann::json(args.config_path)},
                   {"config", nlohmann::json::parse(config::ToJson(c))},
                   {"sources", sources},
                   {"warnings", loaded.warnings},
                   {"ram", {{"worst_case_bytes", ram.worst_case},
                            {"ceiling_bytes", ram.ceiling},
                            {"connections_credit_bytes", ram.term1},
                            {"leases_bytes", ram.term3},
                            {"fixed_and_stacks_bytes", ram.term5}}},
                   {"materialized", config::MaterializedLine(c)}});
    return kExitOk;
  }
  std::cout << "config ok: " << (args.config_path.empty() ? std::string("no config file") : args.config_path)
            << ", profile " << c.profile << " (profile_schema_version " << config::kProfileSchemaVersion << ")\n";
  for (const config::KeySpec& k : config::Keys()) {
    const std::string key(k.file_key.empty() ? k.flag : k.file_key);
    std::cout << key << " = " << (k.secret ? "***" : config::ValueText(c, k)) << "  # "
              << loaded.source_of.at(std::string(k.name)) << '\n';
  }
  std::cout << "ram worst case " << ram.worst_case << " bytes, ceiling "
            << (ram.ceiling == 0 ? std::string("off") : std::to_string(ram.ceiling) + " bytes") << '\n';
  return kExitOk;
}

}  // namespace

void RegisterConfigCheck(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<ConfigCheckArgs>();
  auto* config = app.add_subcommand("config", "Configuration tools");
  config->require_subcommand(1, 1);
  auto* check = config->add_subcommand("check", "Validate a config and print the effective configuration");
  check->add_option("--config", args->config_path, "TOML config file");
  check->add_option("--profile", args->profile, "edge-tiny, balanced or throughput (as serve --profile)");
  check->add_flag("--allow-unknown-config", args->allow_unknown_config, "Unknown keys are warnings");
  check->add_flag("--json", args->json, "Print ironbus.cli.config-check.v1");
  check->callback([args, exit_code] { *exit_code = RunConfigCheck(*args); });
}

}  // namespace ironbus::cli
